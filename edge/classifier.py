"""The letter classifier the daemon runs: one INT8 (or float) .tflite in LiteRT, batch 1.

Built once at start: checksum check, tensor shapes, quantisation parameters and all buffers, so
`predict` allocates nothing per call. Quantisation uses the model's own tensor parameters, so a
retrained model with other scales needs no code change.

An .onnx file (`sign2sound export` writes the float model as letters.onnx) runs in ONNX Runtime
instead, through the same class: `runtime_for` is the one place that picks the runtime, by the
file's suffix, so a user can compare the two runtimes on their own Pi.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge import nativelog
from edge.modelfiles import ModelError, verify_sha256

__all__ = ["LetterClassifier", "ModelError", "Runtime", "runtime_for"]

_TFLITE_MAGIC = b"TFL3"
ONNX_SUFFIX = ".onnx"


def _litert() -> tuple[type, str]:
    """LiteRT's Interpreter; the legacy tflite_runtime only as a fallback (see DESIGN.md)."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        return Interpreter, "ai-edge-litert"
    except ImportError:
        try:
            from tflite_runtime.interpreter import Interpreter  # type: ignore[no-redef]

            return Interpreter, "tflite-runtime"
        except ImportError as exc:
            raise ModelError(
                "no TFLite interpreter: install ai-edge-litert (pip install ai-edge-litert)"
            ) from exc


@dataclass(frozen=True)
class Runtime:
    """What runs a model file: `interpreter_class(model_path=, num_threads=)` and its names."""

    interpreter_class: type
    package: str  # 'ai-edge-litert', 'tflite-runtime' or 'onnxruntime'
    label: str  # for messages: 'LiteRT' or 'ONNX Runtime'


def runtime_for(model_path: Path | str) -> Runtime:
    """The runtime of a model file, by its suffix: .onnx in ONNX Runtime, anything else in LiteRT
    (the default), after checking it is a TFLite flatbuffer at all."""
    path = Path(model_path)
    if path.suffix.lower() == ONNX_SUFFIX:
        from edge.onnx_interpreter import RUNTIME, OnnxInterpreter, import_onnxruntime

        import_onnxruntime()  # a missing extra is a one-line error here, before any timing
        return Runtime(OnnxInterpreter, RUNTIME, "ONNX Runtime")
    with path.open("rb") as fh:
        head = fh.read(8)
    if len(head) < 8 or head[4:8] != _TFLITE_MAGIC:
        raise ModelError(
            f"{path}: not a TFLite model (truncated or wrong file; {path.stat().st_size} bytes)"
        )
    interpreter_class, package = _litert()
    return Runtime(interpreter_class, package, "LiteRT")


def read_labels(labels_path: Path) -> list[str]:
    """One label per line, in the model's output order."""
    labels_path = Path(labels_path)
    try:
        text = labels_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelError(f"{labels_path}: cannot read labels: {exc.strerror or exc}") from exc
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise ModelError(f"{labels_path}: no labels in file")
    if len(set(labels)) != len(labels):
        raise ModelError(f"{labels_path}: duplicate labels")
    return labels


class LetterClassifier:
    """`predict(window (steps, channels) float32) -> probabilities (n_labels,) float32`."""

    def __init__(
        self,
        model_path: Path | str,
        labels_path: Path | str,
        checksums_path: Path | str | None,
        threads: int = 1,
    ):
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: model file not found")
        if checksums_path is not None:
            self.sha256 = verify_sha256(self.model_path, Path(checksums_path))
            verify_sha256(Path(labels_path), Path(checksums_path))  # a reordered list misspells
        self.labels = read_labels(Path(labels_path))
        self.runtime = runtime_for(self.model_path)
        try:
            with nativelog.captured(self.runtime.label):  # its INFO lines to the log at DEBUG
                self._interp = self.runtime.interpreter_class(
                    model_path=str(self.model_path), num_threads=threads
                )
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(
                f"{self.model_path}: {self.runtime.label} cannot load the model: {exc}"
            ) from exc

        inp = self._interp.get_input_details()
        outp = self._interp.get_output_details()
        if len(inp) != 1 or len(outp) != 1:
            raise ModelError(
                f"{self.model_path}: expected 1 input and 1 output tensor, "
                f"got {len(inp)} and {len(outp)}"
            )
        inp, outp = inp[0], outp[0]
        shape = tuple(int(v) for v in inp["shape"])
        if len(shape) != 3 or shape[0] != 1:
            raise ModelError(
                f"{self.model_path}: input shape {shape}, expected (1, steps, channels)"
            )
        self.steps, self.channels = shape[1], shape[2]
        n_out = int(np.prod(outp["shape"]))
        if n_out != len(self.labels):
            raise ModelError(
                f"{self.model_path}: the model has {n_out} outputs but {labels_path} lists "
                f"{len(self.labels)} labels"
            )
        self._in_index, self._out_index = inp["index"], outp["index"]
        self.input_dtype = np.dtype(inp["dtype"])
        self.output_dtype = np.dtype(outp["dtype"])
        self._in_scale, self._in_zero = _quant(inp)
        self._out_scale, self._out_zero = _quant(outp)
        self._in_buf = np.zeros(shape, self.input_dtype)
        self._scratch = np.zeros((self.steps, self.channels), np.float32)
        self._probs = np.zeros(len(self.labels), np.float32)
        if self.input_dtype.kind == "i":
            info = np.iinfo(self.input_dtype)
            self._in_lo, self._in_hi = float(info.min), float(info.max)
        self.last_invoke_s = 0.0

    @property
    def quantized(self) -> bool:
        return self.input_dtype.kind == "i"

    def predict(self, window: np.ndarray, *, timing: bool = False) -> np.ndarray:
        """Probabilities over `labels` for one (steps, channels) window.

        The returned array is reused by the next call (copy it to keep it). With timing=True
        the invoke time in seconds is kept in `last_invoke_s`.
        """
        if window.shape != (self.steps, self.channels):
            raise ModelError(
                f"{self.model_path}: window shape {window.shape}, expected "
                f"({self.steps}, {self.channels})"
            )
        if self._in_scale:
            # q = round(x / scale) + zero_point, clipped to the int range (no new arrays)
            np.divide(window, self._in_scale, out=self._scratch)
            np.add(self._scratch, self._in_zero, out=self._scratch)
            np.rint(self._scratch, out=self._scratch)
            np.clip(self._scratch, self._in_lo, self._in_hi, out=self._scratch)
            self._in_buf[0] = self._scratch
        else:
            self._in_buf[0] = window
        self._interp.set_tensor(self._in_index, self._in_buf)
        t0 = time.perf_counter() if timing else 0.0
        self._interp.invoke()
        if timing:
            self.last_invoke_s = time.perf_counter() - t0
        raw = self._interp.get_tensor(self._out_index)[0]
        if self._out_scale:
            self._probs[:] = raw  # widen to float first: int8 - zero_point overflows int8
            self._probs -= self._out_zero
            self._probs *= self._out_scale
        else:
            self._probs[:] = raw
        return self._probs

    def predict_batch(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities (n, n_labels) for many windows (evaluation; copies each result)."""
        out = np.empty((len(windows), len(self.labels)), np.float32)
        for i, w in enumerate(windows):
            out[i] = self.predict(np.asarray(w, np.float32))
        return out


def _quant(detail: dict) -> tuple[float, int]:
    """(scale, zero_point) of a quantised tensor, (0.0, 0) for a float one."""
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.dtype(detail["dtype"]).kind != "i" or not scale:
        return 0.0, 0
    return float(scale), int(zero)

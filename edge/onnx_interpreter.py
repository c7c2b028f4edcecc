"""An .onnx model in ONNX Runtime behind the subset of LiteRT's Interpreter API the project uses.

So the classifier and `edge-bench model` keep one code path for both runtimes: the same tensor
details, `set_tensor` / `invoke` / `get_tensor`, and the same shape and label checks. ONNX Runtime
is optional (the `onnx` extra); the daemon runs LiteRT unless its model is an .onnx file.

Inputs and outputs are bound once to preallocated numpy buffers (ONNX Runtime's IOBinding over
OrtValues that share their memory), so `invoke` allocates nothing and times only the run, as
LiteRT's `invoke` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.modelfiles import ModelError

RUNTIME = "onnxruntime"

# ONNX Runtime's type strings for the dtypes a classifier can have
_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8,
    "tensor(int16)": np.int16,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}


def import_onnxruntime():
    """The onnxruntime module, or a one-line ModelError saying how to install it."""
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelError(
            "ONNX Runtime is not installed: .onnx models need the 'onnx' extra "
            "(pip install onnxruntime, or .ci/setup --dev)"
        ) from exc
    return onnxruntime


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _detail(path: Path, index: int, arg: Any) -> dict[str, Any]:
    """LiteRT-style tensor details; a symbolic dimension (e.g. a free batch) counts as 1."""
    dtype = _DTYPES.get(arg.type)
    if dtype is None:
        raise ModelError(f"{path}: tensor '{arg.name}' is {arg.type}, which no classifier input is")
    signature = [d if isinstance(d, int) and d > 0 else -1 for d in arg.shape]
    return {
        "name": arg.name,
        "index": index,
        "shape": np.array([d if d > 0 else 1 for d in signature], np.int32),
        "shape_signature": np.array(signature, np.int32),
        "dtype": dtype,
        "quantization": (0.0, 0),  # float I/O: tf2onnx exports the float model
    }


class OnnxInterpreter:
    """`OnnxInterpreter(model_path=..., num_threads=...)`, used like LiteRT's Interpreter."""

    def __init__(self, model_path: str | Path, num_threads: int = 1):
        ort = import_onnxruntime()
        path = Path(model_path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, int(num_threads))
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: its warnings are not the user's to act on
        try:
            self._session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own classes, all Exception subclasses
            raise ModelError(
                f"{path}: not an ONNX model ONNX Runtime can load ({_first_line(exc)})"
            ) from exc
        args = [*self._session.get_inputs(), *self._session.get_outputs()]
        details = [_detail(path, i, arg) for i, arg in enumerate(args)]
        n_in = len(self._session.get_inputs())
        self._inputs, self._outputs = details[:n_in], details[n_in:]
        self._buffers: dict[int, np.ndarray] = {}
        self._binding = None

    def allocate_tensors(self) -> None:
        """Bind every input and output to a preallocated buffer (once; later calls are no-ops)."""
        if self._binding is not None:
            return
        ort = import_onnxruntime()
        binding = self._session.io_binding()
        for detail in (*self._inputs, *self._outputs):
            buf = np.zeros(tuple(int(d) for d in detail["shape"]), detail["dtype"])
            self._buffers[detail["index"]] = buf
            value = ort.OrtValue.ortvalue_from_numpy(buf)  # shares buf's memory on the CPU
            if detail["index"] < len(self._inputs):
                binding.bind_ortvalue_input(detail["name"], value)
            else:
                binding.bind_ortvalue_output(detail["name"], value)
        self._binding = binding

    def get_input_details(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self._inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [dict(d) for d in self._outputs]

    def set_tensor(self, index: int, value: np.ndarray) -> None:
        """Copy `value` into the input's bound buffer (shape and dtype must match, as in LiteRT)."""
        buf = self._buffer(index)
        if value.shape != buf.shape:
            raise ValueError(f"input {index}: shape {value.shape}, expected {buf.shape}")
        np.copyto(buf, value, casting="same_kind")

    def invoke(self) -> None:
        self._buffer(0)  # raises when allocate_tensors() was not called
        self._session.run_with_iobinding(self._binding)

    def get_tensor(self, index: int) -> np.ndarray:
        """The tensor's buffer itself: the next invoke overwrites it (copy it to keep it)."""
        return self._buffer(index)

    def _buffer(self, index: int) -> np.ndarray:
        if self._binding is None:
            raise RuntimeError("call allocate_tensors() before setting, invoking or reading")
        return self._buffers[index]

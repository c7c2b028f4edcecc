"""`edge-bench model`: benchmark classifiers the way TFLite's benchmark_model does.

A .tflite runs in LiteRT, an .onnx in ONNX Runtime (when the `onnx` extra is installed; the
runtime is chosen by `edge.classifier.runtime_for`, as for the daemon), so one run puts the two
runtimes side by side on the same machine: init, RSS, first invoke and steady-state latency.

For each model: file size, init time (load + allocate_tensors), the first invoke, warm-up
invokes (reported, excluded from the steady state), then `runs` steady-state invokes timed one by
one. Only `invoke()` is inside the timed section, like benchmark_model; inputs are written before
it from a small pool of random-but-valid tensors of the model's own shape and dtype (quantised
with the input's own scale and zero point for INT8), so every invoke sees fresh data.

Several models are measured in interleaved rounds (a block of invokes of each model in turn), so
a burst of load on a shared machine hits all of them alike and the ratios stay fair.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from edge import nativelog
from edge.bench.errors import BenchError
from edge.bench.machine import package_versions
from edge.bench.progress import Progress
from edge.bench.stats import LatencyStats, SampleBuffer, summarize_ns
from edge.classifier import Runtime, runtime_for
from edge.modelfiles import ModelError

INPUT_POOL = 16  # distinct random inputs cycled through the runs
ROUND_SIZE = 50  # invokes of one model before the next model's turn


def _rss_mb(proc: psutil.Process) -> float:
    return proc.memory_info().rss / 2**20


def display_names(paths: Sequence[Path]) -> list[str]:
    """File names, or folder/name where two models share a name (runs/gru/letters_float32...)."""
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


def is_reference_gru(model: dict[str, Any]) -> bool:
    """The reference float32 GRU of the speed target: a .tflite with 'gru' in its path, not an
    int8 or dynamic-range export, float32 input."""
    path = model["path"].lower()
    name = Path(path).name
    float_input = all(t["dtype"] == "float32" for t in model["inputs"])
    tflite = name.endswith(".tflite")  # the target is defined on the LiteRT float32 GRU
    return tflite and "gru" in path and "int8" not in name and "dynamic" not in name and float_input


def file_sha256(path: Path) -> str:
    """Which exact model a result belongs to (models are retrained; names stay)."""
    from edge.modelfiles import sha256_of

    return sha256_of(path)


def runtime_of(path: Path) -> Runtime:
    """The model's runtime (edge.classifier.runtime_for), its errors as edge-bench's."""
    try:
        return runtime_for(path)
    except ModelError as exc:
        raise BenchError(str(exc)) from exc


def check_model_file(path: Path) -> None:
    """Fail early with one line naming the file, before any model is loaded."""
    if not path.exists():
        raise BenchError(f"model file not found: {path}")
    if not path.is_file():
        raise BenchError(f"model path is not a file: {path}")
    if not os.access(path, os.R_OK):
        raise BenchError(f"model file is not readable: {path}")


def random_input(detail: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """A valid random tensor for one input: its shape (dynamic dims as 1) and dtype.

    Float inputs get standard-normal values, about the range of normalised landmark features;
    quantised inputs get the same values quantised with the tensor's own scale and zero point.
    """
    shape = [int(d) if d > 0 else 1 for d in detail.get("shape_signature", detail["shape"])]
    dtype = np.dtype(detail["dtype"])
    values = np.clip(rng.standard_normal(shape), -3.0, 3.0)
    if dtype.kind == "f":
        return values.astype(dtype)
    if dtype.kind in "iu":
        scale, zero_point = detail.get("quantization", (0.0, 0))
        info = np.iinfo(dtype)
        if scale:
            q = np.round(values / scale + zero_point)
        else:
            q = rng.integers(info.min, info.max, size=shape, endpoint=True)
        return np.clip(q, info.min, info.max).astype(dtype)
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    raise BenchError(f"input '{detail.get('name')}' has an unsupported dtype {dtype}")


def replay_windows(
    csv_path: Path,
    *,
    steps: int,
    window_s: float,
    max_gap_s: float,
    limit: int = 64,
) -> np.ndarray:
    """Real classifier windows (n, steps, channels) cut from a landmark replay, exactly as the
    daemon makes them (replay source -> FeatureRing -> time-resampled window), evenly spaced over
    the frames with a hand. Used instead of random inputs when a model takes such windows."""
    from edge.ringbuffer import FeatureRing
    from edge.sources import LandmarkReplaySource, SourceError

    source = LandmarkReplaySource(csv_path, realtime=False)
    try:
        source.open()
    except SourceError as exc:
        raise BenchError(str(exc)) from exc
    ring = FeatureRing(FeatureRing.capacity_for(window_s, 60.0))
    windows = []
    while (frame := source.read()) is not None:
        obs = frame.observation
        if obs is not None and ring.push(obs):
            windows.append(ring.window(obs.t, window_s, steps, max_gap_s, "auto").copy())
    source.close()
    if not windows:
        raise BenchError(f"{csv_path}: no frame with a hand to cut windows from")
    pick = np.linspace(0, len(windows) - 1, num=min(limit, len(windows))).round().astype(int)
    return np.stack([windows[i] for i in pick])


def _fit_window(detail: dict[str, Any], window: np.ndarray) -> np.ndarray | None:
    """A real window as this input tensor (shape and dtype, quantised), or None if it does not
    fit (a model with another input layout gets random inputs instead)."""
    shape = [int(d) if d > 0 else 1 for d in detail.get("shape_signature", detail["shape"])]
    if int(np.prod(shape)) != window.size:
        return None
    dtype = np.dtype(detail["dtype"])
    values = window.reshape(shape)
    if dtype.kind == "f":
        return values.astype(dtype)
    if dtype.kind in "iu":
        scale, zero_point = detail.get("quantization", (0.0, 0))
        if not scale:
            return None
        info = np.iinfo(dtype)
        return np.clip(np.round(values / scale + zero_point), info.min, info.max).astype(dtype)
    return None


def _tensor_desc(detail: dict[str, Any]) -> dict[str, Any]:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return {
        "name": str(detail.get("name", "")),
        "shape": [int(d) for d in detail["shape"]],
        "dtype": np.dtype(detail["dtype"]).name,
        "quant_scale": float(scale),
        "quant_zero_point": int(zero_point),
    }


@dataclass
class _Loaded:
    """One model under test, with its preallocated samples."""

    path: Path
    interpreter: Any
    input_indices: list[int]
    pool: list[list[np.ndarray]]
    result: dict[str, Any]
    warmup: SampleBuffer = field(default_factory=SampleBuffer)
    steady: SampleBuffer = field(default_factory=SampleBuffer)
    next_input: int = 0

    def timed_invoke(self) -> int:
        inputs = self.pool[self.next_input]
        self.next_input = (self.next_input + 1) % len(self.pool)
        for index, value in zip(self.input_indices, inputs, strict=True):
            self.interpreter.set_tensor(index, value)
        t0 = time.perf_counter_ns()
        self.interpreter.invoke()
        return time.perf_counter_ns() - t0


def _first_input_steps(path: Path, channels: int) -> int:
    """The number of time steps the first model's window has (20 for the shipped one)."""
    runtime = runtime_of(path)
    try:
        with nativelog.captured(runtime.label):
            detail = runtime.interpreter_class(model_path=str(path)).get_input_details()[0]
    except (ValueError, RuntimeError, IndexError, ModelError) as exc:
        raise BenchError(f"{path}: not a model {runtime.label} can load ({exc})") from exc
    shape = [int(d) for d in detail["shape"]]
    return shape[-2] if len(shape) >= 2 and shape[-1] == channels else 20


def _import_runtimes(paths: Sequence[Path], proc: psutil.Process) -> dict[str, dict[str, Any]]:
    """Import each runtime the models need, once, measuring what the import costs (time, RSS):
    part of what a runtime costs at start, kept apart from each model's own init. A runtime the
    process had already imported shows about 0."""
    imports: dict[str, dict[str, Any]] = {}
    for path in paths:
        rss_before = _rss_mb(proc)
        t0 = time.perf_counter_ns()
        runtime = runtime_of(path)
        elapsed_ns = time.perf_counter_ns() - t0
        if runtime.package not in imports:
            imports[runtime.package] = {
                "version": package_versions((runtime.package,))[runtime.package],
                "import_ms": elapsed_ns / 1e6,
                "rss_added_mb": _rss_mb(proc) - rss_before,
            }
    return imports


def _load(
    path: Path,
    threads: int,
    rng: np.random.Generator,
    proc: psutil.Process,
    windows: np.ndarray | None,
) -> _Loaded:
    runtime = runtime_of(path)
    rss_before = _rss_mb(proc)
    with nativelog.captured(runtime.label):  # outside the timed part: t0 .. init_ns
        t0 = time.perf_counter_ns()
        try:
            interpreter = runtime.interpreter_class(model_path=str(path), num_threads=threads)
            interpreter.allocate_tensors()
        except ModelError as exc:  # ONNX Runtime's, already one line naming the file
            raise BenchError(str(exc)) from exc
        except (ValueError, RuntimeError) as exc:
            first_line = (
                str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            )
            message = f"{path}: not a model {runtime.label} can load ({first_line})"
            raise BenchError(message) from exc
        init_ns = time.perf_counter_ns() - t0
    rss_after = _rss_mb(proc)
    inputs = interpreter.get_input_details()
    outputs = interpreter.get_output_details()
    try:
        ops = [str(op["op_name"]) for op in interpreter._get_ops_details()]
    except Exception:  # private API: optional detail only
        ops = []
    pool = None
    input_kind = "random"
    if windows is not None and len(inputs) == 1:
        fitted = [_fit_window(inputs[0], w) for w in windows]
        if all(f is not None for f in fitted):
            pool = [[f] for f in fitted]
            input_kind = "real windows"
    if pool is None:
        pool = [[random_input(d, rng) for d in inputs] for _ in range(INPUT_POOL)]
    result: dict[str, Any] = {
        "path": str(path),
        "name": path.name,
        "size_bytes": path.stat().st_size,
        "sha256": file_sha256(path),
        "runtime": runtime.package,
        "threads": threads,
        "init_ms": init_ns / 1e6,
        "rss_added_by_init_mb": rss_after - rss_before,
        "inputs": [_tensor_desc(d) for d in inputs],
        "outputs": [_tensor_desc(d) for d in outputs],
        "ops": sorted(set(ops)),
        "input_data": input_kind,
        "input_pool": len(pool),
    }
    return _Loaded(path, interpreter, [int(d["index"]) for d in inputs], pool, result)


def run_model_bench(
    paths: Sequence[Path],
    *,
    threads: int = 1,
    runs: int = 1000,
    warmup: int = 50,
    progress: bool = False,
    seed: int = 0,
    windows_csv: Path | None = None,
) -> dict[str, Any]:
    """Benchmark each model; returns the 'models' part of the report (first model = baseline).

    With `windows_csv` (a landmark replay CSV), models taking one (1, steps, channels) window get
    real windows cut from it; the others, and every model without it, get random valid inputs.
    """
    for path in paths:
        check_model_file(path)
    rng = np.random.default_rng(seed)
    proc = psutil.Process()
    imports = _import_runtimes(paths, proc)
    windows = None
    if windows_csv is not None:
        from edge.config import ClassifierConfig
        from edge.features import WINDOW_CHANNELS

        shipped = ClassifierConfig()  # the window the shipped model is trained on (0.6 s)
        windows = replay_windows(
            windows_csv,
            steps=_first_input_steps(paths[0], WINDOW_CHANNELS),
            window_s=shipped.window_s,
            max_gap_s=shipped.max_gap_s,
        )
    loaded = [_load(path, threads, rng, proc, windows) for path in paths]
    for model, label in zip(loaded, display_names(paths), strict=True):
        model.result["name"] = label

    bar = Progress((warmup + runs) * len(loaded), "model", enabled=progress)
    done = 0
    for model in loaded:
        model.result["first_invoke_us"] = model.timed_invoke() / 1e3
        for _ in range(warmup):
            model.warmup.append(model.timed_invoke())
            done += 1
            bar.update(done, model.path.name)

    remaining = runs
    while remaining > 0:
        block = min(ROUND_SIZE, remaining)
        for model in loaded:
            for _ in range(block):
                model.steady.append(model.timed_invoke())
            done += block
            bar.update(done, model.path.name)
        remaining -= block
    bar.close()

    results = []
    baseline: LatencyStats | None = None
    for model in loaded:
        steady = model.steady.summary()
        warm = summarize_ns(model.warmup.values())
        res = model.result
        res["warmup"] = warm.as_dict() if warm else None
        res["steady"] = steady.as_dict() if steady else None
        res["invokes_per_s"] = steady.per_second if steady else None
        res["rss_after_runs_mb"] = _rss_mb(proc)
        if baseline is None:
            baseline = steady
        ratio = (
            steady.median_us / baseline.median_us
            if steady is not None and baseline is not None and baseline.median_us > 0
            else None
        )
        res["median_ratio_to_first"] = ratio
        res["_samples_ns"] = model.steady.values().copy()
        results.append(res)
    return {
        "settings": {
            "threads": threads,
            "runs": runs,
            "warmup": warmup,
            "inputs": (f"real windows cut from {windows_csv}" if windows_csv else "random")
            + f"; random ones (normal, pool of {INPUT_POOL}) for models that do not take them; "
            "quantised with each input's own scale and zero point",
            "timed_section": "interpreter.invoke() only (inputs set before the clock starts)",
            "interleaved_rounds_of": ROUND_SIZE,
            "seed": seed,
            "runtime_imports": imports,
        },
        "models": results,
    }


SPEEDUP_TARGET = 10.0  # the shipped classifier vs the reference float32 GRU (benchmarks/README.md)


def model_targets(models: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The speed target, checked when the reference float32 GRU (see is_reference_gru) is in the
    run. The first model is the one under test; the ratio is the GRU's median over the first's.
    """
    from edge.bench.report import target

    checks = []
    for model in models[1:]:
        if is_reference_gru(model) and model.get("median_ratio_to_first"):
            check = target(
                f"{models[0]['name']} faster per invoke than {model['name']}",
                model["median_ratio_to_first"],
                ">=",
                SPEEDUP_TARGET,
                "x",
            )
            if check:
                checks.append(check)
    return checks


def model_tables(report: dict[str, Any]) -> list[Any]:
    from edge.bench.report import Table, fmt

    rows = []
    for m in report["models"]:
        s = m["steady"] or {}
        w = m["warmup"] or {}
        ratio = m.get("median_ratio_to_first")
        rows.append(
            [
                m["name"],
                m.get("runtime", "-"),
                fmt(m["size_bytes"] / 1024, 1),
                fmt(m["init_ms"], 2),
                fmt(m.get("rss_added_by_init_mb"), 1),
                fmt(m["first_invoke_us"], 1),
                fmt(w.get("mean_us"), 1),
                fmt(s.get("min_us"), 1),
                fmt(s.get("median_us"), 1),
                fmt(s.get("p90_us"), 1),
                fmt(s.get("p99_us"), 1),
                fmt(s.get("max_us"), 1),
                fmt(m.get("invokes_per_s"), 0),
                "-" if ratio is None else f"{ratio:.2f}x",
                "real" if m.get("input_data") == "real windows" else "random",
            ]
        )
    st = report["settings"]
    notes = [
        f"{st['runs']} steady-state invokes per model after {st['warmup']} warm-up invokes "
        f"(excluded), {st['threads']} thread(s), interleaved in rounds of "
        f"{st['interleaved_rounds_of']}; timed: {st['timed_section']}.",
        "median ÷ first: this model's median latency over the first model's "
        "(12.00x = the first model is 12 times faster).",
        f"inputs: {st['inputs']}.",
        "init MB: RSS added by loading the model (init ms: the load and allocation).",
    ]
    notes += [f"not measured: {why}" for why in report.get("skipped_models") or ()]
    imports = st.get("runtime_imports") or {}
    if imports:
        notes.append(
            "runtime import (once per process, not in init; ~0 when already imported): "
            + ", ".join(
                f"{name} {info.get('version') or '?'} {fmt(info['import_ms'], 1)} ms "
                f"+{fmt(info['rss_added_mb'], 1)} MB"
                for name, info in imports.items()
            )
            + "."
        )
    headers = [
        "model",
        "runtime",
        "KB",
        "init ms",
        "init MB",
        "first µs",
        "warm-up µs",
        "min µs",
        "median µs",
        "p90 µs",
        "p99 µs",
        "max µs",
        "invokes/s",
        "median ÷ first",
        "inputs",
    ]
    return [Table("Per-invoke latency (steady state)", headers, rows, notes)]

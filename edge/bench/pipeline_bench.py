"""`edge-bench pipeline`: the daemon's processing loop, timed stage by stage.

The loop is the daemon's: a CaptureThread feeds frames through its bounded slot (dropping the
oldest for a paced source that the loop cannot keep up with), MediaPipe's HandTracker turns images
into HandObservations (a `replay:` source delivers them directly), and `edge.pipeline.Pipeline`
runs features -> ring -> classifier -> decoder with its own per-stage timings (`timing=True`).
Around that this module adds only clock reads, preallocated sample buffers, and a psutil poll
once per `rss_interval_s`.

A file or replay shorter than `--duration` is played again; each pass is shifted in time by the
length of the previous ones so MediaPipe's VIDEO mode, the ring and the decoder see one monotonic
stream. The first `warmup_frames` frames are excluded from every figure (model and graph caches,
first allocations).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from edge.bench.errors import BenchError, BenchUsageError
from edge.bench.model_bench import file_sha256
from edge.bench.progress import Progress
from edge.bench.resources import ResourceMonitor
from edge.bench.stats import SampleBuffer
from edge.bench.truth import load_truth, match_letters
from edge.sources import REPLAY_PREFIX, is_camera_spec

REPO_ROOT = Path(__file__).resolve().parents[2]
DEMO_VIDEO = REPO_ROOT / "models" / "demo" / "hello.mp4"
DEMO_REPLAY = REPO_ROOT / "models" / "demo" / "hello_landmarks.csv"
WARMUP_FRAMES = 30
CAMERA_FIRST_FRAME_TIMEOUT_S = 10.0
CAMERA_DEFAULT_DURATION_S = 30.0
LETTERS_LISTED = 100  # per-letter delays kept in the JSON (the summary covers all of them)
EVENT_RECORD_BYTES = 120  # a (letter, t, latency) tuple with its two floats, or a word string
OVERHEAD_TARGET_US = 1000.0
RSS_DRIFT_TARGET_MB = 5.0
RSS_DRIFT_MIN_RUN_S = 300.0  # drift over a short run says nothing about a leak

# Stage names in report order. The ring's push normalises the landmarks (edge.features) and
# stores them, so "features" and "ring" are one timed stage; "window" is the time resampling.
STAGES = (
    "capture_wait",
    "landmarks",
    "ring",
    "window",
    "classifier",
    "decoder",
    "overhead",
    "overhead_classified",
    "end_to_end",
)
STAGE_LABELS = {
    "capture_wait": "capture wait",
    "landmarks": "landmarks (MediaPipe)",
    "ring": "features + ring push",
    "window": "window (resample)",
    "classifier": "classifier",
    "decoder": "decoder",
    "overhead": "overhead beside MediaPipe, all frames",
    "overhead_classified": "overhead beside MediaPipe, classified frames",
    "end_to_end": "end-to-end per frame",
}


def pipeline_plot_targets() -> dict[str, float]:
    """The plot's series that have a limit: the per-frame overhead beside MediaPipe, 1 ms."""
    return {STAGE_LABELS[k]: OVERHEAD_TARGET_US for k in ("overhead", "overhead_classified")}


def resolve_source(source: str | None, config: Any, truth: Path | None) -> tuple[str, Path | None]:
    """The source spec for edge.sources.open_source and the truth CSV (if any), or a clear error."""
    if source is None:
        return str(DEMO_VIDEO), truth or DEMO_REPLAY
    if source == "camera":
        spec = config.camera.source
        if not is_camera_spec(spec):  # a replay or a file
            raise BenchUsageError(
                f"--source camera: camera.source of the config is {spec!r}, not a camera; "
                "pass the file with --source FILE"
            )
        return spec, truth
    if source.startswith(REPLAY_PREFIX):
        path = Path(source[len(REPLAY_PREFIX) :].partition("#")[0]).expanduser()
        _check_readable(path, "landmark replay")
        return source, truth or path
    path = Path(source).expanduser()
    _check_readable(path, "source")
    sibling = path.with_name(f"{path.stem}_landmarks.csv")
    return str(path), truth or (sibling if sibling.is_file() else None)


def _check_readable(path: Path, what: str) -> None:
    if not path.exists():
        raise BenchError(f"{what} not found: {path}")
    if not path.is_file():
        raise BenchError(f"{what} is not a file: {path}")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise BenchError(f"{what} is not readable: {path} ({exc.strerror})") from exc


class _Samples:
    """One preallocated buffer per stage."""

    def __init__(self) -> None:
        self.buffers = {name: SampleBuffer() for name in STAGES}

    def nbytes(self) -> int:
        """Bytes of samples stored so far (what the bench itself adds to RSS as it runs)."""
        return sum(len(buf) * 8 for buf in self.buffers.values())

    def summaries(self) -> dict[str, dict[str, Any] | None]:
        out = {}
        for name, buf in self.buffers.items():
            stats = buf.summary()
            out[name] = stats.as_dict() if stats else None
        return out


def run_pipeline_bench(
    *,
    source: str | None = None,
    duration_s: float | None = None,
    realtime: bool = False,
    model: Path | None = None,
    config_path: str | None = None,
    overrides: Sequence[str] = (),
    rss_interval_s: float = 1.0,
    progress: bool = False,
    warmup_frames: int = WARMUP_FRAMES,
    truth: Path | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Run the pipeline; returns the report part and the raw per-frame samples for --plot."""
    from edge.config import load_config
    from edge.sources import CaptureThread, EndOfStream, open_source

    config = load_config(config_path, overrides)
    if truth is not None:
        _check_readable(truth, "truth CSV")
    spec, truth_path = resolve_source(source, config, truth)
    if model is not None:
        # another model than the shipped one is not in SHA256SUMS: skip that check for it
        _check_readable(model, "model file")
        config = replace(
            config, classifier=replace(config.classifier, model=str(model), checksums="")
        )
    is_replay = spec.startswith(REPLAY_PREFIX)

    def new_source() -> Any:
        cam = config.camera
        return open_source(spec, width=cam.width, height=cam.height, fps=cam.fps, realtime=realtime)

    # Open once up front: a missing or undecodable file fails here with one clear line.
    probe = new_source()
    probe.open()
    probe.close()
    live = bool(probe.live)
    if live and duration_s is None:
        duration_s = CAMERA_DEFAULT_DURATION_S  # a camera never ends by itself

    tensorflow_blocked = _keep_tensorflow_out()
    tracker = None
    if not is_replay:
        from edge.landmarks import HandTracker

        tracker = HandTracker.from_config(config)
    pipeline = _make_pipeline(config, tracker)
    counters = pipeline.counters
    spans = load_truth(truth_path) if truth_path else []

    samples = _Samples()
    accepted: list[tuple[str, float, float]] = []
    words: list[str] = []

    def own_bytes() -> int:
        # latency samples, plus about 120 bytes per accepted letter and word kept for the report
        return samples.nbytes() + EVENT_RECORD_BYTES * (len(accepted) + len(words))

    monitor = ResourceMonitor(rss_interval_s, own_bytes=own_bytes)
    clock = time.perf_counter_ns
    events_seen = {"letter": 0, "word": 0}
    frames = {"processed": 0, "measured": 0, "with_hand": 0}
    bar = Progress(duration_s, "pipeline", enabled=progress)
    started = clock()
    steady_start = None
    dropped_at_steady = 0
    interrupted = False

    looping = _LoopingSource(new_source(), loop=duration_s is not None and not live)
    capture = CaptureThread(
        looping,
        slot_size=config.camera.frame_slot_size,
        retry_initial_s=config.camera.retry_initial_s,
        retry_max_s=config.camera.retry_max_s,
    )
    try:
        capture.start()
        while True:
            t_wait = clock()
            try:
                frame = capture.get(timeout=1.0)
            except EndOfStream:
                if capture.error is not None:
                    raise capture.error from None
                break
            t_got = clock()
            if frame is None:
                if (
                    live
                    and frames["processed"] == 0
                    and (t_got - started > CAMERA_FIRST_FRAME_TIMEOUT_S * 1e9)
                ):
                    reason = capture.stats.last_error or "no frame arrived"
                    raise BenchError(
                        f"{looping.name}: no frame in "
                        f"{CAMERA_FIRST_FRAME_TIMEOUT_S:.0f} s ({reason})"
                    )
                continue
            hands_before = counters.hands
            events, timings = pipeline.process_frame(frame, timing=True)
            t_done = clock()

            frames["processed"] += 1
            if frames["processed"] == warmup_frames + 1:
                monitor.mark_steady()
                steady_start = t_got
                dropped_at_steady = capture.stats.dropped
            if frames["processed"] > warmup_frames:
                frames["measured"] += 1
                frames["with_hand"] += counters.hands - hands_before
                bufs = samples.buffers
                bufs["capture_wait"].append(t_got - t_wait)
                if frame.observation is None:
                    bufs["landmarks"].append(timings.landmarks_ns)
                bufs["ring"].append(timings.ring_ns)
                bufs["decoder"].append(timings.decode_ns)
                overhead = timings.total_ns - timings.landmarks_ns
                bufs["overhead"].append(overhead)
                if timings.classify_ns > 0:  # 0 = no hand, the classifier did not run
                    bufs["window"].append(timings.window_ns)
                    bufs["classifier"].append(timings.classify_ns)
                    bufs["overhead_classified"].append(overhead)
                bufs["end_to_end"].append(t_done - t_got)
            for event in events:
                if event.kind in events_seen:
                    events_seen[event.kind] += 1
                if event.kind == "letter":
                    accepted.append((event.text, event.t, (t_done - t_got) / 1e9))
                elif event.kind == "word":
                    words.append(event.text)
            monitor.poll()
            elapsed = (clock() - started) / 1e9
            bar.update(elapsed if duration_s else 0.0, f"{frames['processed']} frames")
            if duration_s is not None and elapsed >= duration_s:
                break
        for event in pipeline.finish():  # a word still being spelled at the end counts
            if event.kind == "word":
                words.append(event.text)
                events_seen["word"] += 1
    except KeyboardInterrupt:
        interrupted = True  # Ctrl-C ends a long run early: report what was measured
    finally:
        monitor.stop()  # the last RSS sample, while MediaPipe is still loaded
        capture.stop()
        bar.close()
        if tracker is not None:
            tracker.close()

    ended = clock()
    resources = monitor.summary()
    steady_wall_s = (ended - steady_start) / 1e9 if steady_start else None
    summaries = samples.summaries()
    period = looping.period  # set once a pass completed and the source looped
    until = pipeline.last_t
    letters = match_letters(spans, accepted, period, until) if spans else None
    if letters and len(letters["letters"]) > LETTERS_LISTED:  # a fast soak accepts thousands
        letters["letters_listed"] = LETTERS_LISTED
        letters["letters"] = letters["letters"][:LETTERS_LISTED]
    if frames["processed"] <= warmup_frames:
        raise BenchError(
            f"only {frames['processed']} frames were processed, all of them warm-up "
            f"({warmup_frames}); run longer (--duration) or use a longer source"
        )
    dropped_total = capture.stats.dropped
    dropped_steady = dropped_total - dropped_at_steady

    overhead = summaries.get("overhead_classified") or summaries.get("overhead") or {}
    run_s = (ended - started) / 1e9
    drift = resources["memory"]["steady_rss_drift_mb"]
    from edge.bench.report import target

    targets = [
        target(
            "overhead beside MediaPipe per classified frame (median)",
            overhead.get("median_us"),
            "<",
            OVERHEAD_TARGET_US,
            "µs",
        )
    ]
    if run_s >= RSS_DRIFT_MIN_RUN_S:
        targets.append(
            target("steady RSS drift over the run", drift, "<", RSS_DRIFT_TARGET_MB, "MB")
        )

    report = {
        "settings": {
            "source": spec,
            "source_kind": "replay" if is_replay else ("camera" if live else "video file"),
            "duration_s": duration_s,
            "interrupted": interrupted,
            "realtime": realtime,
            "warmup_frames": warmup_frames,
            "classifier_model": str(config.resolve_path(config.classifier.model)),
            "classifier_sha256": file_sha256(config.resolve_path(config.classifier.model)),
            "classifier_runtime": pipeline.classifier.runtime.label,
            "landmark_model": None
            if is_replay
            else str(config.resolve_path(config.landmarks.model)),
            "classifier_threads": config.classifier.threads,
            "classifier_every_n_frames": config.classifier.every_n_frames,
            "frame_slot_size": config.camera.frame_slot_size,
            "rss_interval_s": rss_interval_s,
            "tensorflow_blocked": tensorflow_blocked,
            "tensorflow_in_process": sys.modules.get("tensorflow") is not None,
            "truth": str(truth_path) if truth_path else None,
        },
        "stages": summaries,
        "frames": {
            "processed": frames["processed"],
            "measured": frames["measured"],
            "with_hand": frames["with_hand"],
            "captured": capture.stats.captured,
            "dropped": dropped_total,
            "dropped_after_warmup": dropped_steady,
            "passes": looping.passes,
            "run_s": run_s,
            "steady_wall_s": steady_wall_s,
            "sustained_fps": frames["measured"] / steady_wall_s if steady_wall_s else None,
        },
        **resources,
        "events": {**events_seen, "words": words},
        "letters": letters,
        "targets": [t for t in targets if t is not None],
    }
    raw = {STAGE_LABELS[k]: v.values().copy() for k, v in samples.buffers.items() if len(v)}
    raw.pop(STAGE_LABELS["capture_wait"], None)
    return report, raw


def pipeline_tables(report: dict[str, Any]) -> list[Any]:
    from edge.bench.report import Table, fmt

    rows = []
    for name in STAGES:
        s = report["stages"].get(name)
        if s is None:
            continue
        rows.append(
            [
                STAGE_LABELS[name],
                fmt(s["count"]),
                fmt(s["min_us"], 1),
                fmt(s["median_us"], 1),
                fmt(s["p90_us"], 1),
                fmt(s["p99_us"], 1),
                fmt(s["max_us"], 1),
                fmt(s["mean_us"], 1),
            ]
        )
    st = report["settings"]
    fr = report["frames"]
    notes = [
        f"source: {st['source']} ({st['source_kind']}, "
        f"{'paced in real time' if st['realtime'] else 'as fast as possible'}), "
        f"{fr['passes']} pass(es); first {st['warmup_frames']} frames excluded (warm-up)"
        + ("; INTERRUPTED with Ctrl-C, figures up to then." if st.get("interrupted") else "."),
        f"classifier: {Path(st['classifier_model']).name} in "
        f"{st.get('classifier_runtime', 'LiteRT')}.",
        "overhead beside MediaPipe = features + ring + window + classifier + decoder of one "
        "frame; 'classified frames' are those where the classifier ran (a hand was seen).",
    ]
    stage_table = Table(
        "Per-frame latency by stage (steady state)",
        ["stage", "frames", "min µs", "median µs", "p90 µs", "p99 µs", "max µs", "mean µs"],
        rows,
        notes,
    )

    mem = report["memory"]
    cpu = report["cpu"]
    cost = report["timing_overhead"]
    run_rows = [
        [
            "frames processed (warm-up + measured)",
            f"{fmt(fr['processed'])} ({fmt(st['warmup_frames'])} + {fmt(fr['measured'])})",
        ],
        ["measured frames with a hand", f"{fmt(fr['with_hand'])} of {fmt(fr['measured'])}"],
        [
            "frames dropped (all / after warm-up)",
            f"{fmt(fr['dropped'])} / {fmt(fr['dropped_after_warmup'])}",
        ],
        ["sustained fps (steady)", fmt(fr["sustained_fps"], 1)],
        [
            "timing adds to overhead / end-to-end µs",
            f"{fmt(cost['added_to_overhead_us'], 2)} "
            f"({fmt(cost['share_of_overhead_median_pct'], 2)}%) / "
            f"{fmt(cost['added_to_end_to_end_us'], 2)} "
            f"({fmt(cost['share_of_end_to_end_median_pct'], 2)}%)",
        ],
        ["run time s", fmt(fr["run_s"], 1)],
        ["peak RSS MB", fmt(mem["peak_rss_mb"], 1)],
        ["steady RSS MB (median)", fmt(mem["steady_rss_mb"], 1)],
        ["steady RSS drift MB", fmt(mem["steady_rss_drift_mb"], 2)],
        ["steady RSS slope MB/min", fmt(mem["steady_rss_slope_mb_per_min"], 3)],
        ["CPU % of one core", fmt(cpu["share_of_one_core_pct"], 1)],
        [f"CPU % of the machine ({cpu['cores']} cores)", fmt(cpu["share_of_machine_pct"], 1)],
    ]
    letters = report.get("letters")
    if letters:
        delay = letters.get("delay_s") or {}
        run_rows += [
            [
                "letters expected / recognised",
                f"{letters['expected']} / {_clip(letters['recognised'])}",
            ],
            [
                "letters matched",
                f"{letters.get('matched', 0)} of {letters.get('expected_count', 0)}",
            ],
            [
                "first frame -> accepted s (min/median/max)",
                "/".join(fmt(delay.get(k), 2) for k in ("min", "median", "max")) if delay else "-",
            ],
        ]
    words = report["events"].get("words") or []
    run_rows.append(["words completed", _clip(" ".join(words)) if words else "-"])
    return [stage_table, Table("Throughput, memory, CPU, letters", ["figure", "value"], run_rows)]


class _LoopingSource:
    """Plays a finite source (video file, replay) again and again, shifted in time.

    One capture thread reads it for the whole run, as the daemon reads a camera; each pass is
    offset by the length of the ones before, so MediaPipe's VIDEO mode, the ring and the decoder
    see one monotonic stream. Live sources and single passes go through unchanged.
    """

    def __init__(self, inner: Any, *, loop: bool) -> None:
        self.inner = inner
        self.name = inner.name
        self.live = inner.live
        self.paced = inner.paced
        self.loop = loop
        self.passes = 0
        self.period: float | None = None
        self._offset = 0.0
        self._last_t: float | None = None
        self._dt = 1 / 30

    def open(self) -> None:
        self.inner.open()
        self.passes += 1

    def read(self) -> Any:
        frame = self.inner.read()
        if frame is None and self.loop and self._last_t is not None:
            self.period = self._last_t + self._dt
            self._offset += self.period
            self._last_t = None
            self.inner.close()
            self.open()
            frame = self.inner.read()
        if frame is None:
            return None
        if self._last_t is not None and frame.t > self._last_t:
            self._dt = frame.t - self._last_t
        self._last_t = frame.t
        if self._offset:
            frame.t += self._offset
            if frame.observation is not None:
                frame.observation = replace(frame.observation, t=frame.t)
        return frame

    def close(self) -> None:
        self.inner.close()


def _clip(text: str, width: int = 40) -> str:
    """Long letter strings of a soak shortened for the table (the JSON keeps them whole)."""
    return text if len(text) <= width else f"{text[: width - 16]} ... ({len(text)} chars)"


def _make_pipeline(config: Any, tracker: Any) -> Any:
    """The daemon's Pipeline with the config's classifier (sha256-checked like the daemon)."""
    from edge.pipeline import Pipeline, load_classifier

    return Pipeline(config, load_classifier(config), tracker=tracker)


def _keep_tensorflow_out() -> bool:
    """Keep TensorFlow out of the process, as on the device, where it is not installed.

    mediapipe's tasks import `tensorflow.tools.docs` when TensorFlow is importable (only for its
    API docs generator), which on a development venv with the training extra loads all of
    TensorFlow: about 450 MB of RSS and seconds of start-up the device never pays. Marking it
    absent makes mediapipe take its own no-op fallback. True when it was blocked here; False when
    it was already imported (e.g. by a test that converts models) and so cannot be.
    """
    if "tensorflow" in sys.modules:
        return False
    sys.modules["tensorflow"] = None  # type: ignore[assignment]  # import now raises ImportError
    return True


# Clock reads per frame inside the end-to-end section (Pipeline.process_frame: landmarks start
# and end, five around its stages) and inside the "overhead" sum (those five); outside every
# section: this loop's four reads and up to nine sample stores (they only lower the fps).
READS_IN_END_TO_END = 7
READS_IN_OVERHEAD = 5
READS_OUTSIDE = 4
STORES_OUTSIDE = 9


def timing_cost(report: dict[str, Any]) -> dict[str, Any]:
    """What timing itself adds to the figures, from the measured cost of an empty timed section.

    An empty section's duration is about one clock read, which is what each stage figure gains;
    end-to-end and the overhead sum contain several reads. A whole section in a loop (two reads
    and one store) bounds the cost of storing a sample, which falls outside every figure.
    """
    overhead = report["timer"]["overhead"]
    read_us = overhead["inside"]["median_us"]
    store_us = max(overhead["per_section_us"] - 2 * read_us, 0.0)
    stages = report["stages"]

    def share(value: float, *names: str) -> float | None:
        for name in names:
            stats = stages.get(name)
            if stats and stats["median_us"]:
                return value / stats["median_us"] * 100
        return None

    in_e2e = READS_IN_END_TO_END * read_us
    in_overhead = READS_IN_OVERHEAD * read_us
    return {
        "added_per_stage_us": read_us,
        "added_to_end_to_end_us": in_e2e,
        "added_to_overhead_us": in_overhead,
        "outside_figures_us_per_frame": READS_OUTSIDE * read_us + STORES_OUTSIDE * store_us,
        "share_of_end_to_end_median_pct": share(in_e2e, "end_to_end"),
        "share_of_overhead_median_pct": share(in_overhead, "overhead_classified", "overhead"),
    }

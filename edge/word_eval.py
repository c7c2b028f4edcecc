"""Word-level evaluation: replay word streams through the daemon's own Pipeline and score words.

A word stream is the rows of one `sequence` whose `label` is a word (see edge.dataset). Each one
is replayed exactly as `sign2sound run` replays a landmark file (edge.sources.replay_observations:
frame 0 to the last frame, missing frames as "no hand"), into a fresh `edge.pipeline.Pipeline`
with the daemon's config, so the decoder (and the word-correction stage, when on) that scores the
word is the daemon's, never a copy. After the last frame the hand has left view: TAIL_S (or a
little more than decoder.word_gap_s) of "no hand" frames follow, then `Pipeline.finish()`.

A condition rescales the stream's clock by `speed` (2 = twice as fast signing) and thins it to at
most `fps` frames per second (edge.synth.thin, as training thins: time in slots of 1/fps, the
first frame of each slot kept, hand or no hand, on the rescaled clock), so one run shows whether
a result holds at other signing speeds and camera rates. Scores: Levenshtein distance per word,
character error rate (total distance / total letters) with and without the correction stage
(`DecoderEvent.raw`), word accuracy, grouped by input letters/s (to the nearest 0.5) and by source.
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.dataset import (
    BACKGROUND,
    DataError,
    LandmarkTable,
    SequenceGroups,
    csv_name,
    is_word_label,
    letters_per_second,
)
from edge.decoder import DecoderEvent
from edge.observation import HandObservation
from edge.sources import ReplayRow, order_replay_rows, replay_observations
from edge.synth import thin

TAIL_S = 1.5  # the hand is out of view this long after a stream's last frame
RATE_STEP = 0.5  # input letters/s are grouped to the nearest multiple of this
RIGHT_TIMELINES = 5  # timelines of words read right, beside the worst ones


def levenshtein(a: str, b: str) -> int:
    """Edit distance between two strings: insertions, deletions and substitutions cost 1."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class WordStream:
    """One word's replay: its rows in frame order (checked) and their per-frame truth."""

    word: str
    sequence: str
    path: str
    source: str
    rows: list[ReplayRow]
    frame_dt: float
    truth: list[str]  # per row: a letter, `_`, or '' where the file has no truth

    @property
    def has_truth(self) -> bool:
        return any(self.truth)


def word_streams(table: LandmarkTable) -> list[WordStream]:
    """The word streams of a table loaded with `words=True`, in file order (see
    `WordStreamReader` for what is refused)."""
    reader = WordStreamReader()
    return [*reader.add(table), *reader.finish()]


class WordStreamReader:
    """Word streams from tables read in chunks (edge.dataset.read_many), each one as soon as
    all its rows are in, so a file of any size is replayed holding one stream at a time.

    One line naming the file and line for: a word row without `sequence`, `frame` or `t_ms`; a
    sequence whose label changes (a word stream spells one word); a frame number twice or a time
    going backwards against the frame order; rows of a sequence that come back after another
    sequence (edge.dataset.SequenceGroups).
    """

    def __init__(self) -> None:
        self._groups = SequenceGroups()

    def add(self, table: LandmarkTable) -> list[WordStream]:
        """The streams that ended within `table`; rows of letter clips are skipped."""
        for i in np.flatnonzero(table.sequence == "").tolist():
            label = str(table.labels[i])
            if is_word_label(label):
                raise DataError(
                    f"{table.path[i]}: line {table.line[i]}: word label {label!r} without a "
                    "sequence (the rows of one word stream share a sequence name)"
                )
        return _streams_of(self._groups.add(table))

    def finish(self) -> list[WordStream]:
        """The last stream, once the input has ended."""
        return _streams_of(self._groups.finish())


def _streams_of(groups: list[LandmarkTable]) -> list[WordStream]:
    streams = (_word_stream(g) for g in groups)
    return [s for s in streams if s is not None]


def _word_stream(table: LandmarkTable) -> WordStream | None:
    """The rows of one sequence as a checked word stream; None for a letter clip."""
    labels = table.labels.tolist()
    if not any(is_word_label(label) for label in labels):
        return None  # a letter clip: the letter evaluation's business
    path, sequence = str(table.path[0]), str(table.sequence[0])
    word = labels[0]
    for i, label in enumerate(labels):
        where = f"{path}: line {table.line[i]}"
        if label != word:
            raise DataError(
                f"{where}: label {label!r} in word sequence {sequence!r}, which "
                f"spells {word!r} from line {table.line[0]} (one word per sequence)"
            )
        if table.frame[i] < 0 or not np.isfinite(table.t_ms[i]):
            raise DataError(f"{where}: a word stream row needs frame and t_ms")
    aspect = table.aspect()
    replay = [
        ReplayRow(
            frame=int(table.frame[i]),
            t=float(table.t_ms[i]) / 1000.0,
            landmarks=table.coords[i].reshape(21, 3),
            handedness=str(table.handedness[i]) or None,
            score=float(table.score[i]) if np.isfinite(table.score[i]) else 0.0,
            aspect=float(aspect[i]),
            line=int(table.line[i]),
        )
        for i in range(len(table))
    ]
    ordered, frame_dt = order_replay_rows(replay, path)
    truth_of = {int(line): str(truth) for line, truth in zip(table.line, table.truth, strict=True)}
    return WordStream(
        word=word,
        sequence=sequence,
        path=path,
        source=str(table.source[0]),
        rows=ordered,
        frame_dt=frame_dt,
        truth=[truth_of[r.line] for r in ordered],
    )


@dataclass(frozen=True)
class Condition:
    """One replay condition: the clock divided by `speed`, thinned to at most `fps` (None: all)."""

    speed: float = 1.0
    fps: float | None = None

    @property
    def name(self) -> str:
        rate = f"fps {self.fps:g}" if self.fps else "all frames"
        return f"speed {self.speed:g}, {rate}"

    @property
    def tag(self) -> str:
        return f"s{self.speed:g}_f{self.fps:g}" if self.fps else f"s{self.speed:g}_all"


def conditions(speeds: Sequence[float], fps: Sequence[float]) -> list[Condition]:
    """Every (speed, fps) pair; no fps given means every frame of the stream."""
    return [Condition(s, f) for s in speeds or (1.0,) for f in (fps or (None,))]


@dataclass(frozen=True)
class ConditionFrames:
    """What one condition feeds the pipeline: the stream's frames, then the tail of no hand."""

    observations: list[HandObservation]
    n_stream: int  # the first n_stream observations are the stream's own (the rest: the tail)
    fps_effective: float
    letters_per_s: float


def condition_frames(stream: WordStream, condition: Condition, tail_s: float) -> ConditionFrames:
    """The stream replayed as edge.sources does, its clock divided by the speed, thinned to at
    most `fps`, followed by `tail_s` of "no hand" at the thinned frame rate."""
    speed = condition.speed
    min_dt = 1.0 / condition.fps if condition.fps else 0.0
    frames = [
        dataclasses.replace(obs, t=obs.t / speed)
        for _, obs in replay_observations(stream.rows, stream.frame_dt)
    ]
    if condition.fps:
        keep = thin(np.array([o.t for o in frames]), condition.fps)  # as training thins
        frames = [o for o, k in zip(frames, keep, strict=True) if k]
    kept: list[HandObservation] = frames
    n_stream = len(kept)
    span = kept[-1].t - kept[0].t
    fps_effective = (n_stream - 1) / span if span > 0 else float("nan")
    step = max(stream.frame_dt / speed, min_dt)
    last, aspect = kept[-1].t, kept[-1].aspect
    kept.extend(
        HandObservation(t=last + k * step, landmarks=None, aspect=aspect)
        for k in range(1, int(math.floor(tail_s / step + 1e-9)) + 1)
    )
    # the pace of the spelling itself: with a truth column, letter onset to letter onset
    # (edge.dataset.letters_per_second, as edge.spelling.SpelledStream.rate); without one,
    # letters over the seconds from the first to the last frame with a hand
    letters_per_s = letters_per_second([r.t for r in stream.rows], stream.truth) * speed
    if not math.isfinite(letters_per_s):
        hand_span = (stream.rows[-1].t - stream.rows[0].t) / speed
        letters_per_s = len(stream.word) / hand_span if hand_span > 0 else float("nan")
    return ConditionFrames(kept, n_stream, fps_effective, letters_per_s)


def tail_for(config) -> float:
    """The no-hand tail after a stream: TAIL_S, or longer when the decoder's word gap is."""
    return max(TAIL_S, config.decoder.word_gap_s + 0.1)


def rate_bin(letters_per_s: float) -> float | None:
    """Letters/s to the nearest RATE_STEP (None when unknown)."""
    if not math.isfinite(letters_per_s):
        return None
    return round(letters_per_s / RATE_STEP) * RATE_STEP


@dataclass
class Trace:
    """Per-frame record of one replay, for the timeline picture."""

    t: np.ndarray  # (n,) the frames fed, on the rescaled clock
    hand: np.ndarray  # (n,) bool
    probs: np.ndarray  # (n, n_labels), NaN where no hand (or no classification yet)
    labels: list[str]
    stream_end: float  # time of the stream's last frame (the tail follows)


@dataclass
class WordResult:
    """One word under one condition: what was spelled, what came out, and when."""

    word: str
    sequence: str
    file: str
    source: str
    speed: float
    fps: float | None
    fps_effective: float
    letters_per_s: float
    output: str  # the words the pipeline completed, joined by spaces (with correction)
    output_raw: str  # the same before the correction stage (DecoderEvent.raw or text)
    distance: int
    distance_raw: int
    letters: list[dict[str, Any]] = field(default_factory=list)  # {"letter", "t"}
    words: list[dict[str, Any]] = field(default_factory=list)  # {"text", "raw", "t"}
    frames: int = 0
    trace: Trace | None = field(default=None, repr=False)

    @property
    def cer(self) -> float:
        return self.distance / len(self.word)

    @property
    def cer_raw(self) -> float:
        return self.distance_raw / len(self.word)

    @property
    def condition(self) -> Condition:
        return Condition(self.speed, self.fps)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "trace"}
        out.update(
            condition=self.condition.name,
            rate_bin=rate_bin(self.letters_per_s),
            cer=round(self.cer, 4),
            cer_raw=round(self.cer_raw, 4),
            fps_effective=_round(self.fps_effective, 2),
            letters_per_s=_round(self.letters_per_s, 3),
        )
        return out


def _round(value: float, digits: int) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


def replay_word(
    stream: WordStream,
    condition: Condition,
    pipeline,  # edge.pipeline.Pipeline, fresh for this word
    *,
    tail_s: float = TAIL_S,
    trace: bool = False,
) -> WordResult:
    """Feed one word stream under one condition through `pipeline` and score what it said."""
    frames = condition_frames(stream, condition, tail_s)
    events: list[DecoderEvent] = []
    n_labels = len(pipeline.labels)
    probs = np.full((len(frames.observations), n_labels), np.nan, np.float32) if trace else None
    for i, obs in enumerate(frames.observations):
        events.extend(pipeline.process(obs))
        if probs is not None and obs.landmarks is not None and pipeline.last_probs is not None:
            probs[i] = pipeline.last_probs
    events.extend(pipeline.finish())
    words = [e for e in events if e.kind == "word"]
    output = " ".join(e.text for e in words)
    output_raw = " ".join(e.raw or e.text for e in words)
    result = WordResult(
        word=stream.word,
        sequence=stream.sequence,
        file=stream.path,
        source=stream.source,
        speed=condition.speed,
        fps=condition.fps,
        fps_effective=frames.fps_effective,
        letters_per_s=frames.letters_per_s,
        output=output,
        output_raw=output_raw,
        distance=levenshtein(stream.word, output),
        distance_raw=levenshtein(stream.word, output_raw),
        letters=[{"letter": e.text, "t": round(e.t, 4)} for e in events if e.kind == "letter"],
        words=[{"text": e.text, "raw": e.raw, "t": round(e.t, 4)} for e in words],
        frames=len(frames.observations),
    )
    if probs is not None:
        obs = frames.observations
        result.trace = Trace(
            t=np.array([o.t for o in obs]),
            hand=np.array([o.landmarks is not None for o in obs]),
            probs=probs,
            labels=list(pipeline.labels),
            stream_end=obs[frames.n_stream - 1].t,
        )
    return result


class WordEvaluation:
    """Every stream under every condition, each replay through a fresh pipeline from
    `new_pipeline`, one stream at a time: only the (small) per-word results are kept."""

    def __init__(
        self,
        conds: Sequence[Condition],
        new_pipeline: Callable[[], Any],
        *,
        tail_s: float = TAIL_S,
    ) -> None:
        self.conds = list(conds)
        self.new_pipeline = new_pipeline
        self.tail_s = tail_s
        self.streams = 0
        self.seconds = 0.0  # spent replaying, the figure behind the report's ms per frame
        self._by_condition: list[list[WordResult]] = [[] for _ in self.conds]

    def add(self, stream: WordStream) -> None:
        start = time.perf_counter()
        for results, condition in zip(self._by_condition, self.conds, strict=True):
            results.append(replay_word(stream, condition, self.new_pipeline(), tail_s=self.tail_s))
        self.streams += 1
        self.seconds += time.perf_counter() - start

    def results(self) -> list[WordResult]:
        """Condition by condition, the streams in the order they were added."""
        return [r for results in self._by_condition for r in results]


def evaluate_words(
    streams: Iterable[WordStream],
    conds: Sequence[Condition],
    new_pipeline: Callable[[], Any],
    *,
    tail_s: float = TAIL_S,
) -> list[WordResult]:
    """Every stream under every condition (`WordEvaluation`), condition by condition."""
    evaluation = WordEvaluation(conds, new_pipeline, tail_s=tail_s)
    for stream in streams:
        evaluation.add(stream)
    return evaluation.results()


def score(results: Iterable[WordResult]) -> dict[str, Any]:
    """CER (with and without correction) and word accuracy of a group of results."""
    results = list(results)
    letters = sum(len(r.word) for r in results)
    dist = sum(r.distance for r in results)
    dist_raw = sum(r.distance_raw for r in results)
    n = len(results)
    return {
        "words": n,
        "letters": letters,
        "distance": dist,
        "distance_raw": dist_raw,
        "cer": round(dist / letters, 4) if letters else None,
        "cer_raw": round(dist_raw / letters, 4) if letters else None,
        "word_accuracy": round(sum(r.distance == 0 for r in results) / n, 4) if n else None,
        "word_accuracy_raw": round(sum(r.distance_raw == 0 for r in results) / n, 4) if n else None,
    }


def _grouped(results: list[WordResult], key: Callable[[WordResult], Any]) -> dict[str, Any]:
    groups: dict[Any, list[WordResult]] = {}
    for r in results:
        groups.setdefault(key(r), []).append(r)
    return {_key_text(k): score(v) for k, v in sorted(groups.items(), key=_sort_key)}


def _sort_key(item: tuple[Any, Any]) -> tuple[int, Any]:
    k = item[0]
    return (1, 0) if k is None else (0, k)


def _key_text(k: Any) -> str:
    if k is None:
        return "unknown"
    return f"{k:.1f}" if isinstance(k, float) else str(k)


def shared_data_sources() -> frozenset[str]:
    """Source names of ../shared/data (a file per source), empty where the folder is absent."""
    from edge.config import SHARED_DATA_DIR

    names = set()
    for folder in ("landmarks", "sequences"):
        for path in (SHARED_DATA_DIR / folder).glob("*.csv*"):
            names.add(csv_name(path))
    return frozenset(names)


def source_split(source: str, known: frozenset[str] | None = None) -> str:
    """Where a source sits in the fixed split (edge.training.splits): test, validation,
    training (numbers on it are in-sample) or unknown (not a source of the shared data)."""
    from edge.training.splits import HELD_OUT_SOURCES, VAL_SOURCES

    if source in HELD_OUT_SOURCES:
        return "test"
    if source in VAL_SOURCES:
        return "validation"
    if source in (shared_data_sources() if known is None else known):
        return "training"
    return "unknown"


def build_report(
    results: list[WordResult],
    conds: Sequence[Condition],
    *,
    model: str,
    config: Any,
    data: Sequence[str],
    seconds: float,
    tail_s: float = TAIL_S,
) -> dict[str, Any]:
    """The whole word report as plain data (what --json writes and the text report shows)."""
    known = shared_data_sources()
    sources = sorted({r.source for r in results})
    split = {s: source_split(s, known) for s in sources}
    per_condition = []
    for c in conds:
        rs = [r for r in results if r.condition == c]
        eff = [r.fps_effective for r in rs if math.isfinite(r.fps_effective)]
        per_condition.append(
            {
                "condition": c.name,
                "speed": c.speed,
                "fps": c.fps,
                "fps_effective": round(statistics.median(eff), 2) if eff else None,
                **score(rs),
                "by_rate": _grouped(rs, lambda r: rate_bin(r.letters_per_s)),
                "by_source": _grouped(rs, lambda r: r.source),
            }
        )
    frames = sum(r.frames for r in results)
    return {
        "kind": "words",
        "model": model,
        "data": list(data),
        "config": dataclasses.asdict(config),
        "tail_s": tail_s,
        "sources": {
            s: {
                "split": split[s],
                "in_sample": split[s] == "training",
                "streams": len({r.sequence for r in results if r.source == s}),
            }
            for s in sources
        },
        "corrected_words": sum(r.output != r.output_raw for r in results),
        "conditions": per_condition,
        "words": [r.as_dict() for r in results],
        "seconds": round(seconds, 2),
        "frames": frames,
        "ms_per_frame": round(1000 * seconds / frames, 4) if frames else None,
    }


def _cell(group: dict[str, Any] | None, key: str) -> str:
    if not group or group.get(key) is None:
        return "-"
    return f"{group[key]:.3f} ({group['words']})"


def _condition_label(c: dict[str, Any]) -> str:
    """The condition's name, with the frame rate really used when the stream gives fewer."""
    eff = c["fps_effective"]
    if c["fps"] and eff is not None and eff < 0.95 * c["fps"]:
        return f"{c['condition']} ({eff:g} used)"
    return c["condition"]


def report_text(report: dict[str, Any], worst: int = 15) -> str:
    """The text report: CER tables (conditions x input letters/s), accuracy, sources, worst."""
    conds = report["conditions"]
    bins = sorted(
        {b for c in conds for b in c["by_rate"]},
        key=lambda b: (b == "unknown", float(b) if b != "unknown" else 0.0),
    )
    n_words = len({(w["file"], w["sequence"]) for w in report["words"]})
    lines = [
        f"word evaluation: {n_words} word streams x {len(conds)} condition(s), "
        f"model {report['model']}",
        f"data: {', '.join(report['data'])}",
    ]
    for name, info in report["sources"].items():
        if info["in_sample"]:
            lines.append(
                f"NOTE: {name} is a training source of the model: every number on its "
                "streams is in-sample"
            )
    corrected = report["corrected_words"] > 0
    tables = [("cer", "CER with correction" if corrected else "CER")]
    if corrected:
        tables.append(("cer_raw", "CER without correction"))
    names = [_condition_label(c) for c in conds]
    width = max(len(n) for n in names) + 2
    for key, title in tables:
        lines += ["", f"{title} by condition and input letters/s, (n) = words"]
        lines.append(f"{'condition':<{width}}{'all':>14}" + "".join(f"{b:>14}" for b in bins))
        for name, c in zip(names, conds, strict=True):
            row = f"{name:<{width}}{_cell(c, key):>14}"
            row += "".join(f"{_cell(c['by_rate'].get(b), key):>14}" for b in bins)
            lines.append(row)
    if any(n != c["condition"] for n, c in zip(names, conds, strict=True)):
        lines.append("(N used: the stream has fewer frames than asked, N fps is what it gives)")
    if not corrected:
        lines.append("(the correction stage changed no word: CER without it is the same)")
    sources = list(report["sources"])
    lines += ["", "word accuracy with / without correction, and CER by source"]
    head = "".join(
        f"{s + (' (in-sample)' if report['sources'][s]['in_sample'] else ''):>24}" for s in sources
    )
    lines.append(f"{'condition':<{width}}{'word accuracy':>16}{head}")
    for name, c in zip(names, conds, strict=True):
        acc = f"{c['word_accuracy']:.3f} / {c['word_accuracy_raw']:.3f}"
        cells = "".join(f"{_cell(c['by_source'].get(s), 'cer'):>24}" for s in sources)
        lines.append(f"{name:<{width}}{acc:>16}{cells}")
    ranked = sorted(report["words"], key=lambda w: (-w["cer"], -w["distance"], w["word"]))
    wrong = [w for w in ranked if w["distance"]][:worst]
    if wrong:
        lines += ["", f"worst words (up to {worst}):"]
        for w in wrong:
            raw = f" (raw {w['output_raw'] or '-'})" if w["output_raw"] != w["output"] else ""
            lps = "?" if w["letters_per_s"] is None else f"{w['letters_per_s']:.1f}"
            lines.append(
                f"  {w['word']:<12} -> {w['output'] or '-':<14}{raw} distance {w['distance']}, "
                f"CER {w['cer']:.2f}, {lps} letters/s, {w['condition']}, {w['source']}"
            )
    lines += [
        "",
        f"{report['frames']} frames in {report['seconds']:.1f} s "
        f"({report['ms_per_frame']} ms per frame, pipeline and classifier)",
    ]
    return "\n".join(lines) + "\n"


def pick_timelines(results: list[WordResult], limit: int) -> list[WordResult]:
    """The `limit` worst results (highest CER) plus a few read right, spread over the list."""
    if limit <= 0:
        return []
    ranked = sorted(results, key=lambda r: (-r.cer, -r.distance, r.word, r.speed, r.fps or 0))
    worst = [r for r in ranked if r.distance][:limit]
    right = [r for r in results if not r.distance]
    n_right = min(RIGHT_TIMELINES, limit, len(right))
    if n_right:
        picks = np.linspace(0, len(right) - 1, n_right).round().astype(int)
        worst += [right[i] for i in sorted(set(picks.tolist()))]
    return worst


def write_timelines(
    picked: list[WordResult],
    streams: Sequence[WordStream],
    new_pipeline: Callable[[], Any],
    folder: Path,
    *,
    threshold: float | None = None,
    tail_s: float = TAIL_S,
) -> list[Path]:
    """Replay each picked result again with a per-frame trace and draw its timeline PNG."""
    by_key = {(s.path, s.sequence): s for s in streams}
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, r in enumerate(picked):
        stream = by_key[(r.file, r.sequence)]
        traced = replay_word(stream, r.condition, new_pipeline(), tail_s=tail_s, trace=True)
        safe = "".join(c if c.isalnum() else "_" for c in stream.sequence)[-40:]
        path = folder / f"{i:03d}_{stream.word}_{r.condition.tag}_{safe}.png"
        timeline_png(traced, stream, path, threshold=threshold)
        paths.append(path)
    return paths


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index runs where mask is true."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def timeline_png(
    result: WordResult, stream: WordStream, path: Path, *, threshold: float | None = None
) -> None:
    """The picture someone tuning the decoder wants: the word's letter probabilities (and `_`)
    over time, no-hand frames shaded, each accepted letter and the word's end marked, the
    truth (when the file has it) as a band on top."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tr = result.trace
    if tr is None:
        raise ValueError("timeline_png needs a result replayed with trace=True")
    index = {name: i for i, name in enumerate(tr.labels)}
    fig, ax = plt.subplots(figsize=(11, 4.2), dpi=90)
    step = float(np.median(np.diff(tr.t))) if len(tr.t) > 1 else 1 / 30
    for a, b in _runs(~tr.hand):
        ax.axvspan(tr.t[a], tr.t[b - 1] + step, color="0.88", lw=0, zorder=0)
    ax.axvline(tr.stream_end, color="0.6", lw=0.8, ls=":", zorder=1)
    colours = plt.get_cmap("tab10")
    letters = list(dict.fromkeys(stream.word))
    for k, letter in enumerate(letters):
        if letter in index:
            ax.plot(tr.t, tr.probs[:, index[letter]], color=colours(k % 10), lw=1.6, label=letter)
    if BACKGROUND in index:
        bg = tr.probs[:, index[BACKGROUND]]
        ax.plot(tr.t, bg, color="k", lw=1.0, ls="--", label="move/rest (_)")
    others = [i for name, i in index.items() if name not in letters and name != BACKGROUND]
    if others:
        best_other = np.max(tr.probs[:, others], axis=1)
        ax.plot(tr.t, best_other, color="0.45", lw=0.8, ls=":", label="best other")
    if threshold is not None:
        ax.axhline(threshold, color="0.3", lw=0.6, ls="-.")
    for event in result.letters:
        ok = event["letter"] in stream.word
        colour = "tab:green" if ok else "tab:red"
        ax.axvline(event["t"], color=colour, lw=1.0, alpha=0.8)
        ax.text(event["t"], 1.0, event["letter"], ha="center", va="bottom", color=colour)
    for event in result.words:
        ax.axvline(event["t"], color="k", lw=2.0)
        ax.text(event["t"], 0.5, f" {event['text']}", ha="left", va="center", fontsize=9)
    if stream.has_truth:
        speed = result.speed
        t_rows = np.array([r.t for r in stream.rows]) / speed
        truth = np.array(stream.truth)
        dt = stream.frame_dt / speed
        start = 0
        for j in range(1, len(truth) + 1):
            if j == len(truth) or truth[j] != truth[start] or t_rows[j] - t_rows[j - 1] > 1.5 * dt:
                label = truth[start]
                if label:
                    x0, x1 = t_rows[start], t_rows[j - 1] + dt
                    colour = "0.7" if label == BACKGROUND else colours(_colour_of(label, letters))
                    ax.axvspan(x0, x1, ymin=0.955, ymax=1.0, color=colour, lw=0)
                    if label != BACKGROUND:
                        ax.text((x0 + x1) / 2, 1.08, label, ha="center", fontsize=8)
                start = j
    ax.set_ylim(-0.02, 1.12)
    ax.set_xlim(tr.t[0], tr.t[-1] + step)
    ax.set_xlabel("time (s, rescaled clock); grey = no hand; dotted line = end of the stream")
    ax.set_ylabel("probability")
    raw = f" (raw {result.output_raw or '-'})" if result.output_raw != result.output else ""
    ax.set_title(
        f"{stream.word} -> {result.output or '-'}{raw}   CER {result.cer:.2f}   "
        f"{result.condition.name} ({result.fps_effective:.3g} fps used), "
        f"{result.letters_per_s:.1f} letters/s   {stream.source}",
        fontsize=10,
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _colour_of(letter: str, letters: list[str]) -> int:
    return letters.index(letter) % 10 if letter in letters else 9


def write_report(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1) + "\n")

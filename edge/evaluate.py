"""Measure a .tflite letter model on any landmark CSV, with the same LiteRT path the daemon uses.

Single-frame rows become letters held still (mild jitter, the runtime's mirroring), cut by the
daemon's ring buffer; clip rows (`sequence` column) are pushed through the ring frame by frame and
cut at every frame whose label is certain (see `edge.synth.frame_labels_for_clip`), exactly the
windows the daemon would classify. Reports top-1 per letter and overall, the 24 letters held
still apart from J and Z (which are motions: a photo of them is one moment of the stroke), the
confusion matrix, per-clip accuracy, INT8-vs-float agreement, model size and mean invoke time.

A file of any size is scored in bounded memory: `LetterWindows` cuts the windows of one chunk of
rows at a time (edge.dataset.read_many) and `LetterTally` keeps only the counts the report is
made of, so the report is the same whatever the chunk size.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.classifier import LetterClassifier
from edge.dataset import BACKGROUND, MOTION_LETTERS, LandmarkTable, SequenceGroups
from edge.features import NUM_LANDMARKS, WINDOW_CHANNELS
from edge.synth import IGNORE, SynthConfig, frame_labels_for_clip, ring_windows
from edge.training.windows import FROM_REST_SOURCES, clip_times, clips_of, held_windows


@dataclass
class EvalWindows:
    """Windows to score, with where each came from."""

    x: np.ndarray
    y: np.ndarray
    source: np.ndarray
    clip: np.ndarray  # sequence name or '' for held single frames


@dataclass
class EvalReport:
    labels: list[str]
    n: int
    top1: float
    per_letter: dict[str, dict[str, float]]
    per_source: dict[str, float]
    per_clip: dict[str, dict[str, float | str]]
    confusion: list[list[int]]
    model_bytes: int
    mean_invoke_us: float
    agreement: float | None = None
    agreement_with: str | None = None  # the reference model's path
    runtime: str = ""  # the package that ran the model: ai-edge-litert or onnxruntime
    confidence: dict[str, dict[str, float]] = field(default_factory=dict)
    # the 24 letters held still (single frames; J and Z are strokes, a photo is not the letter)
    static_top1: float | None = None
    static_per_source: dict[str, float] = field(default_factory=dict)
    # J and Z from real motion (clip windows labelled J or Z), per letter
    motion_top1: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2) + "\n"


def clip_eval_windows(
    table: LandmarkTable, labels: list[str], synth: SynthConfig | None = None
) -> EvalWindows:
    """One window per clip frame with a certain label, cut by the daemon's ring buffer from the
    clip's frames as recorded (their real path, handedness and frame size).

    Mirroring follows the daemon's 'auto' rule: mirror when most frames of the window are
    labelled 'Left' by MediaPipe.
    """
    cfg = synth or SynthConfig()
    cls = {name: i for i, name in enumerate(labels)}
    feats = table.features()
    xs, ys, srcs, clips = [], [], [], []
    for rows in clips_of(table):
        src = str(table.source[rows[0]])
        fl = frame_labels_for_clip(table, rows, feats, cls, from_rest=src in FROM_REST_SOURCES)
        at = np.flatnonzero(fl != IGNORE)
        if not len(at):
            continue
        t = clip_times(table, rows)
        lm = table.coords[rows].reshape(-1, NUM_LANDMARKS, 3)
        xs.append(
            ring_windows(
                t, lm, np.ones(len(rows), bool), at, cfg, aspect=table.aspect()[rows],
                handedness=table.handedness[rows], mirror_mode="auto",
            )
        )  # fmt: skip
        ys.append(fl[at])
        srcs.append(np.full(len(at), src))
        clips.append(np.full(len(at), str(table.sequence[rows[0]])))
    return concat_windows(
        [EvalWindows(*part) for part in zip(xs, ys, srcs, clips, strict=True)], cfg.steps
    )


def eval_windows(table: LandmarkTable, labels: list[str], seed: int = 0) -> EvalWindows:
    """Held windows for single-frame rows plus daemon-cut windows for clip rows."""
    windows = LetterWindows(labels, seed=seed)
    return concat_windows([*windows.add(table), *windows.finish()], windows.steps)


class LetterWindows:
    """The windows `eval_windows` cuts, from tables read in chunks (edge.dataset.read_many): the
    same windows whatever the chunk size, so the letter report of a file of any size is made in
    bounded memory.

    Held windows of each chunk's single frames come from one random stream over the whole input
    (the jitter of a row does not depend on where a chunk starts); each clip is cut once all its
    rows are in (edge.dataset.SequenceGroups carries a clip over a chunk boundary).
    """

    def __init__(self, labels: list[str], *, seed: int = 0, synth: SynthConfig | None = None):
        self.labels = list(labels)
        self.synth = synth or SynthConfig()
        self.steps = self.synth.steps
        # held_windows takes the generator for its seed (np.random.default_rng passes it on)
        self._rng = np.random.default_rng(seed)
        self._clips = SequenceGroups()

    def add(self, table: LandmarkTable) -> Iterator[EvalWindows]:
        """Windows of `table`'s single frames, then of the clips that ended within it."""
        single = table.sequence == ""
        if single.any():
            h = held_windows(
                table.select(single), seed=self._rng, labels=self.labels, synth=self.synth
            )
            yield EvalWindows(h.x, h.y, h.source, np.full(len(h.y), ""))
        for clip in self._clips.add(table):
            yield clip_eval_windows(clip, self.labels, self.synth)

    def finish(self) -> Iterator[EvalWindows]:
        """Windows of the last clip, once the input has ended."""
        for clip in self._clips.finish():
            yield clip_eval_windows(clip, self.labels, self.synth)


def concat_windows(parts: list[EvalWindows], steps: int) -> EvalWindows:
    if not parts:
        empty = np.zeros((0, steps, WINDOW_CHANNELS), np.float32)
        return EvalWindows(empty, np.zeros(0, np.int64), np.zeros(0, str), np.zeros(0, str))
    return EvalWindows(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.source for p in parts]),
        np.concatenate([p.clip for p in parts]),
    )


def timed_predict(clf: LetterClassifier, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Probabilities for every window and the total invoke time in seconds."""
    probs = np.empty((len(x), len(clf.labels)), np.float32)
    total = 0.0
    for i, w in enumerate(x):
        probs[i] = clf.predict(w, timing=True)
        total += clf.last_invoke_s
    return probs, total


def confusion_matrix(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    conf = np.zeros((n, n), np.int64)
    np.add.at(conf, (y, pred), 1)
    return conf


CONFIDENCE_THRESHOLDS = (0.5, 0.7, 0.9)


class LetterTally:
    """The counts the letter report is made of, added window set by window set: the report of
    windows added in chunks is the report of all of them at once (every figure is a count or a
    ratio of counts), while only the current chunk's windows are in memory."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = list(labels)
        n = len(self.labels)
        self._bg = self.labels.index(BACKGROUND) if BACKGROUND in self.labels else None
        self._static = np.array([lab not in (*MOTION_LETTERS, BACKGROUND) for lab in self.labels])
        self.confusion = np.zeros((n, n), np.int64)
        self.windows = 0
        self.invoke_s = 0.0
        self.agree: int | None = None  # windows where the reference model says the same
        self.sources: dict[str, np.ndarray] = {}  # [windows, right]
        self.static_sources: dict[str, np.ndarray] = {}  # the 24 letters held still
        self.motion: dict[str, np.ndarray] = {}  # J and Z in clip windows
        self.clips: dict[str, np.ndarray] = {}  # [windows, right, letter windows, letter right]
        self.clip_votes: dict[str, np.ndarray] = {}  # predictions of each clip's letter windows
        self.confident = np.zeros((len(CONFIDENCE_THRESHOLDS), 2), np.int64)  # right, wrong

    def add_predicted(
        self, clf: LetterClassifier, w: EvalWindows, reference: LetterClassifier | None = None
    ) -> None:
        """Score `clf` on the windows (and `reference`, the float model, for agreement)."""
        probs, invoke_s = timed_predict(clf, w.x)
        ref_pred = timed_predict(reference, w.x)[0].argmax(1) if reference is not None else None
        self.add(w, probs, invoke_s=invoke_s, reference_pred=ref_pred)

    def add(
        self,
        w: EvalWindows,
        probs: np.ndarray,
        *,
        invoke_s: float = 0.0,
        reference_pred: np.ndarray | None = None,
    ) -> None:
        pred = probs.argmax(1)
        ok = pred == w.y
        self.windows += len(w.y)
        self.invoke_s += invoke_s
        self.confusion += confusion_matrix(w.y, pred, len(self.labels))
        if reference_pred is not None:
            self.agree = (self.agree or 0) + int((reference_pred == pred).sum())
        top = probs.max(axis=1, initial=0.0)
        for k, thr in enumerate(CONFIDENCE_THRESHOLDS):
            sure = top >= thr
            self.confident[k] += [int((ok & sure).sum()), int((~ok & sure).sum())]
        held = w.clip == ""
        _count(self.sources, w.source, ok)
        static = held & self._static[w.y]
        _count(self.static_sources, w.source[static], ok[static])
        names = np.asarray(self.labels)[w.y]
        for letter in MOTION_LETTERS:
            m = ~held & (names == letter)
            _count(self.motion, names[m], ok[m])
        for clip in np.unique(w.clip[~held]).tolist():
            m = w.clip == clip
            letter_m = m & (w.y != self._bg) if self._bg is not None else m
            counts = [m.sum(), ok[m].sum(), letter_m.sum(), ok[letter_m].sum()]
            self.clips[clip] = self.clips.get(clip, 0) + np.array(counts, np.int64)
            votes = np.bincount(pred[letter_m], minlength=len(self.labels))
            self.clip_votes[clip] = self.clip_votes.get(clip, 0) + votes

    def report(
        self, model_bytes: int, *, runtime: str = "", agreement_with: str | None = None
    ) -> tuple[EvalReport, np.ndarray]:
        """The report of every window added so far, and its confusion matrix."""
        labels, conf, n = self.labels, self.confusion, self.windows
        per_letter = {
            name: {"n": int(conf[i].sum()), "top1": _ratio(conf[i, i], conf[i].sum())}
            for i, name in enumerate(labels)
            if conf[i].sum()
        }
        per_clip = {}
        for clip in sorted(self.clips):
            windows, right, letter_windows, letter_right = self.clips[clip].tolist()
            per_clip[clip] = {
                "windows": windows,
                "top1": _ratio(right, windows),
                "letter_windows": letter_windows,
                "letter_top1": _ratio(letter_right, letter_windows) if letter_windows else None,
                "majority": labels[int(self.clip_votes[clip].argmax())] if letter_windows else "",
            }
        static_n, static_right = sum(self.static_sources.values(), np.zeros(2, np.int64))
        ratios = _ratios(self.motion)
        rep = EvalReport(
            labels=labels,
            n=n,
            top1=_ratio(np.trace(conf), n),
            per_letter=per_letter,
            per_source=_ratios(self.sources),
            per_clip=per_clip,
            confusion=conf.tolist(),
            model_bytes=model_bytes,
            mean_invoke_us=round(1e6 * self.invoke_s / max(n, 1), 2),
            agreement=_ratio(self.agree, n) if self.agree is not None else None,
            agreement_with=agreement_with,
            runtime=runtime,
            confidence={
                f"{thr:.1f}": {"right": _ratio(right, n), "wrong": _ratio(wrong, n)}
                for thr, (right, wrong) in zip(
                    CONFIDENCE_THRESHOLDS, self.confident.tolist(), strict=True
                )
            },
            static_top1=_ratio(static_right, static_n) if static_n else None,
            static_per_source=_ratios(self.static_sources),
            motion_top1={
                letter: {"n": int(self.motion[letter][0]), "top1": ratios[letter]}
                for letter in MOTION_LETTERS
                if letter in self.motion
            },
        )
        return rep, conf.copy()


def _count(tally: dict[str, np.ndarray], keys: np.ndarray, ok: np.ndarray) -> None:
    """Add [windows, right] per key."""
    names, inverse = np.unique(keys, return_inverse=True)
    windows = np.bincount(inverse, minlength=len(names))
    right = np.bincount(inverse, weights=ok, minlength=len(names)).astype(np.int64)
    for name, count in zip(names.tolist(), np.stack([windows, right], 1), strict=True):
        tally[name] = tally.get(name, 0) + count


def _ratio(part: float, whole: float) -> float:
    """A share rounded as the report shows it (4 decimals); 0.0 of nothing."""
    return round(float(part) / float(whole), 4) if whole else 0.0


def _ratios(tally: dict[str, np.ndarray]) -> dict[str, float]:
    """right / windows per key, keys sorted."""
    return {name: _ratio(tally[name][1], tally[name][0]) for name in sorted(tally)}


def confusion_text(conf: np.ndarray, labels: list[str]) -> str:
    """Rows = true label, columns = predicted; the diagonal is what was right."""
    width = max(4, len(str(int(conf.max(initial=0)))) + 1)
    head = "true\\pred " + "".join(f"{lab:>{width}}" for lab in labels)
    lines = [head]
    for i, lab in enumerate(labels):
        if conf[i].sum() == 0:
            continue
        lines.append(f"{lab:>9} " + "".join(f"{int(v):>{width}}" for v in conf[i]))
    return "\n".join(lines) + "\n"


def confusion_png(conf: np.ndarray, labels: list[str], path: Path, title: str) -> None:
    """Row-normalised confusion matrix as a PNG (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = conf.sum(axis=1, keepdims=True)
    norm = np.divide(conf, rows, out=np.zeros(conf.shape, float), where=rows > 0)
    fig, ax = plt.subplots(figsize=(9, 8), dpi=100)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_yticks(range(len(labels)), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    for i in range(len(labels)):
        for j in range(len(labels)):
            if conf[i, j] and (i != j or norm[i, j] < 0.995):
                ax.text(
                    j,
                    i,
                    str(int(conf[i, j])),
                    ha="center",
                    va="center",
                    fontsize=5,
                    color="white" if norm[i, j] > 0.5 else "black",
                )
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)

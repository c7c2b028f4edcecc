"""Measure a .tflite letter model on any landmark CSV, with the same LiteRT path the daemon uses.

Single-frame rows become letters held still (mild jitter, the runtime's mirroring), cut by the
daemon's ring buffer; clip rows (`sequence` column) are pushed through the ring frame by frame and
cut at every frame whose label is certain (see `edge.synth.frame_labels_for_clip`), exactly the
windows the daemon would classify. Reports top-1 per letter and overall, the 24 letters held
still apart from J and Z (which are motions: a photo of them is one moment of the stroke), the
confusion matrix, per-clip accuracy, INT8-vs-float agreement, model size and mean invoke time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.classifier import LetterClassifier
from edge.dataset import LandmarkTable
from edge.features import NUM_LANDMARKS, WINDOW_CHANNELS
from edge.synth import IGNORE, SynthConfig, frame_labels_for_clip, ring_windows
from edge.training.windows import FROM_REST_SOURCES, clip_times, clips_of, held_windows

MOTION_LETTERS = ("J", "Z")


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
    if not xs:
        empty = np.zeros((0, cfg.steps, WINDOW_CHANNELS), np.float32)
        return EvalWindows(empty, np.zeros(0, np.int64), np.zeros(0, str), np.zeros(0, str))
    return EvalWindows(
        np.concatenate(xs), np.concatenate(ys), np.concatenate(srcs), np.concatenate(clips)
    )


def eval_windows(table: LandmarkTable, labels: list[str], seed: int = 0) -> EvalWindows:
    """Held windows for single-frame rows plus daemon-cut windows for clip rows."""
    parts = []
    single = table.sequence == ""
    if single.any():
        h = held_windows(table.select(single), seed=seed, labels=labels)
        parts.append(EvalWindows(h.x, h.y, h.source, np.full(len(h.y), "")))
    if (~single).any():
        parts.append(clip_eval_windows(table.select(~single), labels))
    return EvalWindows(
        np.concatenate([p.x for p in parts]),
        np.concatenate([p.y for p in parts]),
        np.concatenate([p.source for p in parts]),
        np.concatenate([p.clip for p in parts]),
    )


def timed_predict(clf: LetterClassifier, x: np.ndarray) -> tuple[np.ndarray, float]:
    """Probabilities for every window and the mean invoke time in microseconds."""
    probs = np.empty((len(x), len(clf.labels)), np.float32)
    total = 0.0
    for i, w in enumerate(x):
        probs[i] = clf.predict(w, timing=True)
        total += clf.last_invoke_s
    return probs, 1e6 * total / max(len(x), 1)


def confusion_matrix(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    conf = np.zeros((n, n), np.int64)
    np.add.at(conf, (y, pred), 1)
    return conf


def report(
    clf: LetterClassifier,
    w: EvalWindows,
    *,
    reference: LetterClassifier | None = None,
) -> tuple[EvalReport, np.ndarray]:
    """Score `clf` on the windows, and its top-1 agreement with `reference` (the float model)."""
    labels = list(clf.labels)
    probs, invoke_us = timed_predict(clf, w.x)
    pred = probs.argmax(1)
    ok = pred == w.y
    conf = confusion_matrix(w.y, pred, len(labels))
    per_letter = {}
    for i, name in enumerate(labels):
        m = w.y == i
        if m.any():
            per_letter[name] = {"n": int(m.sum()), "top1": round(float(ok[m].mean()), 4)}
    per_source = {str(s): round(float(ok[w.source == s].mean()), 4) for s in np.unique(w.source)}
    per_clip = {}
    for c in np.unique(w.clip[w.clip != ""]):
        m = w.clip == c
        letter_m = m & (w.y != labels.index("_")) if "_" in labels else m
        votes = np.bincount(pred[letter_m], minlength=len(labels)) if letter_m.any() else None
        per_clip[str(c)] = {
            "windows": int(m.sum()),
            "top1": round(float(ok[m].mean()), 4),
            "letter_windows": int(letter_m.sum()),
            "letter_top1": round(float(ok[letter_m].mean()), 4) if letter_m.any() else None,
            "majority": labels[int(votes.argmax())] if votes is not None else "",
        }
    top = probs.max(axis=1)
    confidence = {
        f"{thr:.1f}": {
            "right": round(float((ok & (top >= thr)).mean()), 4),
            "wrong": round(float((~ok & (top >= thr)).mean()), 4),
        }
        for thr in (0.5, 0.7, 0.9)
    }
    names = np.asarray(labels)
    static = (w.clip == "") & ~np.isin(names[w.y], [*MOTION_LETTERS, "_"])
    static_per_source = {
        str(src): round(float(ok[static & (w.source == src)].mean()), 4)
        for src in np.unique(w.source[static])
    }
    motion_top1 = {}
    for letter in MOTION_LETTERS:
        m = (w.clip != "") & (names[w.y] == letter)
        if m.any():
            motion_top1[letter] = {"n": int(m.sum()), "top1": round(float(ok[m].mean()), 4)}
    agreement = None
    if reference is not None:
        ref_probs, _ = timed_predict(reference, w.x)
        agreement = round(float((ref_probs.argmax(1) == pred).mean()), 4)
    rep = EvalReport(
        labels=labels,
        n=len(w.y),
        top1=round(float(ok.mean()), 4) if len(ok) else 0.0,
        per_letter=per_letter,
        per_source=per_source,
        per_clip=per_clip,
        confusion=conf.tolist(),
        model_bytes=clf.model_path.stat().st_size,
        mean_invoke_us=round(invoke_us, 2),
        agreement=agreement,
        agreement_with=str(reference.model_path) if reference is not None else None,
        runtime=clf.runtime.package,
        confidence=confidence,
        static_top1=round(float(ok[static].mean()), 4) if static.any() else None,
        static_per_source=static_per_source,
        motion_top1=motion_top1,
    )
    return rep, conf


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

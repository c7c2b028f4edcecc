"""Build labelled window sets (train / validation / test) from landmark tables, split by source.

Frames of one source are strongly correlated, so sets are split by `source`, never by row: a
source is entirely in training, validation or test. Sampling is balanced over sources per letter
so the 24k-row source does not drown the 1k-row ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from edge.dataset import BACKGROUND, DEFAULT_LABELS, LandmarkTable
from edge.features import NUM_LANDMARKS, WINDOW_CHANNELS
from edge.synth import IGNORE, SynthConfig, WindowSynth, frame_labels_for_clip


@dataclass(frozen=True)
class WindowSet:
    x: np.ndarray  # (n, steps, 64) float32
    y: np.ndarray  # (n,) int64 index into labels
    labels: tuple[str, ...]
    kind: np.ndarray  # (n,) str: 'hold', 'transition', 'motion', 'little', 'clip'
    source: np.ndarray  # (n,) str

    def __len__(self) -> int:
        return len(self.y)


# Sources whose clips start with the hand resting and rise into the letter (data/README.md).
FROM_REST_SOURCES = frozenset({"lart101"})


def clips_of(table: LandmarkTable) -> list[np.ndarray]:
    """Row indices of each real clip (rows sharing `sequence`), in frame order."""
    clips = []
    seqs = table.sequence
    for name in np.unique(seqs[seqs != ""]):
        rows = np.flatnonzero(seqs == name)
        order = np.argsort(table.frame[rows], kind="stable")
        clips.append(rows[order])
    return clips


def clip_times(table: LandmarkTable, rows: np.ndarray) -> np.ndarray:
    """Seconds of each clip frame: t_ms where recorded, else frame index at 30 fps."""
    t = table.t_ms[rows] / 1000.0
    if not np.isfinite(t).all():
        t = table.frame[rows] / 30.0
    return t.astype(np.float64)


def build_windows(
    table: LandmarkTable,
    *,
    per_class: int,
    seed: int,
    labels: Sequence[str] = DEFAULT_LABELS,
    synth: SynthConfig | None = None,
    clip_windows_per_clip: int = 120,
    background_ratio: float = 1.5,
) -> WindowSet:
    """Synthesise a shuffled, labelled window set from every row of `table`.

    Single-frame rows become holds (70%), transitions from another letter of the same source
    (20%) and, for J and Z, synthetic motion; real clips are cut into windows labelled by
    `frame_labels_for_clip`. Background `_` comes from mid-transition windows, brief or sparse
    hands and the resting/rising parts of real clips.
    """
    labels = tuple(labels)
    cls = {name: i for i, name in enumerate(labels)}
    syn = WindowSynth(synth, seed=seed)
    rng = syn.rng
    feats = table.features()
    hands = feats.reshape(-1, NUM_LANDMARKS, 3)
    single = table.sequence == ""
    xs: list[np.ndarray] = []
    ys: list[int] = []
    kinds: list[str] = []
    srcs: list[str] = []

    by_src_letter: dict[tuple[str, str], np.ndarray] = {}
    for src in np.unique(table.source[single]):
        in_src = single & (table.source == src)
        for letter in np.unique(table.labels[in_src]):
            by_src_letter[(str(src), str(letter))] = np.flatnonzero(
                in_src & (table.labels == letter)
            )
    sources_for: dict[str, list[str]] = {}
    for src, letter in by_src_letter:
        sources_for.setdefault(letter, []).append(src)

    def pick(letter: str, src: str | None = None) -> tuple[np.ndarray, str]:
        if src is None or (src, letter) not in by_src_letter:
            src = str(rng.choice(sources_for[letter]))
        return hands[int(rng.choice(by_src_letter[(src, letter)]))], src

    letters = [lab for lab in labels if lab != BACKGROUND and lab in sources_for]
    for letter in letters:
        for _ in range(per_class):
            hand, src = pick(letter)
            r = rng.random()
            if letter in ("J", "Z") and r < 0.45:
                base, _src = pick(letter if rng.random() < 0.6 or letter == "Z" else "I", src)
                xs.append(syn.motion(base, letter))
                kinds.append("motion")
            elif r < 0.75:
                xs.append(syn.held_letter(hand))
                kinds.append("hold")
            else:
                other = str(rng.choice([lab for lab in letters if lab != letter]))
                prev, _src = pick(other, src)
                tail = rng.uniform(syn.cfg.min_letter_s, 0.9)
                xs.append(syn.transition(prev, hand, tail))
                kinds.append("transition")
            ys.append(cls[letter])
            srcs.append(src)

    if BACKGROUND in cls and letters:
        for _ in range(int(per_class * background_ratio)):
            letter = str(rng.choice(letters))
            hand, src = pick(letter)
            if rng.random() < 0.65:
                other = str(rng.choice([lab for lab in letters if lab != letter]))
                nxt, _src = pick(other, src)
                tail = rng.uniform(-0.3, syn.cfg.max_background_s)
                xs.append(syn.transition(hand, nxt, tail))
                kinds.append("transition")
            else:
                xs.append(syn.little_hand(hand))
                kinds.append("little")
            ys.append(cls[BACKGROUND])
            srcs.append(src)

    x = np.stack(xs) if xs else np.zeros((0, syn.cfg.steps, WINDOW_CHANNELS), np.float32)
    y = np.asarray(ys, dtype=np.int64)
    kind = np.asarray(kinds, dtype=str)
    source = np.asarray(srcs, dtype=str)

    cx, cy, ck, cs = [x], [y], [kind], [source]
    for rows in clips_of(table):
        frame_labels = frame_labels_for_clip(
            table, rows, feats, cls, from_rest=str(table.source[rows[0]]) in FROM_REST_SOURCES
        )
        if (frame_labels == IGNORE).all():
            continue
        wx, wy = syn.clip_windows(
            clip_times(table, rows), hands[rows], frame_labels, clip_windows_per_clip
        )
        cx.append(wx)
        cy.append(wy)
        ck.append(np.full(len(wy), "clip"))
        cs.append(np.full(len(wy), str(table.source[rows[0]])))
    x, y = np.concatenate(cx), np.concatenate(cy)
    kind, source = np.concatenate(ck), np.concatenate(cs)
    order = rng.permutation(len(y))
    return WindowSet(x[order], y[order], labels, kind[order], source[order])


def held_windows(
    table: LandmarkTable,
    *,
    seed: int,
    fps: float = 15.0,
    jitter: float = 0.01,
    labels: Sequence[str] = DEFAULT_LABELS,
    synth: SynthConfig | None = None,
) -> WindowSet:
    """One plain test window per single-frame row: held still for the whole window at `fps`.

    Mild landmark jitter only (no rotation or shape changes, no mirroring beyond the runtime's
    rule: a row MediaPipe called 'Left' is mirrored), so accuracy measures the data, not the
    augmentation.
    """
    labels = tuple(labels)
    cls = {name: i for i, name in enumerate(labels)}
    cfg = synth or SynthConfig()
    syn = WindowSynth(cfg, seed=seed)
    single = np.flatnonzero(table.sequence == "")
    hands = table.features()[single].reshape(-1, NUM_LANDMARKS, 3)
    t_end = 10.0
    times = np.arange(t_end - cfg.duration_s - 0.2, t_end + 1e-9, 1.0 / fps)[-int(fps * 1.2) :]
    times[-1] = t_end
    present = np.ones(len(times), bool)
    x = np.empty((len(single), cfg.steps, WINDOW_CHANNELS), np.float32)
    for k, hand in enumerate(hands):
        pts = hand[None] + syn.rng.normal(0, jitter, (len(times), NUM_LANDMARKS, 3))
        pts[:, 0] = 0.0
        mirror = table.handedness[single[k]] == "Left"
        x[k] = syn.window(times, pts.astype(np.float32), present, t_end, bool(mirror))
    y = np.asarray([cls[str(lab)] for lab in table.labels[single]], dtype=np.int64)
    return WindowSet(x, y, labels, np.full(len(y), "held"), table.source[single])

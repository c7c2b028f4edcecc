"""Build labelled window sets (train / validation / test) from landmark tables, split by source.

Frames of one source are strongly correlated, so sets are split by `source`, never by row: a
source is entirely in training, validation or test (`edge.training.splits`).

Training windows come from continuous spelling (`edge.spelling`): random letter strings signed by
the real hands of one training source at 0.6-6 letters/s (careful holds up to 1.5 s and fluent
0.12 s letters), each real shape varied by `ShapeAugmenter`, thinned to a random camera rate of
8-30 fps, mirrored half the time, and cut by the daemon's own ring buffer at frames whose label is
clear-cut: the letter being held or stroked, or `_` while the hand moves between letters, rises
or drops. Letters are drawn so every letter and every source gets its share (the 24k-row source
does not drown the 1k-row ones). Real clips (lart101) add real holds, rises and J strokes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from edge.dataset import BACKGROUND, DEFAULT_LABELS, LandmarkTable
from edge.features import KNUCKLES, NUM_LANDMARKS, WINDOW_CHANNELS
from edge.spelling import HandPool, Speller, SpellingStyle, signer_pools
from edge.synth import (
    IGNORE,
    ShapeAugmenter,
    SynthConfig,
    frame_labels_for_clip,
    ring_windows,
    rotation,
    thin,
)


@dataclass(frozen=True)
class WindowSet:
    x: np.ndarray  # (n, steps, 67) float32
    y: np.ndarray  # (n,) int64 index into labels
    labels: tuple[str, ...]
    kind: np.ndarray  # (n,) str: what the hand did at the window's end (hold, move, stroke,
    # release, rise, drop for synthesised spelling; 'clip' for real clips; 'held' for eval)
    source: np.ndarray  # (n,) str

    def __len__(self) -> int:
        return len(self.y)


# Sources whose clips start with the hand resting and rise into the letter (data/README.md).
FROM_REST_SOURCES = frozenset({"lart101"})
CAREFUL_HOLD_S = 1.5  # a signer spelling slowly, or holding a letter
# signers release a double letter more or less visibly: training sees a wider range of bounces
# and slides than the test material's own (edge.spelling.SpellingStyle defaults); and MediaPipe
# now and then loses a held hand for a frame, which must not read as a release
TRAINING_STYLE = SpellingStyle(
    bounce_palms=(0.15, 0.7), slide_palms=(0.3, 1.4), hold_drop_p=(0.0, 0.08)
)


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


class _Quota:
    """How many more windows each class needs; letters are drawn where the need is greatest."""

    def __init__(self, need: dict[int, int]) -> None:
        self.need = dict(need)

    def done(self) -> bool:
        return all(v <= 0 for v in self.need.values())

    def take(self, cls: int) -> bool:
        if self.need.get(cls, 0) <= 0:
            return False
        self.need[cls] -= 1
        return True

    def weights(self, classes: list[int]) -> np.ndarray:
        w = np.array([max(self.need.get(c, 0), 0) for c in classes], np.float64) + 1.0
        return w / w.sum()


def random_word(letters: list[str], weights: np.ndarray, rng: np.random.Generator) -> str:
    """A random letter string (no language: the lexicon stage knows words), often with a double
    letter, J or Z somewhere, so releases and strokes are common enough to learn."""
    n = int(rng.choice([1, 2, 3, 4, 5, 6], p=[0.12, 0.18, 0.22, 0.2, 0.16, 0.12]))
    word = [str(rng.choice(letters, p=weights)) for _ in range(n)]
    if n >= 2 and rng.random() < 0.45:
        i = int(rng.integers(n - 1))
        word[i + 1] = word[i]
    return "".join(word)


def stream_windows(
    speller: Speller,
    pool: HandPool,
    word: str,
    rate: float,
    synth: SynthConfig,
    cls: dict[str, int],
    quota: _Quota,
    *,
    per_letter: int = 4,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows cut by the ring from one synthesised word, at most `per_letter` per held letter
    and as many background windows, only for classes the quota still needs; with the phase each
    window ends in."""
    rng = speller.rng
    s = speller.spell(word, pool, rate)
    keep = thin(s.t, float(rng.uniform(*synth.fps)), rng)
    t, lm, present = s.t[keep], s.landmarks[keep], s.present[keep]  # indexing copies
    truth, certain, phases = s.truth[keep], s.certain[keep], s.phase[keep]
    if rng.random() < synth.mirror_p:
        lm[..., 0] = 1.0 - lm[..., 0]  # the other hand, seen by the same camera
    candidates = np.flatnonzero(present & certain)
    rng.shuffle(candidates)
    # the release of a double letter is rare and short: its frames go first
    candidates = candidates[np.argsort(phases[candidates] != "release", kind="stable")]
    picked: list[int] = []
    labels: list[int] = []
    per_class: dict[int, int] = {}
    cap = per_letter * max(len(word), 1)
    for i in candidates:
        c = cls[str(truth[i])]
        limit = cap if c == cls[BACKGROUND] else per_letter * word.count(str(truth[i]))
        if per_class.get(c, 0) >= limit:
            continue
        # a release is the only sign of a double letter: always kept, past the quota
        if not quota.take(c) and phases[i] != "release":
            continue
        per_class[c] = per_class.get(c, 0) + 1
        picked.append(int(i))
        labels.append(c)
    if not picked:
        empty = np.zeros((0, synth.steps, WINDOW_CHANNELS), np.float32)
        return empty, np.zeros(0, np.int64), np.zeros(0, str)
    order = np.argsort(picked)
    at = np.asarray(picked)[order]
    x = ring_windows(t, lm, present, at, synth, aspect=s.width / s.height)
    return x, np.asarray(labels, np.int64)[order], phases[at]


def augment_clip(
    landmarks: np.ndarray, aspect: float, rng: np.random.Generator, cfg: SynthConfig
) -> np.ndarray:
    """A real clip seen by another camera: one small rotation about each frame's wrist (half
    of the shape ranges), in aspect-corrected units so the path keeps its proportions."""
    angles = rng.uniform(-0.5, 0.5, 3) * (cfg.roll_deg, cfg.yaw_deg, cfg.pitch_deg)
    rot = rotation(*np.radians(angles))
    pts = landmarks.astype(np.float32).copy()
    pts[..., 0] *= aspect
    wrist = pts[:, :1, :]
    pts = wrist + (pts - wrist) @ rot.T
    pts[..., 0] /= aspect
    return pts


def clip_windows(
    table: LandmarkTable,
    rows: np.ndarray,
    frame_labels: np.ndarray,
    n: int,
    synth: SynthConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """`n` windows of one real clip (time-warped, thinned, turned), labelled by their end frame."""
    xs, ys = [], []
    base_t = clip_times(table, rows)
    lm_all = table.coords[rows].reshape(-1, NUM_LANDMARKS, 3)
    aspect = float(table.aspect()[rows[0]])
    tries = 0
    while sum(len(y) for y in ys) < n and tries < 4 * n + 8:
        tries += 1
        t = base_t[0] + (base_t - base_t[0]) * rng.uniform(0.8, 1.25)  # signing speed
        lm = augment_clip(lm_all, aspect, rng, synth)
        if rng.random() < synth.mirror_p:
            lm[..., 0] = 1.0 - lm[..., 0]
        keep = thin(t, float(rng.uniform(*synth.fps)), rng)
        labelled = np.flatnonzero(keep & (frame_labels != IGNORE))
        if not len(labelled):
            continue
        want = min(len(labelled), n - sum(len(y) for y in ys), 12)
        chosen = np.sort(rng.choice(labelled, want, replace=False))
        kept = np.flatnonzero(keep)
        at = np.searchsorted(kept, chosen)
        x = ring_windows(t[kept], lm[kept], np.ones(len(kept), bool), at, synth, aspect=aspect)
        xs.append(x)
        ys.append(frame_labels[chosen])
    if not xs:
        return np.zeros((0, synth.steps, WINDOW_CHANNELS), np.float32), np.zeros(0, np.int64)
    return np.concatenate(xs), np.concatenate(ys).astype(np.int64)


def build_windows(
    table: LandmarkTable,
    *,
    per_class: int,
    seed: int,
    labels: Sequence[str] = DEFAULT_LABELS,
    synth: SynthConfig | None = None,
    clip_windows_per_clip: int = 120,
    background_ratio: float = 4.0,
    style: SpellingStyle | None = None,
    signer_weight: float = 1.0,
) -> WindowSet:
    """A shuffled, labelled window set: continuous spelling from every single-frame source of
    `table` (per_class windows per letter, background_ratio times that of `_`) plus real clips."""
    labels = tuple(labels)
    synth = synth or SynthConfig()
    cls = {name: i for i, name in enumerate(labels)}
    rng = np.random.default_rng(seed)
    augmenter = ShapeAugmenter(synth, rng)
    style = style or TRAINING_STYLE
    fluent = Speller(style, rng, augment=augmenter)
    careful = Speller(replace(style, max_hold_s=CAREFUL_HOLD_S), rng, augmenter)
    pools = [p for p in signer_pools(table, signer_weight) if p.letters & set(cls)]
    pool_p = np.array([p.weight for p in pools]) / sum(p.weight for p in pools) if pools else None
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    srcs: list[np.ndarray] = []
    if pools:
        letters = [
            lab for lab in labels if lab != BACKGROUND and any(lab in p.letters for p in pools)
        ]
        need = {cls[lab]: per_class for lab in letters}
        if BACKGROUND in cls:
            need[cls[BACKGROUND]] = int(per_class * background_ratio)
        quota = _Quota(need)
        stalls = 0
        while not quota.done() and stalls < 200:
            pool = pools[int(rng.choice(len(pools), p=pool_p))]
            known = [lab for lab in letters if lab in pool.letters]
            word = random_word(known, quota.weights([cls[lab] for lab in known]), rng)
            slow = rng.random() < 0.3
            rate = rng.uniform(0.6, 1.5) if slow else rng.uniform(1.2, 6.0)
            speller = careful if slow else fluent
            x, y, phase = stream_windows(speller, pool, word, rate, synth, cls, quota)
            stalls = stalls + 1 if not len(y) else 0
            xs.append(x)
            ys.append(y)
            kinds.append(phase)
            srcs.append(np.full(len(y), pool.source))
    feats = table.features()
    for rows in clips_of(table):
        source = str(table.source[rows[0]])
        frame_labels = frame_labels_for_clip(
            table, rows, feats, cls, from_rest=source in FROM_REST_SOURCES
        )
        if (frame_labels == IGNORE).all():
            continue
        x, y = clip_windows(table, rows, frame_labels, clip_windows_per_clip, synth, rng)
        xs.append(x)
        ys.append(y)
        kinds.append(np.full(len(y), "clip"))
        srcs.append(np.full(len(y), source))
    if not xs:
        raise ValueError("no windows: the table has no usable rows for these labels")
    x, y = np.concatenate(xs), np.concatenate(ys)
    kind, source = np.concatenate(kinds), np.concatenate(srcs)
    order = rng.permutation(len(y))
    return WindowSet(x[order], y[order], labels, kind[order], source[order])


def held_windows(
    table: LandmarkTable,
    *,
    seed: int | np.random.Generator,
    fps: float = 15.0,
    jitter: float = 0.01,
    labels: Sequence[str] = DEFAULT_LABELS,
    synth: SynthConfig | None = None,
) -> WindowSet:
    """One plain test window per single-frame row: the hand held still for 1.2 s at `fps`, cut
    by the ring at its last frame. `seed` may be a Generator, so a reader of chunks draws one
    stream of jitter across them.

    Mild landmark jitter only (`jitter` palm sizes per frame; no rotation or shape changes),
    mirrored by the runtime's rule (a row MediaPipe called 'Left' is mirrored), so accuracy
    measures the data, not the augmentation.
    """
    labels = tuple(labels)
    cls = {name: i for i, name in enumerate(labels)}
    cfg = synth or SynthConfig()
    rng = np.random.default_rng(seed)
    single = np.flatnonzero(table.sequence == "")
    coords = table.coords[single].reshape(-1, NUM_LANDMARKS, 3)
    aspect = table.aspect()[single]
    times = np.arange(int(fps * 1.2)) / fps
    present = np.ones(len(times), bool)
    last = np.array([len(times) - 1])
    x = np.empty((len(single), cfg.steps, WINDOW_CHANNELS), np.float32)
    for k, hand in enumerate(coords):
        knuckles = (hand[list(KNUCKLES), :2] - hand[0, :2]) * [aspect[k], 1.0]
        palm = float(np.linalg.norm(knuckles, axis=1).mean())
        noise = rng.normal(0, jitter * palm, (len(times), NUM_LANDMARKS, 3)).astype(np.float32)
        noise[..., 0] /= aspect[k]
        pts = hand[None] + noise
        hand_label = np.full(len(times), table.handedness[single[k]])
        x[k] = ring_windows(times, pts, present, last, cfg, aspect=float(aspect[k]),
                            handedness=hand_label, mirror_mode="auto")[0]  # fmt: skip
    y = np.asarray([cls[str(lab)] for lab in table.labels[single]], dtype=np.int64)
    return WindowSet(x, y, labels, np.full(len(y), "held"), table.source[single])

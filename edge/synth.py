"""What training varies about a real hand, and how a recorded or synthesised stream becomes windows.

Most data is single frames of 20 sources, so a stranger's hand is imitated by varying each real
shape (3-D rotation, frame aspect, depth scale, per-landmark shape noise: `ShapeAugmenter`), and
the signing itself by `edge.spelling` (holds, moves, strokes, releases). Every stream, synthetic or
a real clip, is cut into windows by pushing its frames through the daemon's own `FeatureRing` and
asking it for the window at a frame (`ring_windows`), so training sees exactly what the daemon's
classifier sees at that frame, path channels included: there is no second feature pipeline.

Real clips (`sequence` column) get per-frame labels from `frame_labels_for_clip` (held part = the
letter, resting hand and rising into the letter = background `_`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.dataset import BACKGROUND, MOTION_LETTERS, LandmarkTable
from edge.features import KNUCKLES, NUM_LANDMARKS, WINDOW_CHANNELS
from edge.observation import HandObservation
from edge.ringbuffer import FeatureRing

IGNORE = -1  # per-frame label of a frame that is neither a clean letter nor background


@dataclass(frozen=True)
class SynthConfig:
    """Window geometry (must match the daemon's classifier config) and augmentation ranges."""

    steps: int = 20
    duration_s: float = 0.6
    max_gap_s: float = 0.3
    fps: tuple[float, float] = (8.0, 30.0)
    # rotation ranges: cameras and signers differ most in how the hand is turned (measured on
    # the first model: 30/35/30 beat 15/25/20 by 4 points of held-out top-1, 45/50/40 was worse)
    roll_deg: float = 30.0  # in-plane rotation
    yaw_deg: float = 35.0
    pitch_deg: float = 30.0
    aspect_jitter: float = 0.15  # x scaled by 1 +/- this (unknown or wrong frame aspect)
    shear: float = 0.0  # x += shear * y, shear in +/- this (camera tilt / lens; 0 = off)
    y_scale_jitter: float = 0.0  # y scaled by 1 +/- this (per-axis scale; 0 = off)
    z_scale: tuple[float, float] = (0.6, 1.5)  # MediaPipe depth scale differs between sources
    shape_noise: float = 0.03  # static per-landmark noise (palm units): other hands, same letter
    finger_scale: float = 0.0  # +/- per-finger bone length (measured: 0.12 did not help; off)
    mirror_p: float = 0.5  # random mirroring: the model works for either hand


FINGERS = ((1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))


def scale_fingers(hand: np.ndarray, factors: np.ndarray) -> np.ndarray:
    """Scale each finger's bones (not the palm) by its factor: the same handshape on other hands."""
    out = hand.copy()
    for f, chain in enumerate(FINGERS):
        prev_old = hand[0] if chain[0] == 1 else hand[chain[0]]
        prev_new = out[0] if chain[0] == 1 else out[chain[0]]
        start = 0 if chain[0] == 1 else 1
        for k in chain[start:]:
            bone = hand[k] - prev_old
            prev_old = hand[k]
            out[k] = prev_new + factors[f] * bone
            prev_new = out[k]
    return out


def rotation(roll: float, yaw: float, pitch: float) -> np.ndarray:
    """3x3 rotation (radians): roll about z (image plane), yaw about y, pitch about x."""
    cr, sr = np.cos(roll), np.sin(roll)
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch), np.sin(pitch)
    rz = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rx = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    return (rz @ ry @ rx).astype(np.float32)


class ShapeAugmenter:
    """Seeded static augmentation of one normalised hand (21, 3): another signer, another camera."""

    def __init__(self, config: SynthConfig | None = None, seed: int | np.random.Generator = 0):
        self.cfg = config or SynthConfig()
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)

    def shape(self, hand: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
        """Rotation, aspect, depth scale and per-landmark noise applied to one hand."""
        rng = rng or self.rng
        cfg = self.cfg
        h = hand.reshape(NUM_LANDMARKS, 3).astype(np.float32, copy=True)
        if cfg.finger_scale:
            h = scale_fingers(h, rng.uniform(1 - cfg.finger_scale, 1 + cfg.finger_scale, 5))
        h += (
            rng.normal(0, cfg.shape_noise, h.shape).astype(np.float32)
            * (np.arange(21) > 0)[:, None]
        )
        h[:, 0] *= 1.0 + rng.uniform(-cfg.aspect_jitter, cfg.aspect_jitter)
        if cfg.y_scale_jitter:
            h[:, 1] *= 1.0 + rng.uniform(-cfg.y_scale_jitter, cfg.y_scale_jitter)
        if cfg.shear:
            h[:, 0] += rng.uniform(-cfg.shear, cfg.shear) * h[:, 1]
        h[:, 2] *= rng.uniform(*cfg.z_scale)
        rot = rotation(
            np.radians(rng.uniform(-cfg.roll_deg, cfg.roll_deg)),
            np.radians(rng.uniform(-cfg.yaw_deg, cfg.yaw_deg)),
            np.radians(rng.uniform(-cfg.pitch_deg, cfg.pitch_deg)),
        )
        return h @ rot.T

    __call__ = shape  # an `edge.spelling.Speller` augment callable: (shape, rng) -> shape


def thin(times: np.ndarray, fps: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Keep-mask that thins a stream to `fps`: time is cut into slots of 1/fps (the first frame
    in the middle of its slot, or at a random phase with `rng`) and the first frame of each slot
    is kept, what a slower camera, or a Pi that drops frames, delivers. Slots, not "1/fps since
    the last kept frame": a 30 fps camera's frames jitter around 1/30 s apart and must all be
    kept at 30 fps. A stream slower than `fps` keeps every frame."""
    times = np.asarray(times, np.float64)
    if not len(times):
        return np.zeros(0, bool)
    dt = 1.0 / fps
    origin = times[0] - 0.5 * dt - (rng.uniform(0, dt) if rng is not None else 0.0)
    slots = np.floor((times - origin) / dt)
    return np.r_[True, slots[1:] != slots[:-1]]


def ring_windows(
    times: np.ndarray,
    landmarks: np.ndarray,
    present: np.ndarray,
    at: np.ndarray,
    config: SynthConfig,
    *,
    aspect: float | np.ndarray = 1.0,
    handedness: np.ndarray | None = None,
    mirror_mode: str = "never",
) -> np.ndarray:
    """Windows (len(at), steps, channels) the daemon's ring would give at frames `at` of a stream.

    times (n,), landmarks (n, 21, 3) image-normalised, present (n,) bool; `at` are indices of
    frames with a hand (the daemon classifies only those), ascending.
    """
    ring = FeatureRing(FeatureRing.capacity_for(config.duration_s, 60.0))
    aspects = np.broadcast_to(np.asarray(aspect, np.float32), (len(times),))
    out = np.empty((len(at), config.steps, WINDOW_CHANNELS), np.float32)
    wanted = iter(range(len(at)))
    k = next(wanted, None)
    for i in range(len(times)):
        hand = None if handedness is None else str(handedness[i]) or None
        lm = landmarks[i] if present[i] else None
        ring.push(HandObservation(float(times[i]), lm, hand, aspect=float(aspects[i])))
        while k is not None and at[k] == i:
            out[k] = ring.window(
                float(times[i]), config.duration_s, config.steps, config.max_gap_s, mirror_mode
            )
            k = next(wanted, None)
    return out


STROKE_ONSET_PALMS = 0.5  # how far the wrist has gone when a J or Z stroke has begun


def _stroke_onset(
    table: LandmarkTable, rows: np.ndarray, candidates: np.ndarray, *, after_pause: bool
) -> int:
    """Index of the frame where a J or Z stroke starts: the first frame (among `candidates`, in
    clip order) whose wrist is STROKE_ONSET_PALMS palm sizes from where it started, measured
    from where the raised hand first paused when `after_pause` (a clip that rises from rest),
    else from the first frame (len(rows) when it never moves that far)."""
    idx = np.flatnonzero(candidates)
    if not len(idx):
        return len(rows)
    pts = table.coords[rows].reshape(-1, NUM_LANDMARKS, 3)[:, :, :2].astype(np.float64)
    pts[:, :, 0] *= table.aspect()[rows][:, None]
    palm = np.linalg.norm(pts[:, list(KNUCKLES)] - pts[:, :1], axis=2).mean(axis=1)
    step = np.r_[0.0, np.linalg.norm(np.diff(pts[idx, 0], axis=0), axis=1) / palm[idx][1:]]
    paused = np.flatnonzero(np.convolve(step, np.ones(3) / 3, mode="same") < 0.1)
    anchor = idx[paused[0]] if after_pause and len(paused) else idx[0]
    later = idx[idx >= anchor]
    moved = np.linalg.norm(pts[later, 0] - pts[anchor, 0], axis=1) / max(palm[anchor], 1e-6)
    started = later[moved >= STROKE_ONSET_PALMS]
    return int(started[0]) if len(started) else len(rows)


def frame_labels_for_clip(
    table: LandmarkTable,
    rows: np.ndarray,
    features: np.ndarray,
    class_index: dict[str, int],
    *,
    from_rest: bool = True,
    motion_letters: tuple[str, ...] = MOTION_LETTERS,
) -> np.ndarray:
    """Per-frame labels for one real clip (rows in frame order): letter, `_` or IGNORE.

    The lart101 clips start with the hand resting low (MediaPipe may even track the resting
    hand in the lap for seconds), rise into the letter and hold it. Resting (wrist in the bottom
    fifth of the frame) and rising are background; the held part (hand raised and the shape
    steady) is the letter; anything else is ambiguous and ignored. J and Z are strokes: their
    letter starts where the stroke does (the wrist `STROKE_ONSET_PALMS` palm sizes from where the
    raised hand was), and the raised hand waiting before it is ignored (it is an I or a pointing
    index, not yet the letter). A clip that does not start from rest (`from_rest=False`, e.g.
    gh0stsh0t: a close-up of the motion) is the letter throughout, from its stroke's start for
    J and Z.
    """
    letter = str(table.labels[rows[0]])
    if not from_rest:
        labels = np.full(len(rows), class_index[letter], np.int64)
        if letter in motion_letters:
            onset = _stroke_onset(table, rows, np.ones(len(rows), bool), after_pause=False)
            labels[:onset] = IGNORE
        return labels
    wrist_y = table.coords[rows, 1]
    f = features[rows]
    speed = np.r_[0.0, np.linalg.norm(np.diff(f, axis=0), axis=1)]
    smooth = np.convolve(speed, np.ones(5) / 5, mode="same")
    resting = wrist_y > 0.8
    raised = wrist_y < 0.75
    labels = np.full(len(rows), IGNORE, np.int64)
    bg = class_index[BACKGROUND]
    labels[resting] = bg
    if letter in motion_letters:
        onset = _stroke_onset(table, rows, raised, after_pause=True)
        after = np.zeros(len(rows), bool)
        after[onset:] = True
        labels[raised & after] = class_index[letter]
        return labels
    steady = raised & (smooth < 0.15)
    if steady.any():
        first = int(np.flatnonzero(steady)[0])
        rising = np.zeros(len(rows), bool)
        rising[:first] = ~resting[:first]
        labels[rising] = bg
        labels[first:][steady[first:]] = class_index[letter]
    return labels

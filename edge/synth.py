"""Turn landmark rows into the 1 s windows the sequence model sees, exactly as the daemon does.

Most data is single frames, so a window is synthesised as a timestamped frame stream (random camera
rate 8-30 fps, timing jitter, dropped frames), with the hand held (landmark jitter, slow rotation
drift, 3-D rotation, aspect and depth-scale changes), moving between letters, or tracing J and Z.
Every stream goes through the SAME `normalize_landmarks` and `resample_window` the daemon uses, so
training sees what the ring buffer produces. Real clips (`sequence` column) are cut into windows
the same way, with per-frame labels from `frame_labels_for_clip` (held part = letter, resting hand
and rising into the letter = background `_`).

Labels follow what the signer is doing at the END of the window: a letter once it has been held
for at least `min_letter_s`, background `_` while the hand is moving between letters, has only just
appeared, or is resting. Windows in between are ambiguous and not generated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.dataset import BACKGROUND, LandmarkTable
from edge.features import (
    FEATURE_DIM,
    NUM_LANDMARKS,
    WINDOW_CHANNELS,
    normalize_landmarks,
    resample_window,
)

IGNORE = -1  # per-frame label of a clip frame that is neither a clean letter nor background


@dataclass(frozen=True)
class SynthConfig:
    """Window geometry (must match the daemon's classifier config) and augmentation ranges."""

    steps: int = 30
    duration_s: float = 1.0
    max_gap_s: float = 0.3
    fps: tuple[float, float] = (8.0, 30.0)
    min_letter_s: float = 0.4  # a letter label needs this much held hand at the window's end
    max_background_s: float = 0.15  # at most this much of the new letter for a "_" label
    # rotation ranges: cameras and signers differ most in how the hand is turned (measured: 30/35/30
    # beat 15/25/20 by 4 points of held-out top-1, 45/50/40 was worse again)
    roll_deg: float = 30.0  # in-plane rotation
    yaw_deg: float = 35.0
    pitch_deg: float = 30.0
    aspect_jitter: float = 0.15  # x scaled by 1 +/- this (unknown or wrong frame aspect)
    shear: float = 0.0  # x += shear * y, shear in +/- this (camera tilt / lens; 0 = off)
    y_scale_jitter: float = 0.0  # y scaled by 1 +/- this (per-axis scale; 0 = off)
    z_scale: tuple[float, float] = (0.6, 1.5)  # MediaPipe depth scale differs between sources
    shape_noise: float = 0.03  # static per-landmark noise (palm units): other hands, same letter
    finger_scale: float = 0.0  # +/- per-finger bone length (measured: 0.12 did not help; off)
    jitter: tuple[float, float] = (0.004, 0.03)  # per-frame landmark noise (palm units)
    drift_deg: float = 6.0  # slow rotation drift over the window
    drop_p: tuple[float, float] = (0.0, 0.15)  # per-frame detection dropout
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


def rotations(roll: np.ndarray, yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """Batch of rotations (n, 3, 3) for per-frame angles."""
    return np.stack([rotation(r, y, p) for r, y, p in zip(roll, yaw, pitch, strict=True)])


class WindowSynth:
    """Seeded generator of (window (steps, 64), label) pairs from normalised hands."""

    def __init__(self, config: SynthConfig | None = None, seed: int = 0):
        self.cfg = config or SynthConfig()
        self.rng = np.random.default_rng(seed)

    # --- building blocks -------------------------------------------------------------------
    def frame_times(self, t0: float, t1: float, fps: float | None = None) -> np.ndarray:
        """Camera timestamps in [t0, t1] at a random rate with jitter and dropped frames."""
        rng, cfg = self.rng, self.cfg
        fps = fps or rng.uniform(*cfg.fps)
        dt = 1.0 / fps
        n = max(int((t1 - t0) / dt) + 1, 1)
        t = t1 - dt * np.arange(n)[::-1] + rng.uniform(-0.15, 0.15, n) * dt
        t = np.sort(np.clip(t, t0, t1))
        drop = rng.uniform(*cfg.drop_p)
        keep = rng.random(n) >= drop
        keep[-1] = True  # the daemon classifies on a frame that has a hand
        return t[keep]

    def shape(self, hand: np.ndarray) -> np.ndarray:
        """Static augmentation of one normalised hand (21, 3): rotation, aspect, depth, shape."""
        rng, cfg = self.rng, self.cfg
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

    def hold(self, hand: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Frames (n, 21, 3) of a held hand: slow rotation drift plus per-frame jitter."""
        rng, cfg = self.rng, self.cfg
        n = len(times)
        u = (times - times[0]) / max(times[-1] - times[0], 1e-3) if n > 1 else np.zeros(1)
        d = np.radians(cfg.drift_deg)
        roll = rng.uniform(-d, d) * u + rng.uniform(0, d / 3) * np.sin(
            2 * np.pi * rng.uniform(0.3, 2) * times + rng.uniform(0, 6.3)
        )
        yaw = rng.uniform(-d, d) * u
        pitch = rng.uniform(-d, d) * u
        pts = np.einsum("nij,lj->nli", rotations(roll, yaw, pitch), hand)
        sigma = rng.uniform(*cfg.jitter)
        pts += rng.normal(0, sigma, pts.shape).astype(np.float32)
        return pts.astype(np.float32)

    def window(
        self,
        times: np.ndarray,
        pts: np.ndarray,
        present: np.ndarray,
        t_end: float,
        mirror: bool,
    ) -> np.ndarray:
        """Normalise the frames and resample them exactly like the daemon's ring buffer."""
        cfg = self.cfg
        n = len(times)
        feats = np.zeros((n, FEATURE_DIM), np.float32)
        if present.any():
            feats[present] = normalize_landmarks(pts[present], mirror=mirror)
        return resample_window(
            times,
            feats,
            present,
            t_end=t_end,
            duration=cfg.duration_s,
            steps=cfg.steps,
            max_gap=cfg.max_gap_s,
        )

    def _mirror(self) -> bool:
        return bool(self.rng.random() < self.cfg.mirror_p)

    # --- window kinds -----------------------------------------------------------------------
    def held_letter(self, hand: np.ndarray, on_s: float | None = None) -> np.ndarray:
        """The hand held for `on_s` seconds up to the window's end (default: whole window)."""
        rng, cfg = self.rng, self.cfg
        if on_s is None:
            on_s = cfg.duration_s + 0.5 if rng.random() < 0.7 else rng.uniform(cfg.min_letter_s, 1)
        t_end = 10.0
        times = self.frame_times(t_end - on_s, t_end)
        pts = self.hold(self.shape(hand), times)
        return self.window(times, pts, np.ones(len(times), bool), t_end, self._mirror())

    def transition(self, hand_a: np.ndarray, hand_b: np.ndarray, tail_s: float) -> np.ndarray:
        """Letter A held, a 0.15-0.4 s move to letter B, B held for `tail_s` up to the end.

        tail_s < 0 ends the window inside the move (-tail_s seconds before B is reached).
        """
        rng, cfg = self.rng, self.cfg
        move = rng.uniform(0.15, 0.4)
        t_end = 10.0
        t_b = t_end - tail_s  # when B is reached
        t_a = t_b - move  # when A is left
        times = self.frame_times(t_end - cfg.duration_s - 0.4, t_end)
        a, b = self.shape(hand_a), self.shape(hand_b)
        u = np.clip((times - t_a) / move, 0, 1)
        u = u * u * (3 - 2 * u)  # smooth start and stop
        base = (1 - u)[:, None, None] * a + u[:, None, None] * b
        pts = np.empty((len(times), NUM_LANDMARKS, 3), np.float32)
        held = self.hold(np.zeros((NUM_LANDMARKS, 3), np.float32), times)  # jitter only
        pts[:] = base + held
        # moving hands blur: a little extra noise during the move
        moving = (u > 0) & (u < 1)
        pts[moving] += rng.normal(0, 0.04, pts[moving].shape).astype(np.float32)
        return self.window(times, pts, np.ones(len(times), bool), t_end, self._mirror())

    def motion(self, hand: np.ndarray, letter: str) -> np.ndarray:
        """J (pinky handshape twisting and sweeping) or Z (index zig-zag) traced by the hand.

        Landmarks are wrist-relative, so the hand's path itself is invisible: what the model can
        see is the change of orientation the motion causes, which is what is synthesised here.
        """
        rng, cfg = self.rng, self.cfg
        dur = rng.uniform(0.5, 1.0)
        t_end = 10.0
        t_stop = t_end - rng.uniform(0.0, max(0.0, 1.0 - dur) + 0.2)  # motion may end early
        times = self.frame_times(t_end - cfg.duration_s - 0.3, t_end)
        u = np.clip((times - (t_stop - dur)) / dur, 0, 1)
        sign = rng.choice((-1.0, 1.0))
        if letter == "J":
            s = u * u * (3 - 2 * u)
            roll = sign * np.radians(rng.uniform(40, 100)) * s
            yaw = sign * np.radians(rng.uniform(20, 70)) * s
            pitch = np.radians(rng.uniform(-20, 20)) * np.sin(np.pi * u)
        else:  # Z: three strokes, small orientation changes
            amp = np.radians(rng.uniform(6, 18))
            zig = np.interp(u, [0, 1 / 3, 2 / 3, 1], [0, 1, -1, 0])
            roll = sign * amp * zig
            yaw = amp * np.interp(u, [0, 1 / 3, 2 / 3, 1], [-1, -1, 1, 1]) * rng.uniform(0.5, 1)
            pitch = amp * 0.5 * zig
        base = self.shape(hand)
        pts = np.einsum("nij,lj->nli", rotations(roll, yaw, pitch), base)
        pts += self.hold(np.zeros((NUM_LANDMARKS, 3), np.float32), times)
        return self.window(times, pts, np.ones(len(times), bool), t_end, self._mirror())

    def little_hand(self, hand: np.ndarray) -> np.ndarray:
        """Background: a hand seen only briefly at the end, or detected on few frames."""
        rng, cfg = self.rng, self.cfg
        t_end = 10.0
        times = self.frame_times(t_end - cfg.duration_s - 0.3, t_end)
        if rng.random() < 0.5:
            present = times >= t_end - rng.uniform(0.0, cfg.max_background_s)
        else:
            present = rng.random(len(times)) < rng.uniform(0.05, 0.3)
        present[-1] = True
        pts = self.hold(self.shape(hand), times)
        return self.window(times, pts, present, t_end, self._mirror())

    def clip_windows(
        self,
        times: np.ndarray,
        hands: np.ndarray,
        frame_labels: np.ndarray,
        n: int,
        *,
        augment: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """`n` windows cut from one real clip, labelled by what the clip shows at their end.

        times: (k,) seconds of the frames with a hand; hands: (k, 21, 3) normalised;
        frame_labels: (k,) int, class index per frame or IGNORE. A window ending at frame i is
        labelled frame_labels[i] if that frame and every frame in the last `min_letter_s` agree
        on it (a letter held long enough, or background); otherwise it is skipped.
        """
        rng, cfg = self.rng, self.cfg
        ends = _clip_window_ends(times, frame_labels, cfg.min_letter_s)
        if len(ends) == 0 or n <= 0:
            return np.zeros((0, cfg.steps, WINDOW_CHANNELS), np.float32), np.zeros(0, np.int64)
        out = np.empty((n, cfg.steps, WINDOW_CHANNELS), np.float32)
        labels = np.empty(n, np.int64)
        for k in range(n):
            i = int(rng.choice(ends))
            if augment:
                warp = rng.uniform(0.8, 1.25)  # signing speed
                t = times[i] + (times - times[i]) * warp
                keep = _subsample(t, rng.uniform(*cfg.fps), rng)
                keep[i] = True
                angles = rng.uniform(-0.5, 0.5, 3) * (cfg.roll_deg, cfg.yaw_deg, cfg.pitch_deg)
                pts = hands[keep] @ rotation(*np.radians(angles)).T
                pts = pts + rng.normal(0, rng.uniform(*cfg.jitter) / 2, pts.shape)
                t_end = float(t[i])
                t = t[keep]
            else:
                t, pts, t_end = times, hands, float(times[i])
            mirror = self._mirror() if augment else False
            out[k] = self.window(t, pts.astype(np.float32), np.ones(len(t), bool), t_end, mirror)
            labels[k] = frame_labels[i]
        return out, labels


def _subsample(times: np.ndarray, fps: float, rng: np.random.Generator) -> np.ndarray:
    """Keep-mask that thins a 30 fps clip to about `fps` (what a slower camera would deliver)."""
    keep = np.zeros(len(times), bool)
    next_t = times[0] + rng.uniform(0, 1 / fps)
    for i, t in enumerate(times):
        if t >= next_t:
            keep[i] = True
            next_t = t + 1 / fps
    return keep


def _clip_window_ends(times: np.ndarray, labels: np.ndarray, min_s: float) -> np.ndarray:
    """Frame indices where the label is stable for the last `min_s` seconds (and not IGNORE)."""
    ends = []
    for i in range(len(times)):
        lab = labels[i]
        if lab == IGNORE:
            continue
        j = int(np.searchsorted(times, times[i] - min_s, side="left"))
        if times[i] - times[0] < min_s and lab != labels[0]:
            continue
        if (labels[j : i + 1] == lab).all():
            ends.append(i)
    return np.asarray(ends, dtype=np.int64)


def frame_labels_for_clip(
    table: LandmarkTable,
    rows: np.ndarray,
    features: np.ndarray,
    class_index: dict[str, int],
    *,
    from_rest: bool = True,
    motion_letters: tuple[str, ...] = ("J", "Z"),
) -> np.ndarray:
    """Per-frame labels for one real clip (rows in frame order): letter, `_` or IGNORE.

    The lart101 clips start with the hand resting low (MediaPipe may even track the resting
    hand in the lap for seconds), rise into the letter and hold it. Resting (wrist in the bottom
    fifth of the frame) and rising are background; the held part (hand raised and the shape
    steady) is the letter; anything else is ambiguous and ignored. For J and Z every frame of the
    raised hand is the letter, since the motion is the letter. A clip that does not start from
    rest (`from_rest=False`, e.g. gh0stsh0t: a close-up of the motion only) is the letter
    throughout.
    """
    letter = str(table.labels[rows[0]])
    if not from_rest:
        return np.full(len(rows), class_index[letter], np.int64)
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
        labels[raised] = class_index[letter]
        return labels
    steady = raised & (smooth < 0.15)
    if steady.any():
        first = int(np.flatnonzero(steady)[0])
        rising = np.zeros(len(rows), bool)
        rising[:first] = ~resting[:first]
        labels[rising] = bg
        labels[first:][steady[first:]] = class_index[letter]
    return labels

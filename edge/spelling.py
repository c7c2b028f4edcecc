"""Continuous fingerspelling synthesised from real single frames: what a stranger's word looks like.

There is no real continuous spelling in ../shared/data, so word streams are built from real hands
of ONE source: each letter is a real photo's landmarks held for 0.12-0.5 s, the hand moves to the
next letter in 0.05-0.25 s (shape blended, wrist sliding a little, frames lost to motion blur now
and then), J and Z are strokes (J: the I hand twisting down into a hook; Z: the index tracing three
strokes), a double letter has the release a fluent signer makes (a small bounce or a slide of the
same shape), and the word starts with the hand rising into view and ends with it dropping away.

The hand is placed in an image (wrist position, palm size in frame-height units, frame aspect), so
the output is MediaPipe-like image-normalised landmarks: the daemon's own feature code (shape AND
the hand's path in palm units) sees them exactly as it sees a camera. The same generator makes the
committed word test sets (from held-out sources, no extra augmentation) and the training streams
(from training sources, with an `augment` callable that varies each real shape).

Per frame, `truth` says what the hand does (a letter, or `_` while moving or resting) and `certain`
whether that is clear-cut (the ends of moves and the start of a stroke are left uncertain, so a
training label never claims a letter the hand has not reached yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from edge.dataset import BACKGROUND, LETTERS, MOTION_LETTERS, LandmarkTable, letters_per_second
from edge.features import NUM_LANDMARKS
from edge.synth import rotation

Shape = np.ndarray  # (21, 3) float32: wrist-relative, palm-size units, one chirality


@dataclass(frozen=True)
class SpellingStyle:
    """The ranges a synthetic signer is drawn from (seconds, palm units, frame units)."""

    fps: float = 30.0
    timing_jitter: float = 0.1  # of a frame interval
    min_hold_s: float = 0.12
    max_hold_s: float = 0.5
    min_move_s: float = 0.05
    max_move_s: float = 0.25
    move_share: tuple[float, float] = (0.25, 0.5)  # of a letter's period spent moving into it
    stroke_s: tuple[float, float] = (0.35, 0.8)  # J and Z
    # J: the I hand drops and hooks sideways while it turns (lart101's real J, a training clip:
    # about 3 palm sizes down, 1.5 across, 20 degrees of turn in 0.4 s)
    j_down_palms: tuple[float, float] = (1.5, 3.5)
    j_side_palms: tuple[float, float] = (0.5, 2.0)
    j_turn_deg: tuple[float, float] = (10.0, 45.0)
    z_palms: tuple[float, float] = (0.8, 2.5)  # Z: width and height of the zig-zag
    release_s: tuple[float, float] = (0.1, 0.22)  # the bounce or slide of a double letter
    bounce_palms: tuple[float, float] = (0.25, 0.5)  # how far the hand dips in a bounce
    slide_palms: tuple[float, float] = (0.5, 1.0)  # how far it glides sideways in a slide
    rise_s: tuple[float, float] = (0.2, 0.45)  # into the first letter, from below the frame
    drop_s: tuple[float, float] = (0.15, 0.35)  # out of view after the last letter
    lead_in_s: tuple[float, float] = (0.3, 0.8)  # no hand before the word
    palm: tuple[float, float] = (0.08, 0.2)  # palm size, fraction of the frame height
    drift: float = 0.12  # palm units the wrist wanders per letter
    jitter: tuple[float, float] = (0.006, 0.02)  # per-frame landmark noise, palm units
    tremor_deg: float = 2.5  # slow rotation wobble while holding
    move_blur: float = 0.03  # extra landmark noise while moving, palm units
    drop_p: tuple[float, float] = (0.0, 0.2)  # chance a frame during a move is lost
    hold_drop_p: tuple[float, float] = (0.0, 0.0)  # chance a frame of a held hand is lost
    letter_wobble_deg: float = 5.0  # each letter's shape turned a little differently
    handedness_flicker: tuple[float, float] = (0.0, 0.1)  # frames MediaPipe labels the other hand


@dataclass
class SpelledStream:
    """One word as a camera would see it: frames on a `style.fps` clock from t = 0."""

    word: str
    t: np.ndarray  # (n,) seconds
    landmarks: np.ndarray  # (n, 21, 3) float32, image-normalised like MediaPipe's
    present: np.ndarray  # (n,) bool: the tracker found the hand (rows are only written if so)
    truth: np.ndarray  # (n,) str: the letter being held or stroked, or '_'
    certain: np.ndarray  # (n,) bool: truth is clear-cut (usable as a training label)
    phase: np.ndarray  # (n,) str: hold, move, stroke, release, rise, drop ('' = no hand yet)
    handedness: np.ndarray  # (n,) str: MediaPipe's label, flickering like the real one
    width: int
    height: int

    @property
    def rate(self) -> float:
        """Letters per second of the spelling itself, onset to onset of its letters on the
        frames with a hand (`edge.dataset.letters_per_second`, what eval reports)."""
        seen = self.present
        return letters_per_second(self.t[seen], list(self.truth[seen]))


class HandPool:
    """The real single-frame hands of one source, by letter, all turned to one chirality.

    MediaPipe labels a hand 'Left' or 'Right' (selfie convention); a word is signed by one hand,
    so rows labelled with the other hand are mirrored to match the pool's `hand`. Sources that
    did not record handedness are taken as they are.
    """

    def __init__(
        self, source: str, shapes: dict[str, np.ndarray], hand: str, weight: float = 1.0
    ) -> None:
        self.source = source  # the source, or the signer within a source of several people
        self.weight = weight  # share of the words this pool signs in training
        self.shapes = shapes
        self.hand = hand

    @classmethod
    def from_table(cls, table: LandmarkTable, source: str, signer: str | None = None) -> HandPool:
        """The hands of `source` (only those of `signer` within it, if given)."""
        rows = (table.source == source) & (table.sequence == "")
        if signer is not None:
            rows &= table.signer == signer
        rows = np.flatnonzero(rows)
        if len(rows) == 0:
            raise ValueError(f"source {source!r} has no single-frame rows")
        # only this pool's rows: normalising the whole table once per signer was 27x the work
        feats = table.select(rows).features().reshape(-1, NUM_LANDMARKS, 3)
        handed = table.handedness[rows]
        labelled = handed[handed != ""]
        hand = "Right"
        if len(labelled):
            hand = "Left" if np.mean(labelled == "Left") > 0.5 else "Right"
        flip = (handed != "") & (handed != hand)
        feats[flip, :, 0] *= -1.0
        if not len(labelled):
            hand = ""
        shapes = {
            str(letter): feats[table.labels[rows] == letter]
            for letter in np.unique(table.labels[rows])
        }
        return cls(signer or source, shapes, hand)

    @property
    def letters(self) -> frozenset[str]:
        return frozenset(self.shapes)

    def can_spell(self, word: str) -> bool:
        return all(letter in self.shapes for letter in word)

    def pick(self, letter: str, rng: np.random.Generator) -> Shape:
        options = self.shapes[letter]
        return options[int(rng.integers(len(options)))].astype(np.float32, copy=True)


def signer_pools(table: LandmarkTable, signer_weight: float = 1.0) -> list[HandPool]:
    """One pool per signer of every source: a word is always signed by one person. A source of
    several people (jbhumika, snrao310) gives one pool per person, each weighted
    n_people ** (signer_weight - 1): 1 = every person counts like a source of their own, 0 =
    the source counts once, shared by its people (how much more signers teach than sources)."""
    pools = []
    single = table.sequence == ""
    for source in np.unique(table.source[single]):
        signers = np.unique(table.signer[single & (table.source == source)])
        named = [s for s in signers if s]
        if len(named) > 1:
            weight = float(len(named)) ** (signer_weight - 1.0)
            for signer in named:
                pool = HandPool.from_table(table, str(source), str(signer))
                pool.weight = weight
                pools.append(pool)
        else:
            pools.append(HandPool.from_table(table, str(source)))
    return pools


def _smooth(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


@dataclass
class _Segment:
    """One stretch of the schedule: the hand holds, moves, strokes J/Z, releases, rises or drops."""

    kind: str  # 'hold', 'move', 'stroke', 'release', 'rise', 'drop'
    start: float
    end: float
    letter: str  # the letter held/stroked/moved into ('_' for rise from rest / drop)
    shape_a: Shape
    shape_b: Shape
    wrist_a: np.ndarray  # (2,) palm units
    wrist_b: np.ndarray
    variant: float = 0.0  # stroke direction; release: 0 = bounce, 1 = slide
    amplitude: float = 0.0  # release: palm sizes of the dip or the slide; J: its turn (rad)


class Speller:
    """Seeded generator of SpelledStreams. `augment(shape, rng)` varies each real shape drawn
    (training); None keeps the real shapes (test material)."""

    def __init__(
        self,
        style: SpellingStyle | None = None,
        seed: int | np.random.Generator = 0,
        augment: Callable[[Shape, np.random.Generator], Shape] | None = None,
    ) -> None:
        self.style = style or SpellingStyle()
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.augment = augment

    # -- public ------------------------------------------------------------------------------
    def spell(self, word: str, pool: HandPool, rate: float) -> SpelledStream:
        """`word` (A-Z) signed at about `rate` letters per second by the hand of `pool`."""
        word = word.upper()
        if not word or not all(c in LETTERS for c in word):
            raise ValueError(f"cannot spell {word!r}: letters A-Z only")
        missing = sorted(set(word) - pool.letters)
        if missing:
            raise ValueError(f"source {pool.source} has no {', '.join(missing)}")
        if not rate > 0:
            raise ValueError(f"rate must be positive, got {rate}")
        segments = self._schedule(word, pool, rate)
        return self._render(word, pool, segments)

    # -- schedule ----------------------------------------------------------------------------
    def _shape(self, pool: HandPool, letter: str) -> Shape:
        rng, style = self.rng, self.style
        if letter == "J" and rng.random() < 0.5 and "I" in pool.letters:
            letter = "I"  # a J photo is one moment of the stroke; it starts as an I
        shape = pool.pick(letter, rng)
        if self.augment is not None:
            shape = self.augment(shape, rng)
        w = np.radians(style.letter_wobble_deg)
        return shape @ rotation(*rng.uniform(-w, w, 3)).T

    def _rest_shape(self, pool: HandPool) -> Shape:
        """A relaxed hand on its way up or down: some other real hand of the signer."""
        letter = str(self.rng.choice(sorted(pool.letters)))
        return self._shape(pool, letter)

    def _schedule(self, word: str, pool: HandPool, rate: float) -> list[_Segment]:
        rng, style = self.rng, self.style
        period = 1.0 / rate
        t = float(rng.uniform(*style.lead_in_s))
        wrist = np.zeros(2, np.float32)
        anchor = wrist  # where the hand spells from: it wanders; strokes are excursions from it
        below = np.array([rng.uniform(-0.5, 0.5), rng.uniform(2.0, 3.0)], np.float32)
        shapes = [self._shape(pool, c) for c in word]
        segments: list[_Segment] = []
        rest = self._rest_shape(pool)
        rise = float(rng.uniform(*style.rise_s))
        segments.append(_Segment("rise", t, t + rise, word[0], rest, shapes[0], below, wrist))
        t += rise
        for i, letter in enumerate(word):
            move = float(np.clip(period * rng.uniform(*style.move_share), *self._move_bounds()))
            hold = float(np.clip(period - move, style.min_hold_s, style.max_hold_s))
            if i:
                prev = segments[-1]
                start_shape = prev.shape_b
                if letter == word[i - 1] and letter not in MOTION_LETTERS:
                    release = float(rng.uniform(*style.release_s))
                    bounce = bool(rng.random() < 0.5)
                    amplitude = float(
                        rng.uniform(*(style.bounce_palms if bounce else style.slide_palms))
                    )
                    nxt = anchor = wrist + self._release_offset(bounce, amplitude, rng)
                    segments.append(
                        _Segment("release", t, t + release, letter, start_shape, shapes[i],
                                 prev.wrist_b, nxt, variant=0.0 if bounce else 1.0,
                                 amplitude=amplitude)
                    )  # fmt: skip
                    hold = max(style.min_hold_s, hold - (release - move))
                    t += release
                    wrist = nxt
                else:
                    nxt = anchor = anchor + rng.normal(0, style.drift, 2).astype(np.float32)
                    segments.append(
                        _Segment("move", t, t + move, letter, start_shape, shapes[i],
                                 prev.wrist_b, nxt)
                    )  # fmt: skip
                    t += move
                    wrist = nxt
            hold_shape = shapes[i]
            if letter in MOTION_LETTERS:
                stroke = float(rng.uniform(*style.stroke_s))
                direction = float(rng.choice((-1.0, 1.0)))
                end_wrist = wrist + self._stroke_end(letter, direction, rng)
                turn = float(np.radians(rng.uniform(*style.j_turn_deg)))
                seg = _Segment("stroke", t, t + stroke, letter, shapes[i], shapes[i], wrist,
                               end_wrist, variant=direction, amplitude=turn)  # fmt: skip
                segments.append(seg)
                t += stroke
                wrist = end_wrist
                hold_shape = self._stroke(seg, 1.0)  # held where the stroke ends
                hold = float(rng.uniform(0.05, 0.15))  # a brief stop there
            segments.append(
                _Segment("hold", t, t + hold, letter, hold_shape, hold_shape, wrist, wrist)
            )
            t += hold
        drop = float(rng.uniform(*style.drop_s))
        away = wrist + np.array([rng.uniform(-0.5, 0.5), rng.uniform(2.0, 3.0)], np.float32)
        segments.append(_Segment("drop", t, t + drop, BACKGROUND, shapes[-1], rest, wrist, away))
        return self._fit_rate(segments, rate)

    def _move_bounds(self) -> tuple[float, float]:
        return self.style.min_move_s, self.style.max_move_s

    @staticmethod
    def _release_offset(bounce: bool, amplitude: float, rng: np.random.Generator) -> np.ndarray:
        """Where the hand is after a double letter's release: about where it was after a bounce
        (the dip itself is drawn by `_pose`), `amplitude` palm sizes to one side after a slide."""
        if bounce:
            return rng.normal(0, 0.05, 2).astype(np.float32)
        side = rng.choice((-1.0, 1.0))
        return np.array([side * amplitude, rng.normal(0, 0.1)], np.float32)

    def _stroke_end(self, letter: str, direction: float, rng: np.random.Generator) -> np.ndarray:
        """Where the wrist ends a stroke (palm units): J hooks down and to one side, Z ends one
        stroke-width across and one stroke lower."""
        style = self.style
        if letter == "J":
            side, down = rng.uniform(*style.j_side_palms), rng.uniform(*style.j_down_palms)
        else:
            side, down = rng.uniform(*style.z_palms), rng.uniform(*style.z_palms)
        return np.array([direction * side, down], np.float32)

    @staticmethod
    def _fit_rate(segments: list[_Segment], rate: float) -> list[_Segment]:
        """Stretch the letters and the moves between them (not the rise and the drop) so the
        letters start 1/rate apart on average: from the first letter's start to the last's is
        (letters - 1) / rate, what `letters_per_second` measures. One letter keeps its hold."""
        starts = [
            seg.start
            for seg, before in zip(segments[1:], segments, strict=False)
            if seg.kind in ("hold", "stroke") and before.kind not in ("stroke",)
        ]
        if len(starts) < 2:
            return segments
        start, last = starts[0], starts[-1]
        scale = (len(starts) - 1) / rate / max(last - start, 1e-6)
        drop = segments[-1]
        drop_s = drop.end - drop.start
        for seg in segments[1:]:
            seg.start = start + (seg.start - start) * scale
            seg.end = start + (seg.end - start) * scale
        drop.end = drop.start + drop_s  # the drop keeps its own pace
        return segments

    # -- render ------------------------------------------------------------------------------
    def _render(self, word: str, pool: HandPool, segments: list[_Segment]) -> SpelledStream:
        rng, style = self.rng, self.style
        dt = 1.0 / style.fps
        first, last = segments[0].start, segments[-1].end
        n = int(np.ceil(last / dt)) + 1
        t = np.arange(n) * dt
        t[1:] += rng.uniform(-style.timing_jitter, style.timing_jitter, n - 1) * dt
        t = np.maximum.accumulate(t)
        shape = np.zeros((n, NUM_LANDMARKS, 3), np.float32)
        wrist = np.zeros((n, 2), np.float32)
        truth = np.full(n, BACKGROUND, dtype="<U1")
        certain = np.zeros(n, bool)
        moving = np.zeros(n, bool)
        phase = np.full(n, "", dtype="<U7")
        present = (t >= first) & (t <= last)
        seg_of = np.searchsorted([s.end for s in segments], t, side="left")
        for k in np.flatnonzero(present):
            seg = segments[min(int(seg_of[k]), len(segments) - 1)]
            u = (t[k] - seg.start) / max(seg.end - seg.start, 1e-6)
            shape[k], wrist[k], truth[k], certain[k], moving[k] = self._pose(seg, float(u))
            phase[k] = seg.kind
        # tracking noise, a slow tremor, and frames lost while the hand moves fast
        jitter = rng.uniform(*style.jitter)
        shape[present] += rng.normal(0, jitter, shape[present].shape).astype(np.float32)
        shape[moving] += rng.normal(0, style.move_blur, shape[moving].shape).astype(np.float32)
        tremor = np.radians(style.tremor_deg) * np.sin(
            2 * np.pi * rng.uniform(0.5, 2.0) * t + rng.uniform(0, 6.3)
        )
        for k in np.flatnonzero(present):
            shape[k] = shape[k] @ rotation(tremor[k], 0.5 * tremor[k], 0.0).T
        shape[:, 0] = 0.0  # the wrist is the origin of the shape
        lost = moving & (rng.random(n) < rng.uniform(*style.drop_p))
        if style.hold_drop_p[1] > 0:  # (drawn only when asked: the test material has none)
            lost |= ~moving & (rng.random(n) < rng.uniform(*style.hold_drop_p))
        present &= ~lost
        landmarks, width, height = self._place(shape, wrist)
        flicker = rng.random(n) < rng.uniform(*style.handedness_flicker)
        other = {"Left": "Right", "Right": "Left"}.get(pool.hand, "")
        handedness = np.where(flicker & (other != ""), other, pool.hand)
        return SpelledStream(
            word=word,
            t=t,
            landmarks=landmarks,
            present=present,
            truth=truth,
            certain=certain & present,
            phase=phase,
            handedness=handedness.astype(str),
            width=width,
            height=height,
        )

    def _pose(self, seg: _Segment, u: float) -> tuple[Shape, np.ndarray, str, bool, bool]:
        """Shape, wrist (palm units), truth, certain, moving at fraction `u` of a segment."""
        s = float(_smooth(np.asarray(u)))
        wrist = (1 - s) * seg.wrist_a + s * seg.wrist_b
        if seg.kind == "hold":
            return seg.shape_b, wrist, seg.letter, True, False
        if seg.kind in ("move", "rise"):
            shape = (1 - s) * seg.shape_a + s * seg.shape_b
            # the middle of a move is clearly between letters; its ends are not clear-cut
            clear = 0.25 <= u <= 0.75 or seg.kind == "rise" and u < 0.75
            return shape, wrist, BACKGROUND, clear, True
        if seg.kind == "drop":
            shape = (1 - s) * seg.shape_a + s * seg.shape_b
            return shape, wrist, BACKGROUND, u >= 0.25, True
        if seg.kind == "release":
            # bounce (variant < 0.5): the hand dips and relaxes a little; slide: it glides across
            bump = np.sin(np.pi * u)
            shape = seg.shape_a * (1 - 0.15 * bump) + seg.shape_b * 0.15 * bump
            if seg.variant < 0.5:
                wrist = wrist + np.array([0.0, seg.amplitude * bump], np.float32)
            return shape.astype(np.float32), wrist, BACKGROUND, 0.2 <= u <= 0.8, True
        # stroke: J twists and hooks, Z traces three strokes; the letter is clear once the stroke
        # is under way
        return self._stroke(seg, u), self._stroke_path(seg, u), seg.letter, u >= 0.4, True

    @staticmethod
    def _stroke(seg: _Segment, u: float) -> Shape:
        if seg.letter == "J":
            s = float(_smooth(np.asarray(u)))
            turn = seg.variant * seg.amplitude * s
            rot = rotation(turn, 0.5 * turn, 0.0)
        else:
            zig = float(np.interp(u, [0, 1 / 3, 2 / 3, 1], [0, 1, -1, 0]))
            rot = rotation(np.radians(8) * zig, np.radians(6) * zig, 0.0)
        return (seg.shape_a @ rot.T).astype(np.float32)

    @staticmethod
    def _stroke_path(seg: _Segment, u: float) -> np.ndarray:
        a, b = seg.wrist_a, seg.wrist_b
        d = b - a
        if seg.letter == "J":
            # down, then hooking sideways: the pinky draws the J
            down = np.sin(0.5 * np.pi * min(u / 0.7, 1.0))
            hook = float(_smooth(np.asarray((u - 0.5) / 0.5)))
            return a + np.array([d[0] * hook, d[1] * down], np.float32)
        # Z: across, diagonally back and down, across again (the index tip's path)
        xs = np.interp(u, [0, 1 / 3, 2 / 3, 1], [0, d[0], 0, d[0]])
        ys = np.interp(u, [0, 1 / 3, 2 / 3, 1], [0, 0, d[1], d[1]])
        return a + np.array([xs, ys], np.float32)

    def _place(self, shape: np.ndarray, wrist: np.ndarray) -> tuple[np.ndarray, int, int]:
        """Image-normalised landmarks for palm-unit poses: a frame size, a palm size, a place."""
        rng, style = self.rng, self.style
        width, height = [(640, 480), (1280, 720), (640, 360), (480, 640)][int(rng.integers(4))]
        aspect = width / height
        palm = rng.uniform(*style.palm)
        home = np.array([rng.uniform(0.35, 0.65) * aspect, rng.uniform(0.45, 0.7)], np.float32)
        # a slow change of distance to the camera over the word
        scale = palm * (1.0 + rng.uniform(-0.1, 0.1) * np.linspace(0, 1, len(shape)))
        xy = home + wrist * palm  # wrist in frame-height units
        out = np.empty_like(shape)
        out[:, :, 0] = (xy[:, None, 0] + scale[:, None] * shape[:, :, 0]) / aspect
        out[:, :, 1] = xy[:, None, 1] + scale[:, None] * shape[:, :, 1]
        out[:, :, 2] = scale[:, None] * shape[:, :, 2] / aspect
        return out.astype(np.float32), width, height

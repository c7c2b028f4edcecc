"""How much enrolment helps, measured honestly on sources the model never saw.

For each source: the first N single frames of each letter (in file order: one sitting, as a real
enrolment would be) are the enrolment, through the same path as `sign2sound enroll --from`
(held windows, the steadiness and confidence test, the fit); everything else of that source is
the test, and none of it is used for enrolment:
- held letters: every remaining single frame as a held window, the 24 static letters scored
  (J and Z are motions), the model alone and then with the profile;
- word streams: words of the test word list spelled by `edge.spelling.Speller` at a fixed rate
  from the REMAINING frames of the source, replayed through the daemon's own Pipeline (decoder,
  signing-hand gate and word correction as configured), without and with the profile.
Tune on the validation sources (edge.training.splits.VAL_SOURCES), report on TEST_SOURCES.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.config import Config
from edge.dataset import LandmarkTable
from edge.enrolment import (
    ENROL_LETTERS,
    MIN_RECORDING_FRAMES,
    MOTION_LETTERS,
    fit_profile,
    samples_from_table,
    window_geometry,
)
from edge.signer_profile import ProfileState
from edge.sources import ReplayRow
from edge.spelling import HandPool, Speller
from edge.word_eval import Condition, WordStream, evaluate_words, score, tail_for

CONFUSIONS = 6  # the commonest held-letter errors kept per source


def first_frames(table: LandmarkTable, n: int) -> np.ndarray:
    """Mask of the first `n` single-frame rows of each (source, letter), in row order."""
    mask = np.zeros(len(table), bool)
    single = table.sequence == ""
    for key in {(s, c) for s, c in zip(table.source[single], table.labels[single], strict=True)}:
        rows = np.flatnonzero(single & (table.source == key[0]) & (table.labels == key[1]))
        mask[rows[:n]] = True
    return mask


def read_words(path: Path) -> list[str]:
    """The words of a word list (first column; '#' comments and a `word` header skipped)."""
    words = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        word = line.split("\t")[0].strip().upper()
        if word and not word.startswith("#") and word != "WORD" and word.isalpha():
            words.append(word)
    return words


def spelled_streams(
    table: LandmarkTable, source: str, words: Sequence[str], rate: float, seed: int
) -> list[WordStream]:
    """Each word (that the source's frames can spell) signed at `rate` letters/s by the source's
    hands in `table`, as a WordStream the word evaluation replays."""
    pool = HandPool.from_table(table, source)
    speller = Speller(seed=seed)
    streams = []
    for word in words:
        if not pool.can_spell(word):
            continue
        s = speller.spell(word, pool, rate)
        aspect = s.width / s.height
        frames = np.flatnonzero(s.present)
        rows = [
            ReplayRow(int(k), float(s.t[k]), s.landmarks[k], str(s.handedness[k]) or None, 0.95,
                      aspect, int(k) + 2)
            for k in frames
        ]  # fmt: skip
        frame_dt = float(np.median(np.diff(s.t))) if len(s.t) > 1 else 1 / 30
        streams.append(
            WordStream(
                word, f"{source}:{word}:{rate:g}", "<spelled>", source, rows, frame_dt,
                [str(s.truth[k]) for k in frames],
            )
        )  # fmt: skip
    return streams


@dataclass
class SourceResult:
    """Before and after on one source for one enrolment size."""

    source: str
    n: int
    enrolled_letters: int
    enrol_frames: int
    held_n: int
    held_before: float
    held_after: float
    words: int = 0
    letters: int = 0
    distance_before: int = 0
    distance_after: int = 0
    cer_before: float | None = None
    cer_after: float | None = None
    word_acc_before: float | None = None
    word_acc_after: float | None = None
    skipped: list[str] = field(default_factory=list)
    # the commonest held-letter errors, "true>read": count
    confused_before: dict[str, int] = field(default_factory=dict)
    confused_after: dict[str, int] = field(default_factory=dict)


def held_top1(
    classifier, windows: np.ndarray, y: np.ndarray, adapter
) -> tuple[float, float, Counter, Counter]:
    """Top-1 of the model alone and with `adapter` (None: same twice) on held windows, and the
    errors of each ("true>read" counts)."""
    labels = classifier.labels
    wrong_before: Counter = Counter()
    wrong_after: Counter = Counter()
    for window, label in zip(windows, y, strict=True):
        probs = classifier.predict(window)
        if int(probs.argmax()) != label:
            wrong_before[f"{labels[label]}>{labels[int(probs.argmax())]}"] += 1
        if adapter is not None:
            probs = adapter.apply(window, probs)
        if int(probs.argmax()) != label:
            wrong_after[f"{labels[label]}>{labels[int(probs.argmax())]}"] += 1
    n = max(len(y), 1)
    right = len(y) - sum(wrong_before.values()), len(y) - sum(wrong_after.values())
    return right[0] / n, right[1] / n, wrong_before, wrong_after


def evaluate_source(
    config: Config,
    classifier,
    table: LandmarkTable,
    source: str,
    n: int,
    *,
    words: Sequence[str] = (),
    rate: float = 2.0,
    seed: int = 0,
    min_frames: int = MIN_RECORDING_FRAMES,
) -> SourceResult:
    """Enrol from the first `n` frames per letter of `source`, test on the rest of it."""
    from edge.pipeline import Pipeline
    from edge.training.windows import held_windows

    mine = table.select((table.source == source) & (table.sequence == ""))
    enrol = first_frames(mine, n)
    samples = samples_from_table(mine.select(enrol), classifier, config, ENROL_LETTERS, seed=seed)
    usable = samples.usable(min_frames)
    skipped = sorted(set(ENROL_LETTERS) & set(mine.labels) - set(usable))
    profile = fit_profile(usable, classifier=classifier)
    adapter = profile.adapter()

    rest = mine.select(~enrol)
    labels = list(classifier.labels)
    static = ~np.isin(rest.labels, list(MOTION_LETTERS))
    synth = window_geometry(config, classifier)
    held = held_windows(rest.select(static), seed=seed, labels=labels, synth=synth)
    before, after, wrong_before, wrong_after = held_top1(classifier, held.x, held.y, adapter)
    result = SourceResult(
        source, n, len(usable), sum(len(v) for v in usable.values()), len(held.y), before, after,
        skipped=skipped, confused_before=dict(wrong_before.most_common(CONFUSIONS)),
        confused_after=dict(wrong_after.most_common(CONFUSIONS)),
    )  # fmt: skip
    if words:
        streams = spelled_streams(rest, source, words, rate, seed)
        plain = ProfileState(None, None, "model alone")
        adapted = ProfileState(adapter, None, "enrolled")
        scores = {}
        for name, state in (("before", plain), ("after", adapted)):

            def new_pipeline(state=state):
                return Pipeline(config, classifier, profile=state)

            results = evaluate_words(streams, [Condition()], new_pipeline, tail_s=tail_for(config))
            scores[name] = score(results)
        result.words = len(streams)
        result.letters = scores["before"]["letters"]
        result.distance_before = scores["before"]["distance"]
        result.distance_after = scores["after"]["distance"]
        result.cer_before = scores["before"]["cer"]
        result.cer_after = scores["after"]["cer"]
        result.word_acc_before = scores["before"]["word_accuracy"]
        result.word_acc_after = scores["after"]["word_accuracy"]
    return result


def summary(results: Sequence[SourceResult]) -> dict[str, Any]:
    """Per enrolment size: held top-1 averaged over sources, CER over all letters of all words."""
    out: dict[str, Any] = {}
    for n in sorted({r.n for r in results}):
        rs = [r for r in results if r.n == n]
        entry = {
            "held_before": float(np.mean([r.held_before for r in rs])),
            "held_after": float(np.mean([r.held_after for r in rs])),
        }
        worded = [r for r in rs if r.words]
        if worded:
            letters = sum(r.letters for r in worded)
            words = sum(r.words for r in worded)
            entry["cer_before"] = sum(r.distance_before for r in worded) / letters
            entry["cer_after"] = sum(r.distance_after for r in worded) / letters
            for key in ("word_acc_before", "word_acc_after"):
                entry[key] = sum(getattr(r, key) * r.words for r in worded) / words
        out[str(n)] = entry
    return out


def as_dicts(results: Sequence[SourceResult]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(r) for r in results]

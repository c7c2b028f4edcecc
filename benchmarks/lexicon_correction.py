"""Word correction on synthetic misreadings: how often it fixes a misread listed word, how often
it wrongly changes a name or rare word, and how long one word takes.

Misreadings are built from words and the shipped model's real letter confusions
(models/eval/test/report.json, held-out test sources): a substituted letter is drawn from the
letters the model really takes it for. Each accepted letter gets an evidence row like the
decoder's (mean probabilities while it was accepted):
- read right: the letter at 0.70-0.99, most of the rest on a letter it is confused with;
- ambiguous misreading: the wrong letter at 0.45-0.85, the true one second with 30-90% of the rest;
- confident misreading: the wrong letter at 0.80-0.99, the true one almost nowhere;
- missed letter: dropped (the second of a double letter when the word has one, half the time);
- extra letter: a letter confused with its neighbour, inserted at 0.55-0.85.

Two word sets:
- `tune` (choosing the settings): 400 listed words drawn from the list itself and, as the
  unlisted words, 200 low-frequency words (zipf < 3.3) removed from the list for the run: real
  words right beside listed ones, harder to keep than most names;
- `test` (reported once): the fixed test word list (models/eval/words): common words and names
  that are in the list, and its rare group, none of which is.

Run from the repository root:
    .venv/bin/python benchmarks/lexicon_correction.py --words tune [--set lexicon.margin=3]
    .venv/bin/python benchmarks/lexicon_correction.py --words test \
        --json benchmarks/results/lexicon/test.json
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from edge.config import MODELS_DIR, load_config  # noqa: E402
from edge.dataset import DEFAULT_LABELS  # noqa: E402
from edge.lexicon import Lexicon, WordCorrector  # noqa: E402

LABELS = list(DEFAULT_LABELS)
SEED = 7
KINDS = ("ambiguous", "confident", "missed", "extra")
KIND_WEIGHTS = (0.4, 0.2, 0.25, 0.15)
TEST_LIST = MODELS_DIR / "eval" / "words" / "wordlist.tsv"
TUNE_BANDS = [(3.0, 3.5), (3.5, 4.0), (4.0, 4.5), (4.5, 5.0), (5.0, 6.0), (6.0, 8.0)]


@dataclass
class Reading:
    truth: str
    raw: str
    evidence: np.ndarray
    kinds: tuple[str, ...]
    listed: bool


class Misreader:
    """Builds readings of a word with a given number of errors (seeded, reproducible)."""

    def __init__(self, confusion: np.ndarray, rng: np.random.Generator) -> None:
        off = confusion[:26, :26].astype(np.float64).copy()
        np.fill_diagonal(off, 0.0)
        off += 0.2  # every letter can be taken for any other, rarely
        np.fill_diagonal(off, 0.0)
        self.confused = off / off.sum(axis=1, keepdims=True)
        self.rng = rng

    def _other(self, letter: int) -> int:
        return int(self.rng.choice(26, p=self.confused[letter]))

    def _row(self, top: int, p_top: float, second: int | None, share: float) -> np.ndarray:
        rest = 1.0 - p_top
        row = self.rng.dirichlet(np.full(len(LABELS), 0.3)) * rest * (1.0 - share)
        row[top] = 0.0
        row *= rest * (1.0 - share) / max(row.sum(), 1e-12)
        row[top] = p_top
        if second is not None:
            row[second] += rest * share
        return row

    def clean_row(self, letter: int) -> np.ndarray:
        p = self.rng.uniform(0.70, 0.99)
        return self._row(letter, p, self._other(letter), self.rng.uniform(0.3, 0.9))

    def read(self, word: str, errors: int, listed: bool) -> Reading:
        truth = [ord(c) - 65 for c in word]
        letters = list(truth)
        rows = [self.clean_row(c) for c in letters]
        kinds: list[str] = []
        for _ in range(errors):
            kind = str(self.rng.choice(KINDS, p=KIND_WEIGHTS))
            if kind in ("missed",) and len(letters) <= 2:
                kind = "ambiguous"
            if kind == "missed":
                doubles = [i for i in range(1, len(letters)) if letters[i] == letters[i - 1]]
                if doubles and self.rng.random() < 0.5:
                    i = int(self.rng.choice(doubles))
                else:
                    i = int(self.rng.integers(len(letters)))
                del letters[i], rows[i]
            elif kind == "extra":
                i = int(self.rng.integers(len(letters) + 1))
                extra = self._other(letters[min(i, len(letters) - 1)])
                p = self.rng.uniform(0.55, 0.85)
                letters.insert(i, extra)
                rows.insert(i, self._row(extra, p, None, 0.0))
            else:
                i = int(self.rng.integers(len(letters)))
                true = letters[i]
                wrong = self._other(true)
                if kind == "ambiguous":
                    p = self.rng.uniform(0.45, 0.85)
                    rows[i] = self._row(wrong, p, true, self.rng.uniform(0.3, 0.9))
                else:
                    p = self.rng.uniform(0.80, 0.99)
                    rows[i] = self._row(wrong, p, true, self.rng.uniform(0.0, 0.05))
                letters[i] = wrong
            kinds.append(kind)
        raw = "".join(chr(65 + c) for c in letters)
        evidence = np.array(rows, np.float32)
        return Reading(word, raw, evidence, tuple(kinds), listed)


def universe_sets(universe: Lexicon, lexicon: Lexicon, rng: random.Random):
    """For comparing list sizes: common words spread over zipf 3-8 of a bigger list (some not
    in a small list: its coverage counts) and rare words from the bigger list's last 10,000
    (in none of the lists compared)."""
    test = {line.split("\t")[0] for line in TEST_LIST.read_text().splitlines()[1:]}
    by_rank = sorted(universe.words, key=lambda w: -universe.zipf_of(w))
    rare_pool = sorted(w for w in by_rank[-10_000:] if len(w) >= 4 and w not in test)
    unlisted = rng.sample(rare_pool, 200)
    if any(w in lexicon for w in unlisted):
        raise SystemExit("the universe's rare words must not be in the list compared")
    listed = []
    for low_z, high_z in TUNE_BANDS:
        band = sorted(w for w in universe.words if w not in test and 3 <= len(w) <= 10
                      and low_z <= universe.zipf_of(w) < high_z)  # fmt: skip
        listed += rng.sample(band, min(len(band), 400 // len(TUNE_BANDS)))
    return listed, unlisted, lexicon


def word_sets(
    which: str, lexicon: Lexicon, rng: random.Random
) -> tuple[list[str], list[str], Lexicon]:
    """(common words, rare words, the lexicon to correct against) for `tune` or `test`."""
    test_rows = TEST_LIST.read_text().splitlines()[1:]
    test = [line.split("\t") for line in test_rows]
    if which == "test":
        listed = [w for w, group, _ in test if group != "rare" and w in lexicon]
        unlisted = [w for w, group, _ in test if group == "rare"]
        if any(w in lexicon for w in unlisted):
            raise SystemExit("a rare test word is in the lexicon: rebuild the list")
        return listed, unlisted, lexicon
    test_words = {w for w, _, _ in test}
    pool = [w for w in lexicon.words if w not in test_words and 3 <= len(w) <= 10]
    low = sorted(w for w in pool if lexicon.zipf_of(w) < 3.3 and len(w) >= 4)
    unlisted = rng.sample(low, 200)
    keep = set(unlisted)
    listed = []
    for low_z, high_z in TUNE_BANDS:  # like the test list: spread over frequency, not uniform
        band = sorted(w for w in pool if w not in keep and low_z <= lexicon.zipf_of(w) < high_z)
        listed += rng.sample(band, min(len(band), 400 // len(TUNE_BANDS)))
    rows = [(w, float(z)) for w, z in zip(lexicon.words, lexicon.zipf, strict=True)]
    reduced = Lexicon.from_rows(lexicon.path, [r for r in rows if r[0] not in keep])
    return listed, unlisted, reduced


def readings(listed: Sequence[str], unlisted: Sequence[str], misreader: Misreader) -> list[Reading]:
    out: list[Reading] = []
    for word in listed:
        out.append(misreader.read(word, 0, True))
        out += [misreader.read(word, 1, True) for _ in range(3)]
        out += [misreader.read(word, 2, True) for _ in range(2)]
    # (with --universe a "common" word may be missing from a small list: it then counts as
    # not corrected, which is what a user of that list would see)
    for word in unlisted:
        out += [misreader.read(word, 0, False) for _ in range(2)]
        out += [misreader.read(word, 1, False) for _ in range(2)]
    return out


def rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def evaluate(corrector: WordCorrector, cases: Sequence[Reading]) -> dict:
    outcomes: Counter[tuple[str, str]] = Counter()
    times: list[float] = []
    examples: dict[str, list[str]] = {"wrongly_changed": [], "miscorrected": []}
    for case in cases:
        start = time.perf_counter()
        result = corrector.correct(case.raw, case.evidence)
        times.append(time.perf_counter() - start)
        if case.listed and case.kinds:
            group = f"common, {len(case.kinds)} error" + ("s" if len(case.kinds) > 1 else "")
            groups = [group] + (
                [f"common, 1 error: {case.kinds[0]}"] if len(case.kinds) == 1 else []
            )
        elif case.listed:
            groups = ["common, read right"]
        elif case.kinds:
            groups = ["rare, 1 error"]
        else:
            groups = ["rare, read right"]
        if case.raw == case.truth:
            outcome = "changed" if result.changed else "kept"
        elif result.text == case.truth:
            outcome = "corrected"
        elif result.changed:
            outcome = "changed to another word"
        else:
            outcome = "kept as read"
        for group in groups:
            outcomes[(group, outcome)] += 1
        if case.raw == case.truth and result.changed and len(examples["wrongly_changed"]) < 15:
            examples["wrongly_changed"].append(f"{case.raw} -> {result.text}")
        if outcome == "changed to another word" and len(examples["miscorrected"]) < 15:
            examples["miscorrected"].append(f"{case.truth} read {case.raw} -> {result.text}")
    table: dict[str, dict] = {}
    for group in sorted({g for g, _ in outcomes}):
        total = sum(n for (g, _), n in outcomes.items() if g == group)
        table[group] = {"n": total} | {
            outcome: rate(n, total) for (g, outcome), n in sorted(outcomes.items()) if g == group
        }
    ms = sorted(t * 1000 for t in times)
    speed = {
        "words": len(ms),
        "mean_ms": round(statistics.fmean(ms), 3),
        "p50_ms": round(ms[len(ms) // 2], 3),
        "p99_ms": round(ms[int(len(ms) * 0.99)], 3),
        "max_ms": round(ms[-1], 3),
    }
    return {"outcomes": table, "speed": speed, "examples": examples}


def summary(result: dict) -> str:
    """One line: the rates the settings are chosen by."""
    out = result["outcomes"]

    def pct(group: str, outcome: str) -> str:
        value = out.get(group, {}).get(outcome) or 0.0
        return f"{100 * value:5.1f}"

    return (
        f"1err fixed {pct('common, 1 error', 'corrected')} "
        f"(amb {pct('common, 1 error: ambiguous', 'corrected')} "
        f"miss {pct('common, 1 error: missed', 'corrected')} "
        f"extra {pct('common, 1 error: extra', 'corrected')}) "
        f"wrong {pct('common, 1 error', 'changed to another word')} | "
        f"2err fixed {pct('common, 2 errors', 'corrected')} | "
        f"right changed {pct('common, read right', 'changed')} | "
        f"rare changed {pct('rare, read right', 'changed')}"
    )


def choose_words(args: argparse.Namespace, config) -> tuple[list[str], list[str], Lexicon]:
    lexicon = Lexicon.load(config.resolve_path(config.lexicon.path))
    if args.universe is not None:
        return universe_sets(Lexicon.load(args.universe), lexicon, random.Random(SEED))
    return word_sets(args.words, lexicon, random.Random(SEED))


def grid(args: argparse.Namespace) -> int:
    axes = []
    for spec in args.grid:
        key, values = spec.split("=", 1)
        axes.append([f"{key}={v}" for v in values.split(",")])
    base = load_config(overrides=args.set)
    listed, unlisted, lexicon = choose_words(args, base)
    confusion = np.array(
        json.loads((MODELS_DIR / "eval/test/report.json").read_text())["confusion"]
    )
    cases = readings(listed, unlisted, Misreader(confusion, np.random.default_rng(SEED)))
    for combo in itertools.product(*axes):
        config = load_config(overrides=[*args.set, *combo])
        corrector = WordCorrector(lexicon, LABELS, config.lexicon)
        print(" ".join(c.split(".", 1)[1] for c in combo), "|", summary(evaluate(corrector, cases)))
        sys.stdout.flush()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--words", choices=("tune", "test"), default="tune")
    parser.add_argument("--set", action="append", default=[], metavar="lexicon.KEY=VALUE")
    parser.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="lexicon.KEY=V1,V2",
        help="try every combination of these values; prints one summary line each",
    )
    parser.add_argument(
        "--universe",
        type=Path,
        help="a bigger word list to draw the words from (to compare list sizes)",
    )
    parser.add_argument("--json", type=Path, help="write the results here too")
    args = parser.parse_args(argv)
    if args.grid:
        return grid(args)
    config = load_config(overrides=args.set)
    start = time.perf_counter()
    loaded = Lexicon.load(config.resolve_path(config.lexicon.path))  # first load: parsed
    load_ms = (time.perf_counter() - start) * 1000
    arrays_mb = sum(a.nbytes for a in (loaded.zipf, loaded.codes, loaded.counts)) / 1e6
    listed, unlisted, lexicon = choose_words(args, config)
    confusion = np.array(
        json.loads((MODELS_DIR / "eval/test/report.json").read_text())["confusion"]
    )
    cases = readings(listed, unlisted, Misreader(confusion, np.random.default_rng(SEED)))
    corrector = WordCorrector(lexicon, LABELS, config.lexicon)
    for case in cases[:50]:  # warm-up: first calls pay for numpy's caches
        corrector.correct(case.raw, case.evidence)
    result = {
        "words": args.words,
        "lexicon": {
            "path": str(config.lexicon.path),
            "words": len(lexicon),
            "load_ms": round(load_ms, 1),
            "arrays_mb": round(arrays_mb, 2),
        },
        "settings": asdict(config.lexicon),
        "load_average_1min": round(os.getloadavg()[0], 2),  # the machine may be shared
        "listed_words": len(listed),
        "unlisted_words": len(unlisted),
    } | evaluate(corrector, cases)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

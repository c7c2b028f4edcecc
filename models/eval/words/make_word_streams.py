"""Build the committed word test material: continuous fingerspelling from held-out sources.

Every word of `wordlist.txt` (beside this script; its README names its sources) is spelled once
for the validation split and once for the test split (edge/training/splits.py), each time by the
real single-frame hands of ONE source of that split, at a rate from RATES, by
`edge.spelling.Speller` with no augmentation: the source's own photos, held 0.12-0.5 s, moves of
0.05-0.25 s between letters, J and Z as strokes, double letters with a bounce or slide, the hand
rising into the first letter and dropping after the last. Sources and rates are dealt round-robin
after a seeded shuffle, so every rate and every source gets its share of words.

Written in the data CSV format at 30 fps (rows sharing `sequence`, `label` = the word, frames
without a hand absent, a per-frame `truth` column: the letter being held or stroked, or `_`),
gzipped. The validation file is for every choice (decoder settings, recipe); the test file is only
for the final numbers.

Run from the repository root:
    .venv/bin/python models/eval/words/make_word_streams.py [--seed 0] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2]))

from edge.clip_words import HEADER  # noqa: E402
from edge.config import SHARED_DATA_DIR  # noqa: E402
from edge.dataset import load_many, write_landmark_csv  # noqa: E402
from edge.enrol_eval import read_words  # noqa: E402
from edge.spelling import HandPool, SpelledStream, Speller  # noqa: E402
from edge.training.splits import TEST_SOURCES, VAL_SOURCES  # noqa: E402

RATES = (1.5, 2.0, 3.0, 4.0, 5.0)  # letters per second


def stream_rows(stream: SpelledStream, sequence: str, source: str) -> list[list[str]]:
    rows = []
    for k in np.flatnonzero(stream.present):
        coords = [f"{v:.3f}" for v in stream.landmarks[k].reshape(-1)]  # 0.001: sub-pixel
        rows.append([
            stream.word, *coords, stream.handedness[k], "0.95", str(stream.width),
            str(stream.height), source, source, sequence, str(k),
            str(round(float(stream.t[k]) * 1000)), "", str(stream.truth[k]),
        ])  # fmt: skip
    return rows


def build(words: list[str], sources: tuple[str, ...], data: Path, seed: int, out: Path) -> dict:
    table = load_many([data / "landmarks" / f"{s}.csv" for s in sources])
    pools = [HandPool.from_table(table, s) for s in sources]
    rng = np.random.default_rng(seed)
    speller = Speller(seed=rng)
    order = rng.permutation(len(words))
    counts: dict[str, int] = {}
    rows: list[list[str]] = []
    for n, i in enumerate(order):
        word = words[i]
        rate = RATES[n % len(RATES)]
        candidates = [pools[(n + k) % len(pools)] for k in range(len(pools))]
        pool = next((p for p in candidates if p.can_spell(word)), None)
        if pool is None:
            continue  # no source of this split has every letter of it
        stream = speller.spell(word, pool, rate)
        sequence = f"{pool.source}:{word}:{rate:g}"
        rows.extend(stream_rows(stream, sequence, pool.source))
        counts[pool.source] = counts.get(pool.source, 0) + 1
    write_landmark_csv(out, HEADER, rows)  # no gzip timestamp: a rebuild gives the same bytes
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=SHARED_DATA_DIR)
    parser.add_argument("--words", type=Path, default=HERE / "wordlist.txt")
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--split", choices=("val", "test", "both"), default="both")
    args = parser.parse_args()
    words = read_words(args.words)
    for name, sources, offset in (("val", VAL_SOURCES, 1), ("test", TEST_SOURCES, 2)):
        if args.split not in (name, "both"):
            continue
        out = args.out / f"{name}_words.csv.gz"
        counts = build(words, sources, args.data, args.seed * 10 + offset, out)
        print(f"{out}: {sum(counts.values())} words, {out.stat().st_size} bytes, {counts}")


if __name__ == "__main__":
    main()

"""Build models/lexicon.tsv, the word list word correction picks from, with a frequency prior.

The N most frequent English words of wordfreq 3.1.1 ('en'), upper-cased, A-Z only, each also an
entry of Debian's wamerican (lower-case word or capitalised name, so common first names are in
and tokens, misspellings and abbreviations such as "ttp" or "wierd" are out), with wordfreq's
zipf value (log10 of the frequency per billion words) as the prior. One-letter words are A and
I only. A few slurs are left out so that a misreading is never "corrected" into one; spelled
clearly, they still come through as read, like any word the list does not have.

N is chosen by measurement (benchmarks/lexicon_correction.py, results in
benchmarks/results/lexicon/): large enough that common words and first names are in, small
enough that a random misreading rarely lands on another listed word.

Needs wordfreq 3.1.1 and wamerican (build-time tools only; the box reads just the .tsv):
    python3 -m venv /tmp/wordfreq && /tmp/wordfreq/bin/pip install wordfreq==3.1.1
    sudo apt-get install wamerican
    /tmp/wordfreq/bin/python models/make_lexicon.py [--size N] [--out FILE]
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
WAMERICAN = Path("/usr/share/dict/american-english")
WORDFREQ_VERSION = "3.1.1"
DEFAULT_SIZE = 30_000
# never a correction target (they pass through when spelled clearly, like any unlisted word)
SLURS = frozenset(
    ["chink", "coon", "dyke", "fag", "faggot", "gook", "kike", "nigga", "nigger", "retard"]
    + ["spic", "tranny", "wetback", "whore", "slut", "twat", "cunt"]
)

HEADER = """\
# Sign2Sound word-correction list: word<TAB>zipf (log10 frequency per billion words).
# The {size} most frequent English words of wordfreq {wf} ('en') that are also in Debian's
# wamerican {wam}, upper case A-Z. Built by models/make_lexicon.py (see models/LEXICON.md).
# Derived from wordfreq's data (c) Robyn Speer, CC-BY-SA 4.0, so this file is CC-BY-SA 4.0 too;
# wamerican (SCOWL, Kevin Atkinson and contributors) under its permissive licence.
"""


def wamerican_words(path: Path) -> set[str]:
    """Every A-Z entry of wamerican, lower-cased (words and capitalised names alike)."""
    text = path.read_text(encoding="utf-8")
    return {line.strip().lower() for line in text.splitlines() if re.fullmatch(r"[A-Za-z]+", line)}


def build(size: int, wamerican: Path) -> list[tuple[str, float]]:
    import wordfreq

    known = wamerican_words(wamerican)
    rows: list[tuple[str, float]] = []
    for word in wordfreq.iter_wordlist("en"):
        if not re.fullmatch(r"[a-z]+", word) or word not in known or word in SLURS:
            continue
        if len(word) == 1 and word not in ("a", "i"):
            continue
        rows.append((word.upper(), wordfreq.zipf_frequency(word, "en")))
        if len(rows) == size:
            break
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=int, default=DEFAULT_SIZE, help="words (default %(default)s)"
    )
    parser.add_argument("--out", type=Path, default=MODELS_DIR / "lexicon.tsv")
    parser.add_argument("--wamerican", type=Path, default=WAMERICAN)
    args = parser.parse_args(argv)
    found = version("wordfreq")
    if found != WORDFREQ_VERSION:
        print(f"wordfreq {found} found; the list is built with {WORDFREQ_VERSION}", file=sys.stderr)
        return 1
    rows = build(args.size, args.wamerican)
    header = HEADER.format(size=len(rows), wf=WORDFREQ_VERSION, wam=version_of_wamerican())
    body = "".join(f"{word}\t{zipf:.2f}\n" for word, zipf in rows)
    args.out.write_text(header + body, encoding="utf-8")
    print(f"{len(rows)} words (zipf {rows[0][1]:.2f} .. {rows[-1][1]:.2f}) written to {args.out}")
    return 0


def version_of_wamerican() -> str:
    """The installed wamerican package version (dpkg), or 'unknown' off Debian."""
    status = Path("/var/lib/dpkg/status")
    if status.is_file():
        match = re.search(
            r"^Package: wamerican\n(?:.+\n)*?Version: (\S+)", status.read_text(), re.MULTILINE
        )
        if match:
            return match.group(1)
    return "unknown"


if __name__ == "__main__":
    sys.exit(main())

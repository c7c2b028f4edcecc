"""Build the fixed test word list: common English words, common first names and rare words.

The word streams of the word-level evaluation are built from this list, so it is fixed before any
training or tuning and rebuilt byte for byte by this script (a seeded sampler over sorted
candidates). Three groups, so results can be split by them (`wordlist.tsv`: word, group, zipf):

- common: English words of 2-8 letters drawn from wordfreq 3.1.1 ('en'), stratified over zipf
  bands (from "the" down to "nighttime"), each also a lower-case entry of Debian's wamerican (so
  no tokens, misspellings or abbreviations), no offensive words;
- name: common first names: capitalised entries of wamerican that are frequent in wordfreq; the
  candidates are the hand-picked NAME_CANDIDATES below (wamerican does not mark which capitalised
  entries are first names), each checked against both sources;
- rare: rare names and rare words (wamerican entries with a wordfreq zipf below RARE_MAX_ZIPF),
  far below the frequency cut of the shipped correction list, so they show whether a name or an
  unusual word survives word correction.

In every group the sampler first takes words with the letters the model finds hard (J, Z, Q, X:
motion or rare shapes; a double letter such as LL, EE, OO, SS, TT: a release between two equal
letters), then fills the rest at random.

Needs wordfreq 3.1.1 (a build-time tool, not a runtime dependency of the box) and wamerican:
    python3 -m venv /tmp/wordfreq && /tmp/wordfreq/bin/pip install wordfreq==3.1.1
    sudo apt-get install wamerican
    /tmp/wordfreq/bin/python models/eval/words/make_wordlist.py
Writes wordlist.txt (one word a line) and wordlist.tsv beside this script.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

OUT_DIR = Path(__file__).resolve().parent
WAMERICAN = Path("/usr/share/dict/american-english")
WORDFREQ_VERSION = "3.1.1"
SEED = 12

# (lowest zipf, highest zipf, words): common words spread over the frequency range, not only the
# top; the lowest band ends at zipf 3.0 (rank ~30,000), inside any plausible correction list
COMMON_BANDS = [
    (6.0, 8.0, 30),
    (5.0, 6.0, 40),
    (4.5, 5.0, 40),
    (4.0, 4.5, 40),
    (3.5, 4.0, 40),
    (3.0, 3.5, 40),
]
COMMON_LENGTH = (2, 8)
NAME_COUNT = 50
NAME_MIN_ZIPF = 3.0
RARE_NAMES = 15
RARE_WORDS = 15
RARE_MIN_ZIPF = 1.0  # wordfreq has seen it: a real word or name, not a typo
RARE_MAX_ZIPF = 2.0  # rank ~100,000 and below; the shipped list stops far above this
RARE_LENGTH = (4, 9)


def _words(text: str) -> list[str]:
    return text.split()


def _word_set(text: str) -> frozenset[str]:
    return frozenset(text.split())


# hard cases the sampler takes first in each stratum: (name, test, share of the stratum)
HARD_FEATURES: list[tuple[str, Callable[[str], bool], float]] = [
    ("J", lambda w: "J" in w, 0.08),
    ("Z", lambda w: "Z" in w, 0.08),
    ("Q", lambda w: "Q" in w, 0.06),
    ("X", lambda w: "X" in w, 0.06),
    ("double", lambda w: re.search(r"(.)\1", w) is not None, 0.22),
]

# Common US first names, mixed sexes, chosen by hand for the hard letters too (wamerican does
# not say which capitalised entries are first names); each must be a capitalised wamerican
# entry with zipf >= NAME_MIN_ZIPF to be used.
NAME_CANDIDATES = _words(
    """
Aaron Abby Adam Alex Alice Allen Amanda Amy Andrew Angela Anna Anne Ben Betty Bill Bobby Brian
Carl Carol Chris Claire Dan Daniel David Debbie Dennis Donna Ella Ellen Emily Emma Eric Frank
Gary Grace Greg Hannah Harry Helen Isaac Jack Jackie Jacob Jake James Jane Janet Jason Jeff
Jenny Jerry Jessica Jill Jim Joan Joe John Joseph Josh Joy Judy Julia Julie Justin Karen Kate
Kelly Kevin Kim Larry Laura Lee Lisa Liz Lucy Luke Marie Mark Mary Matt Max Megan Molly Nancy
Nick Otto Paul Peggy Penny Peter Phil Quinn Rachel Rex Rose Russell Ruth Sally Sam Sarah Scott
Steve Sue Terry Tim Todd Tom Tony Troy Wendy Zach Zoe
"""
)

# Offensive or sexual words are never test words (exact matches; the sample was also read).
BLOCKLIST = _word_set(
    """
    abortion anal anus arse ass bastard bitch bloody boob boobs boneheads butt cock coon crap cum
    damn dick etc imbecile imbecilic
    dildo dyke fag faggot fuck gay gook hell homo horny jerk kike kill killed killer lesbian
    nazi negro nigga nigger nude orgasm penis piss porn pussy queer rape raped rapist retard sex
    sexual sexy shit slut spic suicide tit tits twat vagina whore
    """
)
ROMAN_NUMERAL = re.compile(r"^[IVXLCDM]+$")


def read_wamerican(path: Path) -> tuple[set[str], set[str]]:
    """(lower-case words, capitalised names) of wamerican, upper-cased, A-Z only."""
    words: set[str] = set()
    names: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not re.fullmatch(r"[A-Za-z]+", entry):
            continue  # possessives, accented letters
        if entry.islower():
            words.add(entry.upper())
        elif entry[0].isupper() and entry[1:].islower():
            names.add(entry.upper())
    return words, names


def usable(word: str) -> bool:
    if word.lower() in BLOCKLIST or not re.search(r"[AEIOUY]", word):
        return False
    return not (len(word) <= 4 and ROMAN_NUMERAL.match(word))


def sample(rng: random.Random, pool: Sequence[str], count: int) -> list[str]:
    """`count` words of `pool`: the hard cases first (each feature's share), then at random."""
    pool = sorted(set(pool))
    if len(pool) < count:
        raise SystemExit(f"only {len(pool)} candidates for a stratum of {count}")
    chosen: list[str] = []
    for _name, has, share in HARD_FEATURES:
        want = max(1, round(share * count))
        have = sum(1 for w in chosen if has(w))
        options = [w for w in pool if has(w) and w not in chosen]
        chosen += rng.sample(options, min(max(want - have, 0), len(options)))
    rest = [w for w in pool if w not in chosen]
    chosen += rng.sample(rest, count - len(chosen)) if count > len(chosen) else []
    return sorted(chosen[:count])


def build(zipf: Callable[[str], float], words: set[str], names: set[str]) -> list[tuple]:
    """[(word, group, zipf)] in group order, alphabetical within a group."""
    rng = random.Random(SEED)
    rows: list[tuple[str, str, float]] = []
    lo_len, hi_len = COMMON_LENGTH
    common = [w for w in words if lo_len <= len(w) <= hi_len and usable(w)]
    scores = {w: zipf(w) for w in common}
    for low, high, count in COMMON_BANDS:
        band = [w for w in common if low <= scores[w] < high and (len(w) > 2 or scores[w] >= 5)]
        rows += [(w, "common", scores[w]) for w in sample(rng, band, count)]
    candidates = [n.upper() for n in NAME_CANDIDATES]
    known = [n for n in candidates if n in names and zipf(n) >= NAME_MIN_ZIPF]
    rows += [(n, "name", zipf(n)) for n in sample(rng, known, NAME_COUNT)]
    taken = {w for w, _, _ in rows}
    lo_len, hi_len = RARE_LENGTH

    def rare(pool: Iterable[str]) -> list[str]:
        return [
            w
            for w in pool
            if lo_len <= len(w) <= hi_len
            and w not in taken
            and usable(w)
            and RARE_MIN_ZIPF <= zipf(w) < RARE_MAX_ZIPF
        ]

    rare_names = rare(names - words)  # never also a lower-case word (Bill, Mark)
    rows += [(w, "rare", zipf(w)) for w in sample(rng, rare_names, RARE_NAMES)]
    rare_words = rare(words)
    rows += [(w, "rare", zipf(w)) for w in sample(rng, rare_words, RARE_WORDS)]
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wamerican", type=Path, default=WAMERICAN)
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)
    import wordfreq

    version = getattr(wordfreq, "__version__", None)
    if version is None:
        from importlib.metadata import version as dist_version

        version = dist_version("wordfreq")
    if version != WORDFREQ_VERSION:
        print(
            f"wordfreq {version} found; the list is built with {WORDFREQ_VERSION}", file=sys.stderr
        )
        return 1
    words, names = read_wamerican(args.wamerican)
    rows = build(lambda w: wordfreq.zipf_frequency(w.lower(), "en"), words, names)
    if len({w for w, _, _ in rows}) != len(rows):
        raise SystemExit("a word was drawn twice")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "wordlist.txt").write_text("".join(f"{w}\n" for w, _, _ in rows))
    tsv = ["word\tgroup\tzipf"] + [f"{w}\t{g}\t{z:.2f}" for w, g, z in rows]
    (args.out / "wordlist.tsv").write_text("\n".join(tsv) + "\n")
    counts = {g: sum(1 for _, group, _ in rows if group == g) for g in ("common", "name", "rare")}
    print(f"{len(rows)} words ({counts}) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

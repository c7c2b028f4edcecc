"""The fixed test word list (models/eval/words): the shape the word streams rely on."""

from __future__ import annotations

import re

from edge.config import MODELS_DIR

WORDS_DIR = MODELS_DIR / "eval" / "words"


def _rows() -> list[tuple[str, str, float]]:
    lines = (WORDS_DIR / "wordlist.tsv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "word\tgroup\tzipf"
    rows = []
    for line in lines[1:]:
        word, group, zipf = line.split("\t")
        rows.append((word, group, float(zipf)))
    return rows


def test_wordlist_txt_and_tsv_list_the_same_words_in_order() -> None:
    words = (WORDS_DIR / "wordlist.txt").read_text(encoding="utf-8").splitlines()
    assert words == [word for word, _, _ in _rows()]


def test_wordlist_has_300_distinct_words_of_two_letters_or_more_in_a_to_z() -> None:
    rows = _rows()
    words = [word for word, _, _ in rows]
    assert len(words) >= 300
    assert len(set(words)) == len(words)
    assert all(re.fullmatch(r"[A-Z]{2,}", word) for word in words)


def test_wordlist_groups_and_frequency_spread() -> None:
    rows = _rows()
    groups = {g: [(w, z) for w, gg, z in rows if gg == g] for g in ("common", "name", "rare")}
    assert sum(map(len, groups.values())) == len(rows)  # no other group
    sizes = {g: len(v) for g, v in groups.items()}
    assert sizes["common"] >= 200 and sizes["name"] >= 40 and sizes["rare"] >= 25
    common_zipf = [z for _, z in groups["common"]]
    # stratified, not only the top: every band from the very frequent to zipf 3 is filled
    for low, high in ((3.0, 3.5), (3.5, 4.0), (4.0, 4.5), (4.5, 5.0), (5.0, 6.0), (6.0, 8.0)):
        assert sum(1 for z in common_zipf if low <= z < high) >= 20, (low, high)
    assert all(len(w) <= 8 for w, _ in groups["common"])
    assert all(z < 2.0 for _, z in groups["rare"])


def test_wordlist_has_the_hard_letters_in_a_fair_number_of_words() -> None:
    words = [word for word, _, _ in _rows()]
    for letter in "JZQX":
        assert sum(letter in word for word in words) >= 12, letter
    assert sum(re.search(r"(.)\1", word) is not None for word in words) >= 60

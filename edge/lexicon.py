"""Word correction at word completion: a misread word becomes the listed word its letters make
clearly more likely, while a name or a word the list does not have comes through as spelled.

A noisy channel, like the lexicon stage of a streaming speech decoder. For a listed word w and
the letters the decoder accepted (each with its evidence row: the mean probabilities over the
labels while it was accepted):

    score(w)   = prior_weight * ln(10) * zipf(w) - cost(w)
    score(raw) = prior_weight * ln(10) * max(zipf(raw), unknown_zipf) - cost(raw)

cost is a weighted edit distance between the accepted letters and w:
- a letter of w aligned with accepted letter i costs -ln p_i(that letter): a confident reading
  is expensive to change, an ambiguous one cheap;
- a letter of w the decoder missed costs missed_letter_cost, or missed_double_cost when it
  repeats the letter before it (the release between the two Ls of HELLO not seen);
- an accepted letter that is not in w costs extra_letter_cost - ln(1 - p_i(as read)): a letter
  accepted with little confidence is likelier a slip of the hand between two letters.
cost(raw) is the same sum along the raw letters themselves. The best listed word replaces the
raw letters only when it is within the edit limit and its score beats raw's by `margin`;
otherwise the raw letters stand.

Search is bounded so it stays in milliseconds on a Pi: the list is sorted by length once at
start, only words whose length is within the edit limit are looked at, two letter bounds prune
those with plain numpy (k edits change which letters occur, and how often, by at most 2k), and
the alignment of the survivors runs as one vectorised dynamic programme over all of them.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from edge.config import Config, LexiconConfig
from edge.decoder import DecoderEvent, letter_of
from edge.modelfiles import ModelError

log = logging.getLogger(__name__)

_LN10 = math.log(10.0)
_PAD = 26  # letter code of the padding after a word's end
_FAR = 1e9  # cost of aligning with padding: finite, so no inf - inf appears
_BITS = np.array([bin(i).count("1") for i in range(256)], np.uint8)  # popcount of a byte
_LINE = re.compile(r"([A-Z]+)\t([0-9]+(?:\.[0-9]+)?)")


class LexiconError(ModelError):
    """The word list is missing, unreadable or malformed (message names the file and line)."""


@dataclass(frozen=True, eq=False)
class Lexicon:
    """A read-only word list with zipf priors, laid out for fast bounded search.

    Words are sorted by length; `starts[n]` is the index of the first word of length n (so the
    words of lengths a..b are one slice). `codes` holds letters 0..25, padded with 26.
    """

    path: Path
    words: tuple[str, ...]
    zipf: np.ndarray  # (N,) float64
    lengths: np.ndarray  # (N,) int64
    codes: np.ndarray  # (N, longest) uint8
    counts: np.ndarray  # (N, 26) int16: how often each letter occurs in the word
    masks: np.ndarray  # (N,) uint32: bit c set when letter c occurs in the word
    starts: np.ndarray  # (longest + 2,) int64
    index: dict[str, int]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def zipf_of(self, word: str) -> float | None:
        i = self.index.get(word)
        return None if i is None else float(self.zipf[i])

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """Read a word list (`WORD<TAB>zipf` lines, `#` comments); raise LexiconError naming the
        file and line. A file already loaded and unchanged is shared, not read again."""
        path = Path(path)
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise LexiconError(f"{path}: word list not found (lexicon.path)") from exc
        except OSError as exc:
            raise LexiconError(f"{path}: cannot read word list: {exc.strerror or exc}") from exc
        return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)

    @classmethod
    def from_rows(cls, path: Path, rows: Sequence[tuple[str, float]]) -> Lexicon:
        """Lay out (WORD, zipf) rows (distinct, A-Z, at least one) for search; `path` only
        names where they came from."""
        rows = sorted(rows, key=lambda row: (len(row[0]), row[0]))
        words = tuple(word for word, _ in rows)
        lengths = np.array([len(w) for w in words], np.int64)
        longest = int(lengths.max())
        codes = np.full((len(words), longest), _PAD, np.uint8)
        counts = np.zeros((len(words), 26), np.int16)
        for i, word in enumerate(words):
            letters = np.frombuffer(word.encode("ascii"), np.uint8) - ord("A")
            codes[i, : len(word)] = letters
            np.add.at(counts[i], letters, 1)
        starts = np.searchsorted(lengths, np.arange(longest + 2), side="left")
        arrays = {
            "zipf": np.array([z for _, z in rows], np.float64),
            "lengths": lengths,
            "codes": codes,
            "counts": counts,
            "masks": ((counts > 0).astype(np.uint32) << np.arange(26, dtype=np.uint32)).sum(
                axis=1, dtype=np.uint32
            ),
            "starts": starts.astype(np.int64),
        }
        for array in arrays.values():
            array.setflags(write=False)  # shared between pipelines: nobody may change it
        return cls(Path(path), words, index={w: i for i, w in enumerate(words)}, **arrays)


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> Lexicon:
    return _parse(Path(path))


def _parse(path: Path) -> Lexicon:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LexiconError(f"{path}: cannot read word list: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise LexiconError(f"{path}: line {line}: not UTF-8 text") from exc
    first_line: dict[str, int] = {}
    rows: list[tuple[str, float]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _LINE.fullmatch(line.rstrip("\r"))
        if match is None:
            shown = line if len(line) <= 40 else line[:40] + "..."
            raise LexiconError(
                f"{path}: line {lineno}: expected 'WORD<TAB>zipf' with WORD in A-Z and zipf a "
                f"number, got {shown!r}"
            )
        word, zipf = match.group(1), float(match.group(2))
        if word in first_line:
            raise LexiconError(
                f"{path}: line {lineno}: {word} is listed twice (first at line {first_line[word]})"
            )
        first_line[word] = lineno
        rows.append((word, zipf))
    if not rows:
        raise LexiconError(f"{path}: the word list has no words")
    return Lexicon.from_rows(path, rows)


@dataclass(frozen=True)
class Correction:
    """What the corrector decided for one word: `text` is what to say, `raw` what was read,
    `best` the most likely listed word other than raw within the edit limit (None: none), and
    `gain` how much more likely it is than raw (natural log; -inf when there is no candidate)."""

    text: str
    raw: str
    best: str | None = None
    gain: float = -math.inf

    @property
    def changed(self) -> bool:
        return self.text != self.raw


def _align(sub: Sequence[np.ndarray], ins: Sequence[float], dele: np.ndarray) -> np.ndarray:
    """Weighted edit distance of one sequence against many words at once.

    sub[i]: (S, M) cost of aligning read letter i with letter j of each word; ins[i]: cost of
    read letter i being extra; dele: (S, M) cost of letter j of each word being missed.
    Returns D (S, M + 1): D[s, m] = cost of all read letters against the first m letters of
    word s. The in-row recurrence D[j] = min(E[j], D[j-1] + dele[j]) is a running minimum:
    D[j] = C[j] + min_{k<=j} (E[k] - C[k]) with C the cumulative deletion cost.
    """
    cum = np.zeros((dele.shape[0], dele.shape[1] + 1))
    np.cumsum(dele, axis=1, out=cum[:, 1:])
    dist = cum.copy()
    for sub_i, ins_i in zip(sub, ins, strict=True):
        best = dist + ins_i
        np.minimum(best[:, 1:], dist[:, :-1] + sub_i, out=best[:, 1:])
        best -= cum
        np.minimum.accumulate(best, axis=1, out=best)
        dist = best + cum
    return dist


class WordCorrector:
    """Corrects completed words against a Lexicon using the decoder's letter evidence."""

    def __init__(self, lexicon: Lexicon, labels: Sequence[str], config: LexiconConfig) -> None:
        self.lexicon = lexicon
        self.config = config
        self.n_labels = len(labels)
        # evidence column of each letter A..Z (-1: the model has no such label)
        columns = np.full(26, -1, np.int64)
        for col, label in enumerate(labels):
            letter = letter_of(label)
            if letter is not None and columns[ord(letter) - 65] < 0:
                columns[ord(letter) - 65] = col
        self._columns = columns
        self._prior = config.prior_weight * _LN10

    @classmethod
    def from_config(cls, config: Config, labels: Sequence[str]) -> WordCorrector | None:
        """The corrector the config asks for (None when lexicon.enabled is false); the list is
        loaded here, so a bad file stops the start with one line."""
        if not config.lexicon.enabled:
            return None
        lexicon = Lexicon.load(config.resolve_path(config.lexicon.path))
        return cls(lexicon, labels, config.lexicon)

    def allowed_edits(self, length: int) -> int:
        cfg = self.config
        return min(cfg.max_edits, length // cfg.letters_per_edit)

    def apply(self, event: DecoderEvent) -> DecoderEvent:
        """A word event, corrected when the corrector changes it (`raw` = the letters read);
        any other event, or a word it keeps, is returned unchanged."""
        if event.kind != "word":
            return event
        result = self.correct(event.text, event.evidence)
        if not result.changed:
            return event
        return replace(event, text=result.text, raw=event.text)

    def correct(self, raw: str, evidence: np.ndarray | None) -> Correction:
        """Decide for one word: `evidence` is (len(raw), n_labels), one row per letter; without
        it, with evidence of another shape, or with raw letters outside A-Z there is nothing to
        weigh and raw stands."""
        n = len(raw)
        k = self.allowed_edits(n)
        if k == 0 or evidence is None or not re.fullmatch(r"[A-Z]+", raw):
            return Correction(raw, raw)
        evidence = np.asarray(evidence, np.float64)
        if evidence.shape != (n, self.n_labels):
            # a decoder built for other labels: never lose the word over it, say so
            log.warning(
                "word correction got evidence of shape %s for %s, expected (%d, %d); "
                "the word is kept as read",
                evidence.shape,
                raw,
                n,
                self.n_labels,
            )
            return Correction(raw, raw)
        costs = self._letter_costs(evidence)  # (n, 27)
        read = np.frombuffer(raw.encode("ascii"), np.uint8) - ord("A")
        raw_cost = float(costs[np.arange(n), read].sum())
        raw_zipf = self.lexicon.zipf_of(raw)
        raw_prior = max(raw_zipf if raw_zipf is not None else -math.inf, self.config.unknown_zipf)

        found = self._candidates(read, k)
        if found.size == 0:
            return Correction(raw, raw)
        lex = self.lexicon
        lengths = lex.lengths[found]
        width = int(lengths.max())
        codes = lex.codes[found, :width]
        rows = np.arange(found.size)
        cost = self._weighted_cost(codes, read, costs)[rows, lengths]
        edits = self._edit_count(codes, read)[rows, lengths]
        gain = self._prior * (lex.zipf[found] - raw_prior) - (cost - raw_cost)
        gain[(edits > k + 1e-9) | (edits < 0.5)] = -np.inf  # too far, or raw itself
        top = int(np.argmax(gain))
        if not np.isfinite(gain[top]):
            return Correction(raw, raw)
        best = lex.words[int(found[top])]
        text = best if gain[top] >= self.config.margin else raw
        return Correction(text, raw, best, float(gain[top]))

    def _letter_costs(self, evidence: np.ndarray) -> np.ndarray:
        """-ln p_i(letter) for letters A..Z (floored at min_prob), plus a padding column."""
        probs = np.zeros((evidence.shape[0], 27))
        have = self._columns >= 0
        probs[:, :26][:, have] = evidence[:, self._columns[have]]
        np.nan_to_num(probs, copy=False, nan=0.0)
        costs = -np.log(np.maximum(probs, self.config.min_prob))
        costs[:, _PAD] = _FAR
        return costs

    def _candidates(self, read: np.ndarray, k: int) -> np.ndarray:
        """Indices of the listed words within length k of the read letters whose letter
        counts differ by at most 2k (a necessary condition for an edit distance <= k)."""
        lex = self.lexicon
        n = read.size
        longest = lex.starts.size - 2
        lo = lex.starts[min(max(n - k, 1), longest + 1)]
        hi = lex.starts[min(n + k + 1, longest + 1)]
        if hi <= lo:
            return np.empty(0, np.int64)
        wanted = np.bincount(read, minlength=26).astype(np.int16)
        # first the cheap bound on which letters occur at all (one edit adds or removes at most
        # two of them), then the exact letter-count bound on the few words left
        mask = np.uint32(int(((wanted > 0) << np.arange(26)).sum()))
        differ = (lex.masks[lo:hi] ^ mask).view(np.uint8).reshape(-1, 4)
        near = lo + np.flatnonzero(_BITS[differ].sum(axis=1) <= 2 * k)
        spread = np.abs(lex.counts[near] - wanted).sum(axis=1)
        return near[spread <= 2 * k]

    def _weighted_cost(self, codes: np.ndarray, read: np.ndarray, costs: np.ndarray) -> np.ndarray:
        cfg = self.config
        repeats = np.zeros(codes.shape, bool)
        repeats[:, 1:] = codes[:, 1:] == codes[:, :-1]
        dele = np.where(repeats, cfg.missed_double_cost, cfg.missed_letter_cost)
        # an extra letter is likelier the less sure the decoder was of it: on top of the fixed
        # cost, -ln(1 - p) of the letter as read (raw's own path pays -ln p for it)
        sure = np.exp(-costs[np.arange(read.size), read])
        unsure = -np.log(np.maximum(1.0 - sure, cfg.min_prob))
        ins = list(cfg.extra_letter_cost + unsure)
        sub = [costs[i][codes] for i in range(read.size)]
        return _align(sub, ins, dele)

    @staticmethod
    def _edit_count(codes: np.ndarray, read: np.ndarray) -> np.ndarray:
        """Plain Levenshtein distance (every edit counts 1), for the edit limit."""
        sub = [(codes != letter).astype(np.float64) for letter in read]
        return _align(sub, [1.0] * read.size, np.ones(codes.shape))

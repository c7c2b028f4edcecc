"""Load and validate landmark CSVs in the project's format (one row = one hand in one frame).

Format (see ../shared/data/README.md): `label,x0,y0,z0,…,x20,y20,z20` then optional columns
`handedness,score,width,height,source,signer,sequence,frame,t_ms,file` (any order; other columns
are ignored). Anyone can record their own CSV in this format and run `sign2sound eval` on it, so
every problem is reported as a DataError naming the file and the line, never as a NaN deep inside
training. Files may be gzipped (`.csv.gz`): the committed word sets are.

Word streams use the same format: the rows of one `sequence` whose `label` is a word (two or more
letters A-Z, the same on every row) are one continuous spelling of that word, and an optional
`truth` column says per frame what the hand does (a letter, or `_` for a move or rest). Loaders
that expect word streams pass `words=True`; everywhere else a word label is an unknown label.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.errors import Sign2SoundError
from edge.features import FEATURE_DIM, NUM_LANDMARKS, FeatureError, normalize_landmarks

COORD_COLUMNS: tuple[str, ...] = tuple(
    f"{axis}{i}" for i in range(NUM_LANDMARKS) for axis in ("x", "y", "z")
)
OPTIONAL_COLUMNS: tuple[str, ...] = (
    "handedness",
    "score",
    "width",
    "height",
    "source",
    "signer",
    "sequence",
    "frame",
    "t_ms",
    "file",
)
TRUTH_COLUMN = "truth"  # word streams: what the hand does in this frame (a letter or `_`)
LETTERS: tuple[str, ...] = tuple(string.ascii_uppercase)
BACKGROUND = "_"  # transition / no letter: the decoder treats it like "no hand"
MOTION_LETTERS = ("J", "Z")  # letters that are a stroke, not a held shape
DEFAULT_LABELS: tuple[str, ...] = (*LETTERS, BACKGROUND)


class DataError(Sign2SoundError):
    """A landmark CSV that cannot be used, with the file and line at fault."""


def is_word_label(label: str) -> bool:
    """True for the label of a word stream: two or more letters A-Z."""
    return len(label) >= 2 and all(c in _LETTER_SET for c in label)


_LETTER_SET = frozenset(LETTERS)


def open_text(path: Path) -> io.TextIOBase:
    """A landmark CSV opened for csv reading; `.gz` files are decompressed on the fly."""
    # utf-8-sig: a byte-order mark (what spreadsheet programs write) is not part of a name
    if path.suffix == ".gz":
        return gzip.open(path, "rt", newline="", encoding="utf-8-sig")
    return path.open(newline="", encoding="utf-8-sig")


def write_landmark_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Write a CSV (gzipped for `.gz`, without a timestamp, so the same rows give the same
    bytes), through a temporary file so a failed write never leaves half a file."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    if path.suffix == ".gz":
        data = gzip.compress(data, compresslevel=9, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def letters_per_second(times: Sequence[float], truth: Sequence[str]) -> float:
    """The pace of a spelled word from its per-frame truth: letter onsets (a frame showing a
    letter after one showing something else, or after frames without a hand: the rows of a
    word stream skip those) per second, from the first onset to the last. Onset to onset does
    not depend on how long the first and last letters were held, nor on the rise into the word
    and the drop after it. NaN with fewer than two onsets."""
    t = np.asarray(times, np.float64)
    gap = 1.5 * float(np.median(np.diff(t))) if len(t) > 1 else math.inf
    onsets = [
        float(t[i])
        for i, now in enumerate(truth)
        if now not in ("", BACKGROUND) and (i == 0 or truth[i - 1] != now or t[i] - t[i - 1] > gap)
    ]
    if len(onsets) < 2 or onsets[-1] <= onsets[0]:
        return float("nan")
    return (len(onsets) - 1) / (onsets[-1] - onsets[0])


def csv_name(path: Path) -> str:
    """The file name without `.csv` / `.csv.gz`: the source name of a file without one."""
    name = path.name
    for suffix in (".gz", ".csv"):
        name = name.removesuffix(suffix)
    return name


@dataclass(frozen=True)
class LandmarkTable:
    """The rows of one or more landmark CSVs as column arrays.

    `coords` are the raw MediaPipe values (n, 63); `features()` normalises them with the ONE
    normalisation (edge.features). Missing optional values: '' for strings, NaN for numbers,
    -1 for `frame`. `line` is the 1-based line in `path_of` so later errors can name it.
    """

    labels: np.ndarray  # (n,) str
    coords: np.ndarray  # (n, 63) float32
    handedness: np.ndarray  # (n,) str: 'Left', 'Right' or ''
    width: np.ndarray  # (n,) float64, NaN when unknown
    height: np.ndarray  # (n,) float64, NaN when unknown
    source: np.ndarray  # (n,) str
    signer: np.ndarray  # (n,) str
    sequence: np.ndarray  # (n,) str, '' for single frames
    frame: np.ndarray  # (n,) int64, -1 when unknown
    t_ms: np.ndarray  # (n,) float64, NaN when unknown
    path: np.ndarray  # (n,) str: the CSV each row came from
    line: np.ndarray  # (n,) int64
    score: np.ndarray | None = None  # (n,) float64 MediaPipe's hand score, NaN when unknown
    truth: np.ndarray | None = None  # (n,) str: word streams' per-frame truth, '' when absent

    def __post_init__(self) -> None:
        # tables built without the newer columns get them empty, so every table has every field
        n = len(self.labels)
        if self.score is None:
            object.__setattr__(self, "score", np.full(n, np.nan))
        if self.truth is None:
            object.__setattr__(self, "truth", np.full(n, "", dtype="<U1"))

    def __len__(self) -> int:
        return len(self.labels)

    def aspect(self) -> np.ndarray:
        """Frame width / height per row; 1.0 where the source did not record the frame size."""
        aspect = self.width / self.height
        return np.where(np.isfinite(aspect) & (aspect > 0), aspect, 1.0).astype(np.float32)

    def features(self) -> np.ndarray:
        """Normalised, unmirrored features (n, 63) float32 via edge.features.normalize_landmarks."""
        try:
            return normalize_landmarks(self.coords, aspect=self.aspect(), mirror=False)
        except FeatureError:
            # find the row so the user can fix it
            for i in range(len(self)):
                try:
                    normalize_landmarks(self.coords[i], aspect=float(self.aspect()[i]))
                except FeatureError as exc:
                    raise DataError(f"{self.path[i]}: line {self.line[i]}: {exc}") from exc
            raise

    def select(self, mask: np.ndarray) -> LandmarkTable:
        """The rows where `mask` is true (boolean mask or index array)."""
        return LandmarkTable(**{k: getattr(self, k)[mask] for k in _FIELDS})


_FIELDS = tuple(LandmarkTable.__dataclass_fields__)


def _number(text: str, column: str, where: str) -> float:
    if text == "":
        return float("nan")
    try:
        value = float(text)
    except ValueError as exc:
        raise DataError(f"{where}: column {column} is not a number: {text!r}") from exc
    if not np.isfinite(value):
        raise DataError(f"{where}: column {column} is not a finite number: {text!r}")
    return value


def _open_csv(path: Path) -> io.TextIOBase:
    try:
        return open_text(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot open landmark CSV: {exc.strerror or exc}") from exc


def _read_header(path: Path, reader) -> tuple[dict[str, int], int]:
    """Column name -> index and the number of fields, checked: the label and all 63 coordinate
    columns are there."""
    try:
        header = next(reader)
    except StopIteration:
        raise DataError(f"{path}: line 1: empty file, expected a header row") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: line 1: unreadable header: {exc}") from exc
    except (OSError, EOFError) as exc:  # a .gz that is not gzip, or cut short
        raise DataError(f"{path}: not a readable gzip file: {exc}") from exc
    index = {name.strip(): i for i, name in enumerate(header)}
    missing = [c for c in ("label", *COORD_COLUMNS) if c not in index]
    if missing:
        shown = ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "")
        present = sum(c in index for c in COORD_COLUMNS)
        raise DataError(
            f"{path}: line 1: missing column(s) {shown} (need label and x0,y0,z0 … "
            f"x20,y20,z20: {FEATURE_DIM} coordinates, found {present})"
        )
    return index, len(header)


def check_header(path: str | Path) -> None:
    """Raise the DataError `read_landmark_csv` would for a file that cannot be opened or whose
    header lacks a column: cheap, so a run over many files fails before the work, not after."""
    path = Path(path)
    with _open_csv(path) as handle:
        _read_header(path, csv.reader(handle))


def load_landmark_csv(
    path: str | Path, *, allowed_labels: Iterable[str] = DEFAULT_LABELS, words: bool = False
) -> LandmarkTable:
    """Read one CSV (or .csv.gz) in the project's format, checking every row (see
    `read_landmark_csv` for what is refused)."""
    return concat_tables(read_landmark_csv(path, allowed_labels=allowed_labels, words=words))


def read_landmark_csv(
    path: str | Path,
    *,
    allowed_labels: Iterable[str] = DEFAULT_LABELS,
    words: bool = False,
    chunk_rows: int | None = None,
) -> Iterator[LandmarkTable]:
    """The rows of one CSV (or .csv.gz) as tables of at most `chunk_rows` rows (None: one table),
    in file order, so a file of any size can be scored in bounded memory.

    Raises DataError naming the file and line for: a missing file, a missing label or coordinate
    column, a row with the wrong number of fields, a coordinate that is empty, not a number, NaN
    or infinite, a label outside `allowed_labels` (with `words`, a word label is allowed too),
    a `truth` that is not a letter or `_`, and a file without data rows. A row without a source
    takes the file's name (`csv_name`).
    """
    path = Path(path)
    allowed = frozenset(allowed_labels)
    truth_allowed = frozenset((*LETTERS, BACKGROUND, ""))
    with _open_csv(path) as handle:
        reader = csv.reader(handle)
        index, ncols = _read_header(path, reader)
        label_idx = index["label"]
        coord_idx = [index[c] for c in COORD_COLUMNS]
        opt_idx = {c: index.get(c) for c in (*OPTIONAL_COLUMNS, TRUTH_COLUMN)}
        rows = _Rows(opt_idx)
        n_rows = 0
        try:
            for row in reader:
                lineno = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue  # blank line
                if len(row) != ncols:
                    raise DataError(
                        f"{path}: line {lineno}: expected {ncols} fields like the header, "
                        f"got {len(row)} (wrong number of coordinates?)"
                    )
                label = row[label_idx].strip()
                if label not in allowed and not (words and is_word_label(label)):
                    also = " or a word (two or more letters A-Z)" if words else ""
                    raise DataError(
                        f"{path}: line {lineno}: unknown label {label!r} "
                        f"(expected one of {' '.join(sorted(allowed))}{also})"
                    )
                rows.labels.append(label)
                rows.coords.append([row[i] for i in coord_idx])
                rows.lines.append(lineno)
                for c, i in opt_idx.items():
                    rows.opts[c].append(row[i].strip() if i is not None else "")
                if rows.opts[TRUTH_COLUMN][-1] not in truth_allowed:
                    raise DataError(
                        f"{path}: line {lineno}: truth {rows.opts[TRUTH_COLUMN][-1]!r} is not a "
                        f"letter A-Z or {BACKGROUND} (what the hand does in this frame)"
                    )
                if chunk_rows is not None and len(rows.labels) >= chunk_rows:
                    n_rows += len(rows.labels)
                    table, rows = rows.table(path), _Rows(opt_idx)  # the text goes before
                    yield table
        except csv.Error as exc:
            raise DataError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: line {reader.line_num + 1}: not UTF-8 text: {exc}") from exc
        except (OSError, EOFError) as exc:
            raise DataError(
                f"{path}: line {reader.line_num + 1}: not a readable gzip file: {exc}"
            ) from exc
    if rows.labels:
        table, rows = rows.table(path), None
        yield table
    elif not n_rows:
        raise DataError(f"{path}: no data rows after the header")


class _Rows:
    """The text of the rows read so far (one chunk), turned into a checked LandmarkTable."""

    def __init__(self, opt_idx: dict[str, int | None]) -> None:
        self.labels: list[str] = []
        self.coords: list[list[str]] = []
        self.lines: list[int] = []
        self.opts: dict[str, list[str]] = {c: [] for c in opt_idx}

    def table(self, path: Path) -> LandmarkTable:
        labels, coords, lines, opts = self.labels, self.coords, self.lines, self.opts
        try:
            xyz = np.asarray(coords, dtype=np.float32)
        except ValueError:
            xyz = None
        if xyz is None or not np.isfinite(xyz).all():
            # locate the first bad value row by row (rare path, only for broken files)
            for r, values in enumerate(coords):
                for col, text in zip(COORD_COLUMNS, values, strict=True):
                    where = f"{path}: line {lines[r]}"
                    if text.strip() == "":
                        raise DataError(f"{where}: column {col} is empty")
                    _number(text, col, where)
            raise DataError(f"{path}: a coordinate is out of float32 range")

        def numbers(column: str) -> np.ndarray:
            values = opts[column]
            out = np.full(len(values), np.nan)
            for r, text in enumerate(values):
                if text:
                    out[r] = _number(text, column, f"{path}: line {lines[r]}")
            return out

        frame = numbers("frame")
        frame = np.where(np.isfinite(frame), frame, -1).astype(np.int64)
        source = np.asarray(opts["source"], dtype=str)
        if not source.all():
            source = np.where(source == "", csv_name(path), source)
        return LandmarkTable(
            labels=np.asarray(labels, dtype=str),
            coords=xyz,
            handedness=np.asarray(opts["handedness"], dtype=str),
            width=numbers("width"),
            height=numbers("height"),
            source=source,
            signer=np.asarray(opts["signer"], dtype=str),
            sequence=np.asarray(opts["sequence"], dtype=str),
            frame=frame,
            t_ms=numbers("t_ms"),
            path=np.full(len(labels), str(path)),
            line=np.asarray(lines, dtype=np.int64),
            score=numbers("score"),
            truth=np.asarray(opts[TRUTH_COLUMN], dtype=str),
        )


def concat_tables(tables: Iterable[LandmarkTable]) -> LandmarkTable:
    """Join tables (e.g. one per source CSV) into one."""
    tables = list(tables)
    if not tables:
        raise DataError("no landmark CSVs given")
    if len(tables) == 1:
        return tables[0]  # no copy of a whole file
    return LandmarkTable(**{k: np.concatenate([getattr(t, k) for t in tables]) for k in _FIELDS})


class SequenceGroups:
    """The rows of each sequence of a file (a clip or a word stream) gathered whole from tables
    read in chunks: a sequence cut by a chunk boundary is carried over to the next chunk.

    A sequence is the rows sharing `sequence` in one file; it ends where another sequence of the
    file starts (rows without a sequence in between are not part of it) or at the next file.
    Only the open sequence is held, so memory is bounded by the longest sequence, not the file;
    this needs the rows of one sequence to be together, which every recorder writes: rows of a
    sequence that come back after another one are refused, naming the line.
    """

    def __init__(self) -> None:
        self._key: tuple[str, str] | None = None
        self._parts: list[LandmarkTable] = []
        self._ended: dict[tuple[str, str], int] = {}  # finished sequence -> its last line

    def add(self, table: LandmarkTable) -> list[LandmarkTable]:
        """The sequences that ended within `table` (rows with a `sequence`; others are ignored)."""
        rows = np.flatnonzero(table.sequence != "")
        if not len(rows):
            return []
        keys = list(zip(table.path[rows].tolist(), table.sequence[rows].tolist(), strict=True))
        starts = [0, *(i for i in range(1, len(keys)) if keys[i] != keys[i - 1]), len(keys)]
        done = []
        for a, b in zip(starts[:-1], starts[1:], strict=True):
            key, part = keys[a], table.select(rows[a:b])
            if key != self._key:
                if key in self._ended:
                    raise DataError(
                        f"{key[0]}: line {part.line[0]}: rows of sequence {key[1]!r} again after "
                        f"other sequences (it ended at line {self._ended[key]}): the rows of one "
                        "clip or word stream must be together"
                    )
                done.extend(self.finish())
                self._key = key
            self._parts.append(part)
        return done

    def finish(self) -> list[LandmarkTable]:
        """The open sequence, once the input has ended (or moved on)."""
        if self._key is None:
            return []
        table = concat_tables(self._parts)
        self._ended[self._key] = int(table.line[-1])
        self._key, self._parts = None, []
        return [table]


def landmark_files(paths: Iterable[str | Path]) -> list[Path]:
    """The CSVs named, a folder standing for every *.csv and *.csv.gz in it (sorted)."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted([*p.glob("*.csv"), *p.glob("*.csv.gz")])
            if not found:
                raise DataError(f"{p}: no *.csv files (nor *.csv.gz) in this folder")
            files.extend(found)
        else:
            files.append(p)
    return files


def read_many(
    paths: Iterable[str | Path], *, chunk_rows: int | None = None, **kwargs
) -> Iterator[LandmarkTable]:
    """The rows of several CSVs (or folders of them) as tables of at most `chunk_rows` rows, file
    by file; every file is opened and its header checked before the first row is read."""
    files = landmark_files(paths)
    for f in files:
        check_header(f)
    for f in files:
        yield from read_landmark_csv(f, chunk_rows=chunk_rows, **kwargs)


def load_many(paths: Iterable[str | Path], **kwargs) -> LandmarkTable:
    """Load several CSVs (or every *.csv and *.csv.gz under a folder) into one table."""
    return concat_tables(read_many(paths, **kwargs))

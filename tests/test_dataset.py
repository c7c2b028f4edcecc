"""Landmark CSV loading: real files load, and every kind of bad file names the file and line."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from edge.dataset import COORD_COLUMNS, DataError, load_landmark_csv, load_many

FIXTURE = Path(__file__).parent / "fixtures" / "letters_small.csv"


def test_fixture_loads_with_all_columns() -> None:
    table = load_landmark_csv(FIXTURE)
    assert len(table) == 120
    assert table.coords.shape == (120, 63) and table.coords.dtype == np.float32
    assert set(table.labels) == {"A", "B", "L", "V", "Y"}
    assert set(table.source) == {"t32rahman", "vedantborse-ai"}
    assert (table.line[:3] == [2, 3, 4]).all()
    assert np.allclose(table.aspect(), 640 / 480)
    feats = table.features()
    assert feats.shape == (120, 63)
    assert np.allclose(feats[:, :3], 0.0)  # wrist-relative


def _write(tmp_path: Path, header: list[str], rows: list[list[str]]) -> Path:
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    return path


def _good_row(label: str = "A") -> list[str]:
    rng = np.random.default_rng(1)
    return [label, *(f"{v:.4f}" for v in rng.uniform(0.2, 0.8, 63))]


HEADER = ["label", *COORD_COLUMNS]


def test_minimal_file_without_optional_columns(tmp_path: Path) -> None:
    table = load_landmark_csv(_write(tmp_path, HEADER, [_good_row("A"), _good_row("Z")]))
    assert list(table.labels) == ["A", "Z"]
    assert set(table.source) == {"bad"}  # named after the file when no source column
    assert (table.frame == -1).all() and np.isnan(table.width).all()


def test_missing_column(tmp_path: Path) -> None:
    header = [h for h in HEADER if h != "y7"]
    path = _write(tmp_path, header, [_good_row()[:-1]])
    with pytest.raises(DataError, match=rf"{path}: line 1: missing column\(s\) y7"):
        load_landmark_csv(path)


def test_wrong_coordinate_count_in_header(tmp_path: Path) -> None:
    header = HEADER[:-3]  # only 20 landmarks
    path = _write(tmp_path, header, [_good_row()[:-3]])
    with pytest.raises(DataError, match=r"line 1: missing column\(s\) x20, y20, z20.*found 60"):
        load_landmark_csv(path)


def test_wrong_coordinate_count_in_row(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER, [_good_row(), _good_row(), _good_row()[:-2]])
    with pytest.raises(DataError, match=rf"{path}: line 4: expected 64 fields.*got 62"):
        load_landmark_csv(path)


@pytest.mark.parametrize("bad", ["nan", "NaN", "inf", "abc", ""])
def test_non_finite_or_non_numeric_coordinate(tmp_path: Path, bad: str) -> None:
    row = _good_row()
    row[1 + 3 * 5 + 1] = bad  # y5
    path = _write(tmp_path, HEADER, [_good_row(), row])
    with pytest.raises(DataError, match=rf"{path}: line 3: column y5"):
        load_landmark_csv(path)


def test_unknown_label(tmp_path: Path) -> None:
    path = _write(tmp_path, HEADER, [_good_row(), _good_row("hello")])
    with pytest.raises(DataError, match=rf"{path}: line 3: unknown label 'hello'"):
        load_landmark_csv(path)


def test_degenerate_hand_names_the_line(tmp_path: Path) -> None:
    flat = ["B", *(["0.5"] * 63)]  # every landmark on the wrist
    table = load_landmark_csv(_write(tmp_path, HEADER, [_good_row(), flat]))
    with pytest.raises(DataError, match=r"bad.csv: line 3: degenerate hand"):
        table.features()


def test_missing_file_and_empty_folder(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nope.csv: cannot open"):
        load_landmark_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="no \\*.csv files"):
        load_many([tmp_path])
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty.csv: line 1: empty file"):
        load_landmark_csv(tmp_path / "empty.csv")


def test_convert_raw_layouts_then_load(tmp_path: Path) -> None:
    """The per-letter layouts of public sets (63 values per CSV row, or one .npy per frame)."""
    from edge.cli import main

    rng = np.random.default_rng(2)
    src = tmp_path / "set"
    src.mkdir()
    rows = rng.uniform(0.2, 0.8, (3, 63))
    (src / "A.csv").write_text(
        "h" + ",h" * 62 + "\n" + "\n".join(",".join(f"{v:.5f}" for v in r) for r in rows) + "\n"
    )
    (src / "B").mkdir()
    np.save(src / "B" / "frame_0.npy", rng.uniform(0.2, 0.8, 63))
    out = tmp_path / "converted.csv"
    assert main(["convert-data", "raw", str(src), "--source", "mine", "--out", str(out)]) == 0
    table = load_landmark_csv(out)
    assert list(table.labels) == ["A", "A", "A", "B"]
    assert set(table.source) == {"mine"}
    assert np.allclose(table.coords[:3], rows, atol=1e-5)
    assert main(["convert-data", "check", str(out)]) == 0


def test_cli_reports_a_bad_csv_in_one_line(tmp_path: Path, capsys) -> None:
    from edge.cli import main

    path = _write(tmp_path, HEADER, [_good_row(), _good_row("a?")])
    assert main(["eval", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        f"sign2sound eval: error: {path}: line 3: unknown label 'a?' "
        "(expected one of A B C D E F G H I J K L M N O P Q R S T U V W X Y Z _ "
        "or a word (two or more letters A-Z))"  # eval also takes word streams
    )


def test_gzipped_csv_loads_like_the_plain_file(tmp_path: Path) -> None:
    import gzip

    packed = tmp_path / "letters_small.csv.gz"
    packed.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    plain, gz = load_landmark_csv(FIXTURE), load_landmark_csv(packed)
    assert np.array_equal(plain.coords, gz.coords) and list(plain.labels) == list(gz.labels)
    assert (gz.line == plain.line).all()
    assert len(load_many([tmp_path])) == len(plain)  # a folder's *.csv.gz are found too
    bare = tmp_path / "mine.csv.gz"  # no source column: named after the file, without .csv.gz
    bare.write_bytes(gzip.compress(_write(tmp_path, HEADER, [_good_row()]).read_bytes()))
    assert set(load_landmark_csv(bare).source) == {"mine"}


def test_a_broken_gzip_file_is_named_in_one_line(tmp_path: Path) -> None:
    import gzip

    fake = tmp_path / "fake.csv.gz"
    fake.write_text("label,x0\n")  # not gzip at all
    with pytest.raises(DataError, match=r"fake\.csv\.gz: not a readable gzip file"):
        load_landmark_csv(fake)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(FIXTURE.read_bytes())[:3000])  # truncated download
    with pytest.raises(DataError, match=r"cut\.csv\.gz: line \d+: not a readable gzip file"):
        load_landmark_csv(cut)


def test_word_labels_only_where_word_streams_are_expected(tmp_path: Path) -> None:
    header = [*HEADER, "sequence", "truth"]
    rows = [[*_good_row("HELLO"), "w1", "H"], [*_good_row("HELLO"), "w1", "_"]]
    path = _write(tmp_path, header, rows)
    with pytest.raises(DataError, match=rf"{path}: line 2: unknown label 'HELLO'"):
        load_landmark_csv(path)  # a letter evaluation still refuses it
    table = load_landmark_csv(path, words=True)
    assert list(table.labels) == ["HELLO", "HELLO"] and list(table.truth) == ["H", "_"]
    assert np.isnan(table.score).all()  # no score column
    for bad in ("A1", "hello", "HÉLLO"):  # not two or more letters A-Z
        path = _write(tmp_path, header, [[*_good_row(bad), "w1", "H"]])
        with pytest.raises(DataError, match=r"line 2: unknown label .* or a word"):
            load_landmark_csv(path, words=True)
    path = _write(tmp_path, header, [[*_good_row("HI"), "w1", "H"], [*_good_row("HI"), "w1", "h"]])
    with pytest.raises(DataError, match=r"line 3: truth 'h' is not a letter A-Z or _"):
        load_landmark_csv(path, words=True)


def test_a_file_read_in_chunks_is_the_whole_file(tmp_path: Path) -> None:
    """`read_landmark_csv(chunk_rows=N)`: tables of N rows in file order that together are
    exactly what the whole-file load gives (the bounded-memory path of `sign2sound eval`)."""
    from edge.dataset import concat_tables, read_landmark_csv

    whole = load_landmark_csv(FIXTURE)
    chunks = list(read_landmark_csv(FIXTURE, chunk_rows=7))
    assert [len(c) for c in chunks] == [7] * 17 + [1]
    joined = concat_tables(chunks)
    for name in whole.__dataclass_fields__:
        a, b = getattr(joined, name), getattr(whole, name)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), name
    # a bad row far into the file is named by its line, after the good chunks before it
    lines = FIXTURE.read_text().splitlines()
    lines[99] = lines[99].replace(lines[99].split(",")[0], "a?", 1)
    bad = tmp_path / "late.csv"
    bad.write_text("\n".join(lines) + "\n")
    reader = read_landmark_csv(bad, chunk_rows=10)
    assert sum(len(c) for c in itertools.islice(reader, 9)) == 90
    with pytest.raises(DataError, match=rf"{bad}: line 100: unknown label 'a\?'"):
        next(reader)


def test_every_header_is_checked_before_the_first_row(tmp_path: Path) -> None:
    """A run over many files fails on a broken or missing later file at once, not after the
    files before it were scored."""
    from edge.dataset import read_many

    broken = _write(tmp_path, HEADER[:-1], [_good_row()[:-1]])
    with pytest.raises(DataError, match=rf"{broken}: line 1: missing column\(s\) z20"):
        next(read_many([FIXTURE, broken], chunk_rows=10))
    with pytest.raises(DataError, match="gone.csv: cannot open landmark CSV"):
        next(read_many([FIXTURE, tmp_path / "gone.csv"], chunk_rows=10))


def test_a_row_without_a_source_takes_the_file_name(tmp_path: Path) -> None:
    """Decided row by row, so a chunk gives the same sources as the whole file."""
    header = [*HEADER, "source"]
    path = _write(tmp_path, header, [[*_good_row(), "me"], [*_good_row(), ""]])
    assert list(load_landmark_csv(path).source) == ["me", "bad"]


CLIP = Path(__file__).parent / "fixtures" / "lart101_H_clip.csv"


def test_a_sequence_cut_by_chunks_is_gathered_whole(tmp_path: Path) -> None:
    """edge.dataset.SequenceGroups: a clip across chunk boundaries comes out whole, once the
    next sequence starts or the input ends; single frames in between are not part of it."""
    from edge.dataset import SequenceGroups, read_many

    lines = CLIP.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    seq = header.split(",").index("sequence")

    def renamed(row: str, name: str) -> str:
        fields = row.split(",")
        fields[seq] = name
        return ",".join(fields)

    single = renamed(rows[0], "")
    body = [*(renamed(r, "a") for r in rows[:30]), single, *(renamed(r, "b") for r in rows)]
    path = tmp_path / "two.csv"
    path.write_text("\n".join([header, *body]) + "\n")
    groups = SequenceGroups()
    done = []
    for chunk in read_many([path], chunk_rows=7):
        done += [(g.sequence[0], len(g), int(g.line[0])) for g in groups.add(chunk)]
    assert done == [("a", 30, 2)]  # b is still open: its end is not known yet
    assert [(g.sequence[0], len(g)) for g in groups.finish()] == [("b", len(rows))]
    # rows of a sequence that come back after another one are refused, naming the line
    path.write_text("\n".join([header, *body, renamed(rows[0], "a")]) + "\n")
    groups = SequenceGroups()
    with pytest.raises(DataError, match=rf"{path}: line {len(body) + 2}: rows of sequence 'a'"):
        for chunk in read_many([path], chunk_rows=7):
            groups.add(chunk)

"""`sign2sound eval` in bounded memory: data read and scored chunk by chunk gives exactly the
reports the whole file gives (letters: edge.evaluate.LetterWindows + LetterTally; words:
edge.word_eval.WordStreamReader + WordEvaluation). How much memory it takes is measured by
benchmarks/eval_memory.py, not here.

Real rows of ../shared/data (two webcam sources, three lart101 clips, gh0stsh0t's J and Z) and
real word streams (models/eval/words/lart101_words.csv.gz), scored by the shipped model through
the real LiteRT interpreter and the daemon's pipeline; no figure depends on which model that is.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main
from edge.config import MODELS_DIR, SHARED_DATA_DIR
from edge.evaluate import EvalWindows, LetterTally

LABELS = [*"ABCDEFGHIJKLMNOPQRSTUVWXYZ", "_"]
WORDS = MODELS_DIR / "eval" / "words" / "lart101_words.csv.gz"
CHUNK = 150  # rows: cuts clips and word streams in the middle


def _rows(path: Path, every: int = 1, *, sequences: tuple[str, ...] = ()) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if sequences:
        rows = [r for r in rows if r["sequence"] in sequences]
    return rows[::every]


def _write(path: Path, rows: list[dict]) -> Path:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wt", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _straddles(rows: list[dict], chunk: int) -> set[str]:
    """Sequences with rows on both sides of a chunk boundary."""
    cut = set()
    for i in range(chunk, len(rows), chunk):
        if rows[i]["sequence"] and rows[i]["sequence"] == rows[i - 1]["sequence"]:
            cut.add(rows[i]["sequence"])
    return cut


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> tuple[Path, Path]:
    """A letter CSV (single frames, clips among them) and a gzipped file of word streams."""
    folder = tmp_path_factory.mktemp("eval-chunks")
    land, seq = SHARED_DATA_DIR / "landmarks", SHARED_DATA_DIR / "sequences"
    clips = _rows(seq / "lart101.csv", sequences=("lart101:A", "lart101:J", "lart101:L"))
    frames = _rows(land / "mariia00.csv", 12) + _rows(land / "t32rahman.csv", 10)
    rows = frames[:300] + clips + frames[300:] + _rows(seq / "gh0stsh0t.csv")
    letters = _write(folder / "letters.csv", rows)
    words = [r for r in _rows(WORDS) if r["sequence"].endswith("@1")][:1200]  # 1 letter/s
    streams = _write(folder / "words.csv.gz", words)
    assert len(_straddles(rows, CHUNK)) >= 3 and len(_straddles(words, CHUNK)) >= 3
    return letters, streams


def _eval(folder: Path, data: tuple[Path, Path], chunk_rows: int) -> tuple[dict, str, dict]:
    letters, streams = data
    out = folder / f"chunks-{chunk_rows}"
    argv = ["eval", str(letters), str(streams), "--chunk-rows", str(chunk_rows), "--out", str(out)]
    assert main([*argv, "--timelines", "2", "--json", str(out / "words.json")]) == 0
    report = json.loads((out / "report.json").read_text())
    words = json.loads((out / "words.json").read_text())
    assert json.loads((out / "words" / "report.json").read_text()) == words
    report.pop("mean_invoke_us")  # a time, not a result
    words.pop("seconds"), words.pop("ms_per_frame")
    timelines = sorted(p.name for p in (out / "words" / "timelines").glob("*.png"))
    return report | {"timelines": timelines}, (out / "confusion.txt").read_text(), words


def test_chunked_eval_gives_the_whole_file_reports(tmp_path: Path, data) -> None:
    """Clips and word streams cut by chunk boundaries, every chunk's jitter drawn from one
    random stream: the same letter report (every field but the invoke time), confusion matrix,
    word report and timelines as reading each file in one piece."""
    whole = _eval(tmp_path, data, 100_000)
    chunked = _eval(tmp_path, data, CHUNK)
    assert chunked[0] == whole[0]
    assert chunked[1] == whole[1]
    assert chunked[2] == whole[2]
    report, _, words = whole
    # the data exercises every part of the report
    assert {"lart101:A", "lart101:J", "lart101:L", "gh0stsh0t:J"} <= set(report["per_clip"])
    assert set(report["static_per_source"]) == {"mariia00", "t32rahman"}
    assert "J" in report["motion_top1"]
    assert len(report["timelines"]) >= 2 and len({w["word"] for w in words["words"]}) >= 8


def _windows(n: int, rng: np.random.Generator) -> tuple[EvalWindows, np.ndarray, np.ndarray]:
    """Windows of held frames of two sources and of three clips (one J, one Z), with the
    probabilities of a model that is often right, and a reference model's predictions."""
    clip = rng.choice(["", "", "c1", "cJ", "cZ"], n)
    y = rng.integers(0, len(LABELS), n)
    y[clip == "cJ"] = rng.choice([LABELS.index("J"), LABELS.index("_")], (clip == "cJ").sum())
    y[clip == "cZ"] = LABELS.index("Z")
    probs = rng.dirichlet(np.ones(len(LABELS)) * 0.3, n).astype(np.float32)
    right = rng.random(n) < 0.7
    probs[right, y[right]] += 1.5
    probs /= probs.sum(1, keepdims=True)
    source = np.where(clip == "", rng.choice(["s1", "s2"], n), "clips")
    reference = np.where(rng.random(n) < 0.9, probs.argmax(1), rng.integers(0, len(LABELS), n))
    x = np.zeros((n, 1, 1), np.float32)  # the tally never looks at the windows themselves
    return EvalWindows(x, y, source, clip), probs, reference


def _part(w: EvalWindows, m: slice) -> EvalWindows:
    return EvalWindows(w.x[m], w.y[m], w.source[m], w.clip[m])


def test_the_tally_of_pieces_is_the_tally_of_all() -> None:
    rng = np.random.default_rng(7)
    w, probs, reference = _windows(3000, rng)
    whole = LetterTally(LABELS)
    whole.add(w, probs, invoke_s=0.3, reference_pred=reference)
    pieces = LetterTally(LABELS)
    edges = [0, 1, 17, 600, 601, 2000, 3000]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        pieces.add(_part(w, slice(a, b)), probs[a:b], invoke_s=0.05, reference_pred=reference[a:b])
    rep, conf = whole.report(model_bytes=1000)
    assert pieces.report(model_bytes=1000)[0] == rep
    # ... and the figures are what they say they are
    pred = probs.argmax(1)
    ok = pred == w.y
    assert rep.n == 3000 and rep.top1 == round(ok.mean(), 4) and conf.trace() == ok.sum()
    assert rep.agreement == round((reference == pred).mean(), 4) and rep.mean_invoke_us == 100.0
    held = w.clip == ""
    assert rep.per_source["s1"] == round(ok[w.source == "s1"].mean(), 4)
    static = held & ~np.isin(np.array(LABELS)[w.y], ["J", "Z", "_"])
    assert rep.static_top1 == round(ok[static].mean(), 4)
    j = (w.clip != "") & (w.y == LABELS.index("J"))
    assert rep.motion_top1["J"] == {"n": int(j.sum()), "top1": round(ok[j].mean(), 4)}
    letter = (w.clip == "cJ") & (w.y != LABELS.index("_"))
    assert rep.per_clip["cJ"]["letter_windows"] == letter.sum()
    assert rep.per_clip["cJ"]["letter_top1"] == round(ok[letter].mean(), 4)
    sure = probs.max(1) >= 0.7
    assert rep.confidence["0.7"] == {
        "right": round((ok & sure).mean(), 4),
        "wrong": round((~ok & sure).mean(), 4),
    }

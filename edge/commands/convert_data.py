"""`sign2sound convert-data`: bring landmark data into the project's CSV format, or check a CSV.

- `video CLIP --label L`: run the device's own HandLandmarker (VIDEO mode) over a recorded clip and
  write one row per frame with a hand (sequence, frame, t_ms, handedness, frame size): record
  yourself spelling a letter and `sign2sound eval` the result.
- `raw DIR --source NAME`: the per-letter layouts the public sets use: `DIR/<L>.csv` with 63 raw
  values per row (optional header) or `DIR/<L>/*.npy` holding 63 values each.
- `check CSV...`: validate files (errors name file and line) and count rows per source and letter;
  word streams are checked as `sign2sound eval` reads them.
- `lart101-words --out FILE`: the word streams cut from the real lart101 letter clips at 1, 2 and
  3 letters/s (edge.clip_words; seeded, the same bytes every run). lart101 is a training source:
  numbers on these cuts are in-sample.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from edge.dataset import (
    COORD_COLUMNS,
    LETTERS,
    OPTIONAL_COLUMNS,
    DataError,
    write_landmark_csv,
)
from edge.errors import UsageError
from edge.outputs import check_output_file, writing

HELP = "convert landmark data sets into the project's CSV format"
HEADER = ["label", *COORD_COLUMNS, *OPTIONAL_COLUMNS]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    video = sub.add_parser("video", help="landmarks of a video clip (MediaPipe, VIDEO mode)")
    video.add_argument(
        "clip", type=Path, help="video file of one letter signed (any OpenCV format)"
    )
    video.add_argument("--label", required=True, help="the letter signed in the clip")
    video.add_argument("--out", type=Path, required=True, help="the CSV to write")
    video.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    video.add_argument("--source", default="me", help="source name written to every row")
    video.add_argument("--model", type=Path, default=None, help="hand_landmarker .task bundle")
    raw = sub.add_parser("raw", help="DIR/<L>.csv (63 values per row) or DIR/<L>/*.npy")
    raw.add_argument(
        "folder", type=Path, help="folder with one <L>.csv file or <L>/ folder per letter"
    )
    raw.add_argument("--out", type=Path, required=True, help="the CSV to write")
    raw.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    raw.add_argument("--source", required=True, help="source name written to every row")
    check = sub.add_parser("check", help="validate CSVs and count rows per source and letter")
    check.add_argument(
        "csv", nargs="+", type=Path, help="landmark CSVs (or word streams) in the project's format"
    )
    words = sub.add_parser(
        "lart101-words",
        help="word streams cut from the real lart101 letter clips at 1, 2 and 3 letters/s "
        "(in-sample: lart101 is a training source)",
    )
    words.add_argument(
        "--data",
        type=Path,
        default=None,
        help="lart101's per-frame landmarks (default: ../shared/data/sequences/lart101.csv)",
    )
    words.add_argument(
        "--out",
        type=Path,
        required=True,
        help="the word-stream CSV to write (.csv.gz is gzipped), e.g. "
        "models/eval/words/lart101_words.csv.gz",
    )
    words.add_argument(
        "--seed", type=int, default=None, help="seed of the per-letter timing (default: fixed)"
    )


def _row(label: str, values, **extra) -> list[str]:
    opt = [str(extra.get(c, "")) for c in OPTIONAL_COLUMNS]
    return [label, *(f"{float(v):.6f}" for v in values), *opt]


def _convert_video(args: argparse.Namespace) -> int:
    from edge.config import MODELS_DIR
    from edge.landmarks import HandTracker
    from edge.modelfiles import verify_sha256
    from edge.sources import OpenCVSource

    label = args.label.strip().upper()
    if label not in LETTERS:
        raise UsageError(f"--label {args.label!r}: expected one letter A-Z")
    check_output_file(args.out, force=args.force)  # before MediaPipe reads the whole clip
    model = args.model or MODELS_DIR / "hand_landmarker.task"
    if args.model is None:  # the shipped bundle is checked like the daemon checks it
        verify_sha256(model, MODELS_DIR / "SHA256SUMS")
    source = OpenCVSource(args.clip, realtime=False)
    source.open()
    rows, frames = [], 0
    with HandTracker(model) as tracker:
        while (frame := source.read()) is not None:
            frames += 1
            obs = tracker.detect(frame.image, frame.t)
            if obs.landmarks is None:
                continue
            h, w = frame.image.shape[:2]
            rows.append(
                _row(
                    label,
                    obs.landmarks.reshape(-1),
                    handedness=obs.handedness or "",
                    score=f"{obs.score:.4f}",
                    width=w,
                    height=h,
                    source=args.source,
                    signer=args.source,
                    sequence=f"{args.source}:{args.clip.stem}",
                    frame=frame.index,
                    t_ms=round(frame.t * 1000),
                    file=args.clip.name,
                )
            )
    source.close()
    _write(args.out, rows)
    print(f"{args.clip}: {frames} frames, {len(rows)} with a hand -> {args.out}")
    return 0


def _convert_raw(args: argparse.Namespace) -> int:
    import numpy as np

    if not args.folder.is_dir():
        raise UsageError(f"{args.folder}: not a folder")
    check_output_file(args.out, force=args.force)
    rows = []
    for letter in LETTERS:
        table = args.folder / f"{letter}.csv"
        folder = args.folder / letter
        if table.is_file():
            with table.open(newline="") as fh:
                for lineno, rec in enumerate(csv.reader(fh), 1):
                    try:
                        values = [float(v) for v in rec if v.strip()]
                    except ValueError:
                        if lineno == 1:
                            continue  # a header
                        raise DataError(f"{table}: line {lineno}: not numbers") from None
                    if len(values) != 63 or not np.isfinite(values).all():
                        raise DataError(
                            f"{table}: line {lineno}: expected 63 finite values, got {len(values)}"
                        )
                    rows.append(
                        _row(
                            letter,
                            values,
                            source=args.source,
                            signer=args.source,
                            file=f"{table.name}:{lineno}",
                        )
                    )
        if folder.is_dir():
            for npy in sorted(folder.glob("*.npy")):
                values = np.load(npy).reshape(-1)
                if values.size != 63 or not np.isfinite(values).all():
                    raise DataError(f"{npy}: expected 63 finite values, got {values.size}")
                rows.append(
                    _row(
                        letter,
                        values,
                        source=args.source,
                        signer=args.source,
                        file=f"{letter}/{npy.name}",
                    )
                )
    if not rows:
        raise DataError(f"{args.folder}: no <L>.csv files or <L>/*.npy folders found")
    _write(args.out, rows)
    print(f"{args.folder}: {len(rows)} rows -> {args.out}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from collections import Counter

    from edge.dataset import load_landmark_csv
    from edge.word_eval import word_streams

    for path in args.csv:
        table = load_landmark_csv(path, words=True)
        table.features()  # every hand must normalise
        streams = word_streams(table)  # word streams must replay: one word, time going forward
        counts = Counter(zip(table.source.tolist(), table.labels.tolist(), strict=True))
        for src in sorted(set(table.source.tolist())):
            per = " ".join(f"{lab}:{n}" for (s, lab), n in sorted(counts.items()) if s == src)
            print(f"{path}: source {src}: {per}")
        if streams:
            print(f"{path}: {len(streams)} word streams")
        print(f"{path}: {len(table)} rows OK")
    return 0


def _lart101_words(args: argparse.Namespace) -> int:
    from edge.clip_words import SEED, write_words
    from edge.config import SHARED_DATA_DIR

    data = args.data or SHARED_DATA_DIR / "sequences" / "lart101.csv"
    streams, rows = write_words(data, args.out, seed=SEED if args.seed is None else args.seed)
    print(
        f"{data}: {streams} word streams, {rows} rows -> {args.out} "
        f"({args.out.stat().st_size} bytes); lart101 is a training source: numbers on these "
        "cuts are in-sample"
    )
    return 0


def _write(out: Path, rows: list[list[str]]) -> None:
    """A failed write is one line naming the file (write_landmark_csv never leaves half a CSV)."""
    with writing(out):
        write_landmark_csv(out, HEADER, rows)


def main(args: argparse.Namespace) -> int:
    kinds = {
        "video": _convert_video,
        "raw": _convert_raw,
        "check": _check,
        "lart101-words": _lart101_words,
    }
    return kinds[args.kind](args)

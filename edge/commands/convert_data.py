"""`sign2sound convert-data`: bring landmark data into the project's CSV format, or check a CSV.

- `video CLIP --label L`: run the device's own HandLandmarker (VIDEO mode) over a recorded clip and
  write one row per frame with a hand (sequence, frame, t_ms, handedness, frame size): record
  yourself spelling a letter and `sign2sound eval` the result.
- `raw DIR --source NAME`: the per-letter layouts the public sets use: `DIR/<L>.csv` with 63 raw
  values per row (optional header) or `DIR/<L>/*.npy` holding 63 values each.
- `check CSV...`: validate files (errors name file and line) and count rows per source and letter.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from edge.dataset import COORD_COLUMNS, LETTERS, OPTIONAL_COLUMNS, DataError
from edge.errors import UsageError

HELP = "convert landmark data sets into the project's CSV format"
HEADER = ["label", *COORD_COLUMNS, *OPTIONAL_COLUMNS]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
    video = sub.add_parser("video", help="landmarks of a video clip (MediaPipe, VIDEO mode)")
    video.add_argument(
        "clip", type=Path, help="video file of one letter signed (any OpenCV format)"
    )
    video.add_argument("--label", required=True, help="the letter signed in the clip")
    video.add_argument("--out", type=Path, required=True, help="landmark CSV to write")
    video.add_argument("--source", default="me", help="source name written to every row")
    video.add_argument("--model", type=Path, default=None, help="hand_landmarker .task bundle")
    raw = sub.add_parser("raw", help="DIR/<L>.csv (63 values per row) or DIR/<L>/*.npy")
    raw.add_argument(
        "folder", type=Path, help="folder with one <L>.csv file or <L>/ folder per letter"
    )
    raw.add_argument("--out", type=Path, required=True, help="landmark CSV to write")
    raw.add_argument("--source", required=True, help="source name written to every row")
    check = sub.add_parser("check", help="validate CSVs and count rows per source and letter")
    check.add_argument("csv", nargs="+", type=Path, help="landmark CSVs in the project's format")


def _row(label: str, values, **extra) -> list[str]:
    opt = [str(extra.get(c, "")) for c in OPTIONAL_COLUMNS]
    return [label, *(f"{float(v):.6f}" for v in values), *opt]


def _convert_video(args: argparse.Namespace) -> int:
    from edge.config import MODELS_DIR
    from edge.landmarks import HandTracker
    from edge.sources import OpenCVSource

    label = args.label.strip().upper()
    if label not in LETTERS:
        raise UsageError(f"--label {args.label!r}: expected one letter A-Z")
    source = OpenCVSource(args.clip, realtime=False)
    source.open()
    rows, frames = [], 0
    with HandTracker(args.model or MODELS_DIR / "hand_landmarker.task") as tracker:
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

    for path in args.csv:
        table = load_landmark_csv(path)
        table.features()  # every hand must normalise
        counts = Counter(zip(table.source.tolist(), table.labels.tolist(), strict=True))
        for src in sorted(set(table.source.tolist())):
            per = " ".join(f"{lab}:{n}" for (s, lab), n in sorted(counts.items()) if s == src)
            print(f"{path}: source {src}: {per}")
        print(f"{path}: {len(table)} rows OK")
    return 0


def _write(out: Path, rows: list[list[str]]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    tmp.replace(out)


def main(args: argparse.Namespace) -> int:
    return {"video": _convert_video, "raw": _convert_raw, "check": _check}[args.kind](args)

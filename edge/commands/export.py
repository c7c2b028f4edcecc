"""`sign2sound export`: a trained run to float32, dynamic-range and full-INT8 .tflite.

With --install the INT8 model becomes models/letters_int8.tflite (plus labels.txt) and their
lines in models/SHA256SUMS are replaced, keeping every other line.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from edge.config import MODELS_DIR
from edge.errors import UsageError

HELP = "export a trained model to float32, dynamic-range and INT8 .tflite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run folder written by `sign2sound train`")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the .tflite files (default: RUN)"
    )
    parser.add_argument(
        "--kinds",
        default="float32,dynamic,int8",
        help="comma-separated subset of float32,dynamic,int8",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="copy the INT8 model and labels into models/ and update models/SHA256SUMS",
    )
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help=argparse.SUPPRESS)


def update_sums(sums_path: Path, files: list[Path]) -> None:
    """Replace (or add) the lines of `files` in a sha256sum list, keeping the others in order."""
    from edge.modelfiles import sha256_of

    lines = sums_path.read_text().splitlines() if sums_path.exists() else []
    names = {f.name for f in files}
    kept = [ln for ln in lines if ln.split(maxsplit=1)[-1].lstrip("*").strip() not in names]
    kept += [f"{sha256_of(f)}  {f.name}" for f in files]
    sums_path.write_text("\n".join(kept) + "\n")


def main(args: argparse.Namespace) -> int:
    import logging

    from edge.training.export import KINDS, export_run

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in KINDS]
    if bad:
        raise UsageError(f"--kinds: unknown {', '.join(bad)} (choose from {', '.join(KINDS)})")
    if not (args.run / "model.keras").is_file():
        raise UsageError(f"{args.run}: no model.keras here; run `sign2sound train --out` first")
    if args.install and "int8" not in kinds:
        raise UsageError("--install needs the int8 kind")
    written = export_run(args.run, args.out or args.run, kinds)
    log = logging.getLogger("sign2sound.export")
    for kind, info in written.items():
        log.info("%s: %s (%d bytes)", kind, info["path"], info["bytes"])
    if args.install:
        models = args.models_dir
        model = models / "letters_int8.tflite"
        shutil.copyfile(written["int8"]["path"], model)
        shutil.copyfile(args.run / "labels.txt", models / "labels.txt")
        update_sums(models / "SHA256SUMS", [model, models / "labels.txt"])
        log.info("installed %s and updated %s", model, models / "SHA256SUMS")
    return 0

"""`sign2sound export`: a trained run to float32, dynamic-range and full-INT8 .tflite, and ONNX.

The ONNX file (letters.onnx, the float model) is written when tf2onnx is installed (the `train`
extra); without it the default export skips it with a warning.

With --install the INT8 model becomes models/letters_int8.tflite (plus labels.txt) and their
lines in models/SHA256SUMS are replaced, keeping every other line; its float twins from the same
run (letters_float32.tflite, letters.onnx) go to benchmarks/reference/, which edge-bench model
measures beside it (LiteRT float, ONNX Runtime). With --reference a GRU run's
float32 and dynamic-range models become the speed reference of `edge-bench model`
(benchmarks/reference/reference_gru_<kind>.tflite and the run's run.json as
reference_gru_run.json, in its SHA256SUMS), so a Pi shows the speed target with nothing but the
repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
from pathlib import Path

from edge.config import MODELS_DIR, REFERENCE_DIR
from edge.errors import UsageError

HELP = "export a trained model to float32, dynamic-range and INT8 .tflite, and ONNX"
DEFAULT_KINDS = "float32,dynamic,int8,onnx"
REFERENCE_KINDS = ("float32", "dynamic")

log = logging.getLogger("sign2sound.export")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=Path, help="run folder written by `sign2sound train`")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the model files (default: RUN)"
    )
    parser.add_argument(
        "--kinds",
        default=DEFAULT_KINDS,
        help="comma-separated subset of float32,dynamic,int8 (.tflite) and onnx (the float "
        "model as letters.onnx, needs tf2onnx; skipped with a warning from the default when "
        "it is not installed)",
    )
    parser.add_argument(
        "--install",
        action="store_true",
        help="copy the INT8 model and labels into models/ and its float32 .tflite and .onnx "
        "into benchmarks/reference/, updating both folders' SHA256SUMS",
    )
    parser.add_argument(
        "--reference",
        action="store_true",
        help="a GRU run (train --arch gru): copy its float32 and dynamic-range models into "
        "benchmarks/reference/ as the speed reference of edge-bench model, with its run.json "
        "(updating the folder's SHA256SUMS)",
    )
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR, help=argparse.SUPPRESS)
    parser.add_argument("--reference-dir", type=Path, default=REFERENCE_DIR, help=argparse.SUPPRESS)


def update_sums(sums_path: Path, files: list[Path]) -> None:
    """Replace (or add) the lines of `files` in a sha256sum list, keeping the others in order."""
    from edge.modelfiles import sha256_of

    lines = sums_path.read_text().splitlines() if sums_path.exists() else []
    names = {f.name for f in files}
    kept = [ln for ln in lines if ln.split(maxsplit=1)[-1].lstrip("*").strip() not in names]
    kept += [f"{sha256_of(f)}  {f.name}" for f in files]
    sums_path.write_text("\n".join(kept) + "\n")


def _kinds(args: argparse.Namespace) -> tuple[str, ...]:
    from edge.training.export import EXPORTS, ONNX, onnx_available

    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    bad = [k for k in kinds if k not in EXPORTS]
    if bad:
        raise UsageError(f"--kinds: unknown {', '.join(bad)} (choose from {', '.join(EXPORTS)})")
    if ONNX in kinds and not onnx_available():
        if args.kinds != DEFAULT_KINDS:
            raise UsageError("--kinds onnx needs tf2onnx (the 'train' extra: pip install tf2onnx)")
        log.warning("tf2onnx is not installed (the 'train' extra has it): no letters.onnx")
        kinds = tuple(k for k in kinds if k != ONNX)
    return kinds


def _run_arch(run: Path) -> str | None:
    try:
        return json.loads((run / "run.json").read_text())["config"]["arch"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(args: argparse.Namespace) -> int:
    from edge.training.export import export_run

    kinds = _kinds(args)
    if not (args.run / "model.keras").is_file():
        raise UsageError(f"{args.run}: no model.keras here; run `sign2sound train --out` first")
    if args.install and "int8" not in kinds:
        raise UsageError("--install needs the int8 kind")
    if args.reference:
        missing = [k for k in REFERENCE_KINDS if k not in kinds]
        if missing:
            raise UsageError(f"--reference needs the {' and '.join(missing)} kind(s)")
        arch = _run_arch(args.run)
        if arch != "gru":
            raise UsageError(
                f"--reference: {args.run} is a {arch or 'unknown'} run (run.json); the speed "
                "reference is the GRU: `sign2sound train --arch gru`"
            )
    written = export_run(args.run, args.out or args.run, kinds)
    for kind, info in written.items():
        log.info("%s: %s (%d bytes)", kind, info["path"], info["bytes"])
    if args.install:
        shipped = {
            "letters_int8.tflite": written["int8"]["path"],
            "labels.txt": args.run / "labels.txt",
        }
        _install(args.models_dir, shipped)
        twins = {"float32": "letters_float32.tflite", "onnx": "letters.onnx"}
        _install(args.reference_dir, {twins[k]: written[k]["path"] for k in twins if k in written})
    if args.reference:
        files = {f"reference_gru_{kind}.tflite": written[kind]["path"] for kind in REFERENCE_KINDS}
        files["reference_gru_run.json"] = args.run / "run.json"
        _install(args.reference_dir, files)
    return 0


def _install(folder: Path, files: dict[str, str | Path]) -> None:
    """Copy {name: source} into `folder` (models/ or benchmarks/reference/) and update its
    SHA256SUMS, which the daemon and edge-bench check."""
    if not files:
        return
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in files.items():
        shutil.copyfile(source, folder / name)
    update_sums(folder / "SHA256SUMS", [folder / name for name in files])
    log.info("installed %s in %s and updated its SHA256SUMS", ", ".join(files), folder)

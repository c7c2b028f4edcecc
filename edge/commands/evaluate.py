"""`sign2sound eval`: measure a .tflite letter model on any landmark CSV in the project's format.

Anyone can record their own CSV (see README "Model: train, export, evaluate") and see how the
shipped model does on their hands: per-letter and overall top-1, confusion matrix (text + PNG),
per-clip accuracy, INT8-vs-float agreement, model size and mean invoke time.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli import comma_names
from edge.config import MODELS_DIR
from edge.errors import UsageError

HELP = "evaluate a .tflite model on any landmark CSV: per-letter accuracy and confusion matrix"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", nargs="+", type=Path, help="landmark CSVs or folders of them")
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "letters_int8.tflite")
    parser.add_argument("--labels", type=Path, default=MODELS_DIR / "labels.txt")
    parser.add_argument(
        "--checksums",
        type=Path,
        default=None,
        help="verify the model against this SHA256SUMS (default: models/SHA256SUMS for the "
        "shipped model, none for others)",
    )
    parser.add_argument(
        "--float-model", type=Path, default=None, help="float .tflite to measure INT8 agreement"
    )
    parser.add_argument(
        "--sources",
        type=comma_names,
        default=(),
        help="only rows of these sources (comma-separated)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for report.json, confusion.txt and confusion.png (replaced if there)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-window jitter")


def main(args: argparse.Namespace) -> int:
    import numpy as np

    from edge.classifier import LetterClassifier
    from edge.dataset import load_many
    from edge.evaluate import confusion_png, confusion_text, eval_windows, report
    from edge.outputs import check_output_folder, writing

    if args.out:
        check_output_folder(args.out)  # before minutes of evaluation, not after
    checksums = args.checksums
    if checksums is None and args.model.resolve() == (MODELS_DIR / "letters_int8.tflite"):
        checksums = MODELS_DIR / "SHA256SUMS"
    clf = LetterClassifier(args.model, args.labels, checksums)
    ref = LetterClassifier(args.float_model, args.labels, None) if args.float_model else None
    table = load_many(args.data, allowed_labels=clf.labels)
    if args.sources:
        keep = np.isin(table.source, list(args.sources))
        if not keep.any():
            raise UsageError(f"no rows of source(s) {', '.join(args.sources)} in the data")
        table = table.select(keep)
    windows = eval_windows(table, list(clf.labels), seed=args.seed)
    rep, conf = report(clf, windows, reference=ref)

    print(f"model {args.model} ({rep.model_bytes} bytes), {rep.n} windows")
    print(f"top-1 {rep.top1:.4f}   mean invoke {rep.mean_invoke_us:.1f} us", end="")
    print(f"   INT8-vs-float top-1 agreement {rep.agreement:.4f}" if ref else "")
    for src, acc in rep.per_source.items():
        print(f"  source {src}: {acc:.4f}")
    print(
        "windows with top probability >= threshold, right / wrong: "
        + "  ".join(f"{t}: {v['right']:.3f} / {v['wrong']:.3f}" for t, v in rep.confidence.items())
    )
    print("per letter: " + "  ".join(f"{k} {v['top1']:.2f}" for k, v in rep.per_letter.items()))
    for clip, info in rep.per_clip.items():
        print(
            f"  clip {clip}: {info['letter_windows']} letter windows, top-1 "
            f"{info['letter_top1']}, majority {info['majority']}; all windows {info['top1']}"
        )
    text = confusion_text(conf, list(clf.labels))
    print(text, end="")
    if args.out:
        with writing(args.out):
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "report.json").write_text(rep.to_json())
            (args.out / "confusion.txt").write_text(text)
            confusion_png(
                conf,
                list(clf.labels),
                args.out / "confusion.png",
                f"{args.model.name}: top-1 {rep.top1:.3f} on {rep.n} windows",
            )
        print(f"wrote {args.out}/report.json, confusion.txt, confusion.png")
    return 0

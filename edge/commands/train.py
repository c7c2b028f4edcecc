"""`sign2sound train`: train a letter classifier on landmark CSVs, split by source.

Needs the `train` extra (tensorflow-cpu). The defaults reproduce the shipped model:
`sign2sound train --out runs/cnn` then `sign2sound export runs/cnn --install`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from edge.cli import comma_names
from edge.config import SHARED_DATA_DIR
from edge.errors import Sign2SoundError, UsageError
from edge.training.splits import HELD_OUT_SOURCES, VAL_SOURCES

HELP = "train a letter classifier on landmark CSVs"

DEFAULT_DATA = (
    SHARED_DATA_DIR / "landmarks",
    SHARED_DATA_DIR / "sequences",
)
# The shipped split, fixed before any result was seen (edge/training/splits.py): five webcam
# signers and the J/Z motion clips never trained on (test), three more for every choice
# (validation). See models/MODEL_CARD.md.
DEFAULT_VAL = VAL_SOURCES
DEFAULT_TEST = HELD_OUT_SOURCES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        nargs="*",
        type=Path,
        help="landmark CSVs or folders of them (default: ../shared/data/landmarks and sequences)",
    )
    parser.add_argument("--out", type=Path, required=True, help="run folder to write")
    parser.add_argument(
        "--arch",
        default="cnn",
        choices=("cnn", "gru", "lstm"),
        help="model: the temporal CNN the Pi runs, or the reference GRU / LSTM (default: cnn)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="random seed of the synthesised windows and the initial weights",
    )
    parser.add_argument("--per-class", type=int, default=6000, help="training windows per letter")
    parser.add_argument(
        "--clip-windows", type=int, default=200, help="training windows cut from each real clip"
    )
    parser.add_argument("--epochs", type=int, default=20, help="most passes over the windows")
    parser.add_argument("--patience", type=int, default=5, help="early-stopping patience")
    parser.add_argument("--batch-size", type=int, default=32, help="windows per training step")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument(
        "--label-smoothing",
        type=float,
        default=0.1,
        help="soft targets (0 = off); 0.1 keeps the logits small enough for a faithful INT8",
    )
    parser.add_argument(
        "--ignore-z",
        action="store_true",
        help="CNN: the first layer ignores the z coordinates (depth scale differs by source)",
    )
    parser.add_argument(
        "--signer-weight",
        type=float,
        default=1.0,
        help="weight of each person of a source of several people: 1 = like a source of their "
        "own, 0 = the source counts once, shared by its people",
    )
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument(
        "--val-sources", type=comma_names, default=DEFAULT_VAL, help="comma-separated source names"
    )
    parser.add_argument(
        "--test-sources",
        type=comma_names,
        default=DEFAULT_TEST,
        help="comma-separated sources kept out of training entirely ('' = none)",
    )
    parser.add_argument(
        "--loso",
        type=comma_names,
        default=None,
        metavar="SOURCES",
        help="leave-one-source-out instead: one model per listed source ('all' = every source) "
        "trained without it and scored on it; writes OUT/loso.json",
    )


def main(args: argparse.Namespace) -> int:
    import json
    import logging

    from edge.dataset import load_many

    try:
        from edge.training.train import TrainConfig, train
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise Sign2SoundError(f"training needs the 'train' extra (tensorflow-cpu): {exc}") from exc
    if args.per_class < 1 or args.epochs < 1:
        raise UsageError("--per-class and --epochs must be at least 1")
    if args.ignore_z and args.arch != "cnn":
        raise UsageError("--ignore-z is implemented for --arch cnn only")
    if not 0.0 <= args.label_smoothing < 1.0:
        raise UsageError("--label-smoothing must be in [0, 1)")
    paths = args.data or list(DEFAULT_DATA)
    table = load_many(paths)
    config = TrainConfig(
        arch=args.arch,
        seed=args.seed,
        per_class=args.per_class,
        clip_windows=args.clip_windows,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        label_smoothing=args.label_smoothing,
        ignore_z=args.ignore_z,
        signer_weight=args.signer_weight,
        threads=args.threads,
        val_sources=args.val_sources,
        test_sources=args.test_sources,
    )
    if args.loso is not None:
        from edge.training.loso import leave_one_source_out

        sources = None if args.loso in ((), ("all",)) else list(args.loso)
        results = leave_one_source_out(table, config, args.out, sources)
        for src, entry in results.items():
            print(f"held out {src}: top-1 {entry['top1']:.4f} ({entry['windows']} windows)")
        return 0
    summary = train(table, config, args.out)
    summary["data"] = [str(p) for p in paths]
    (args.out / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    logging.getLogger("sign2sound.train").info(
        "%s: %d params, %d epochs, best val accuracy %.4f, wrote %s",
        args.arch,
        summary["params"],
        summary["epochs_run"],
        summary["best_val_accuracy"],
        args.out,
    )
    return 0

"""`sign2sound eval`: measure a .tflite or .onnx letter model on any landmark CSV.

Anyone can record their own CSV (see README "Model: train, export, evaluate") and see how the
shipped model does on their hands: per-letter and overall top-1, confusion matrix (text + PNG),
per-clip accuracy, top-1 agreement with a second model (INT8 against float, or an .onnx in ONNX
Runtime against the LiteRT model the daemon runs), model size and mean invoke time.

Word streams (rows of one `sequence` whose label is a word, see edge.dataset) are replayed through
the daemon's own Pipeline (edge.word_eval): per-word output and edit distance, character error
rate with and without word correction, word accuracy, by input letters/s and by source, under
every --speed x --fps condition, with a timeline picture per word in --out.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
import time
from pathlib import Path

from edge.cli import add_config_arguments, comma_names, comma_positive_floats, non_negative_int
from edge.config import MODELS_DIR
from edge.errors import UsageError

HELP = (
    "evaluate a .tflite model on any landmark CSV: per-letter accuracy and confusion matrix, "
    "and word streams through the daemon's pipeline"
)
SHIPPED_MODEL = MODELS_DIR / "letters_int8.tflite"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "data",
        nargs="+",
        type=Path,
        help="landmark CSVs (.csv or .csv.gz) or folders of them: letter rows, letter clips "
        "and word streams",
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="the model to measure: a .tflite (LiteRT) or an .onnx (ONNX Runtime, the 'onnx' "
        "extra); default: classifier.model of the config, the shipped model",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=None,
        help="its labels file (default: classifier.labels of the config)",
    )
    parser.add_argument(
        "--checksums",
        type=Path,
        default=None,
        help="verify the model against this SHA256SUMS (default: models/SHA256SUMS for the "
        "shipped model, none for others)",
    )
    parser.add_argument(
        "--float-model",
        type=Path,
        default=None,
        help="a second model whose top-1 agreement with --model is reported (a float .tflite "
        "for INT8 fidelity); default for an .onnx --model: classifier.model of the config, "
        "the shipped INT8",
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
        metavar="DIR",
        help="folder for the reports: letters: report.json, confusion.txt/.png; words: "
        "report.json, report.txt and timelines/*.png (in DIR/words/ when the data has both); "
        "files there are replaced",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the held-window jitter")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="P",
        help="apply this signer profile (sign2sound enroll) after the model, as the daemon does; "
        "without it the model is measured alone, whatever classifier.profile says",
    )
    add_config_arguments(parser)
    words = parser.add_argument_group("word streams")
    words.add_argument(
        "--speed",
        type=comma_positive_floats,
        default=(1.0,),
        metavar="S[,S...]",
        help="signing speeds to replay at: every time is divided by S (2 = twice as fast); "
        "default 1",
    )
    words.add_argument(
        "--fps",
        type=comma_positive_floats,
        default=(),
        metavar="F[,F...]",
        help="camera rates to thin the streams to (a frame is kept when 1/F s have passed since "
        "the last kept one); default: every frame",
    )
    words.add_argument(
        "--json",
        default=None,
        metavar="FILE|-",
        help="write the whole word report as JSON to FILE ('-' = stdout; the text report then "
        "goes to stderr)",
    )
    words.add_argument(
        "--timelines",
        type=non_negative_int,
        default=40,
        metavar="N",
        help="with --out: timeline PNGs of the N worst words plus a few read right (default 40; "
        "0 = none)",
    )


def main(args: argparse.Namespace) -> int:
    if args.json == "-":  # stdout is for the JSON: everything a person reads goes to stderr
        with contextlib.redirect_stdout(sys.stderr):
            report = _run(args)
        if report is not None:
            sys.stdout.write(json.dumps(report, indent=1) + "\n")
        return 0
    report = _run(args)
    if report is not None and args.json:
        from edge.outputs import writing

        with writing(Path(args.json)):
            Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.json}")
    return 0


def _run(args: argparse.Namespace) -> dict | None:
    """Both evaluations the data calls for; returns the word report (None: no word streams)."""
    import numpy as np

    from edge.classifier import read_labels
    from edge.config import load_config
    from edge.dataset import is_word_label, load_many
    from edge.outputs import check_output_folder

    if args.out:
        check_output_folder(args.out)  # before minutes of evaluation, not after
    config = load_config(args.config, args.overrides)
    profile = str(args.profile.resolve()) if args.profile else ""
    config = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, profile=profile)
    )
    labels_path = args.labels or config.resolve_path(config.classifier.labels)
    table = load_many(args.data, allowed_labels=read_labels(labels_path), words=True)
    if args.sources:
        keep = np.isin(table.source, list(args.sources))
        if not keep.any():
            raise UsageError(f"no rows of source(s) {', '.join(args.sources)} in the data")
        table = table.select(keep)
    is_word = np.array([is_word_label(str(label)) for label in table.labels])
    if not is_word.any() and (args.json or args.speed != (1.0,) or args.fps):
        raise UsageError("--speed, --fps and --json are for word streams; the data holds none")
    if (~is_word).any():
        _letters(args, config, table.select(~is_word))
    if not is_word.any():
        return None
    out = args.out
    if out is not None and (~is_word).any():
        out = out / "words"
    return _words(args, _word_config(args, config), table.select(is_word), out)


def _word_config(args: argparse.Namespace, config):
    """The daemon's config, with --model/--labels/--checksums in place of its classifier."""
    if args.model is None and args.labels is None and args.checksums is None:
        return config
    cls = config.classifier
    model = args.model or config.resolve_path(cls.model)
    checksums = args.checksums
    if checksums is None and model.resolve() == config.resolve_path(cls.model).resolve():
        checksums = config.resolve_path(cls.checksums) if cls.checksums else None
    return dataclasses.replace(
        config,
        classifier=dataclasses.replace(
            cls,
            model=str(model.resolve()),
            labels=str((args.labels or config.resolve_path(cls.labels)).resolve()),
            checksums=str(checksums.resolve()) if checksums else "",
        ),
    )


def _letters(args: argparse.Namespace, config, table) -> None:
    """Letter rows and letter clips: top-1, per letter and source, confusion matrix."""
    from edge.classifier import LetterClassifier
    from edge.evaluate import confusion_png, confusion_text, eval_windows, report
    from edge.outputs import writing

    model = args.model or config.resolve_path(config.classifier.model)
    labels = args.labels or config.resolve_path(config.classifier.labels)
    checksums = args.checksums
    if checksums is None and model.resolve() == SHIPPED_MODEL:
        checksums = MODELS_DIR / "SHA256SUMS"
    clf = LetterClassifier(model, labels, checksums)  # an .onnx runs in ONNX Runtime
    ref = _reference(args, config, clf, labels)
    if args.profile is not None:
        from edge.adaptation import AdaptedClassifier
        from edge.signer_profile import load_adapter

        profile, adapter = load_adapter(args.profile, clf)
        print(f"signer profile {args.profile}: {profile.describe()}")
        clf = AdaptedClassifier(clf, adapter)
    windows = eval_windows(table, list(clf.labels), seed=args.seed)
    rep, conf = report(clf, windows, reference=ref)

    print(f"model {model} ({rep.model_bytes} bytes, {rep.runtime}), {rep.n} windows")
    print(f"top-1 {rep.top1:.4f}   mean invoke {rep.mean_invoke_us:.1f} us", end="")
    print(f"   top-1 agreement with {ref.model_path.name} {rep.agreement:.4f}" if ref else "")
    for src, acc in rep.per_source.items():
        print(f"  source {src}: {acc:.4f}")
    if rep.static_top1 is not None:
        print(
            f"24 letters held still (no J, Z): top-1 {rep.static_top1:.4f}   "
            + "  ".join(f"{src} {acc:.4f}" for src, acc in rep.static_per_source.items())
        )
    for letter, info in rep.motion_top1.items():
        print(f"{letter} in motion (clip windows): top-1 {info['top1']:.4f} ({info['n']} windows)")
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
                f"{model.name}: top-1 {rep.top1:.3f} on {rep.n} windows",
            )
        print(f"wrote {args.out}/report.json, confusion.txt, confusion.png")


def _reference(args: argparse.Namespace, config, clf, labels: Path):
    """The model to report top-1 agreement with: --float-model, or for an ONNX model the TFLite
    model the daemon runs (so ONNX Runtime is checked against LiteRT), else none."""
    from edge.classifier import LetterClassifier

    if args.float_model:
        return LetterClassifier(args.float_model, labels, None)
    if clf.runtime.package != "onnxruntime":
        return None
    cls = config.classifier
    checksums = config.resolve_path(cls.checksums) if cls.checksums else None
    return LetterClassifier(config.resolve_path(cls.model), labels, checksums)


def _words(args: argparse.Namespace, config, table, out: Path | None) -> dict:
    """Word streams through a fresh daemon Pipeline each, under every --speed x --fps."""
    from edge import word_eval
    from edge.outputs import writing
    from edge.pipeline import Pipeline, load_classifier
    from edge.signer_profile import profile_state

    streams = word_eval.word_streams(table)
    conds = word_eval.conditions(args.speed, args.fps)
    classifier = load_classifier(config)
    tail = word_eval.tail_for(config)
    profile = profile_state(config, classifier, strict=True)  # a bad --profile stops here

    def new_pipeline() -> Pipeline:
        return Pipeline(config, classifier, profile=profile)

    print(
        f"replaying {len(streams)} word streams x {len(conds)} condition(s) through the "
        "daemon's pipeline ...",
        file=sys.stderr,
    )
    start = time.perf_counter()
    results = word_eval.evaluate_words(streams, conds, new_pipeline, tail_s=tail)
    report = word_eval.build_report(
        results,
        conds,
        model=config.classifier.model,
        config=config,
        data=[str(p) for p in args.data],
        seconds=time.perf_counter() - start,
        tail_s=tail,
    )
    text = word_eval.report_text(report)
    print(text, end="")
    if out is not None:
        with writing(out):
            out.mkdir(parents=True, exist_ok=True)
            word_eval.write_report(report, out / "report.json")
            (out / "report.txt").write_text(text)
        picked = word_eval.pick_timelines(results, args.timelines)
        pngs = word_eval.write_timelines(
            picked,
            streams,
            new_pipeline,
            out / "timelines",
            threshold=getattr(config.decoder, "threshold", None),
            tail_s=tail,
        )
        print(f"wrote {out}/report.json, report.txt and {len(pngs)} timelines in {out}/timelines")
    return report

"""`sign2sound eval`: measure a .tflite or .onnx letter model on any landmark CSV.

Anyone can record their own CSV (see README "Model: train, export, evaluate") and see how the
shipped model does on their hands: per-letter and overall top-1, confusion matrix (text + PNG),
per-clip accuracy, top-1 agreement with a second model (INT8 against float, or an .onnx in ONNX
Runtime against the LiteRT model the daemon runs), model size and mean invoke time.

Word streams (rows of one `sequence` whose label is a word, see edge.dataset) are replayed through
the daemon's own Pipeline (edge.word_eval): per-word output and edit distance, character error
rate with and without word correction, word accuracy, by input letters/s and by source, under
every --speed x --fps condition, with a timeline picture per word in --out.

The data is read once, --chunk-rows rows at a time, and each chunk is scored and dropped, so
memory stays bounded whatever the size of the files (benchmarks/eval_memory.py measures it).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import sys
from pathlib import Path

from edge.cli import (
    add_config_arguments,
    comma_names,
    comma_positive_floats,
    non_negative_int,
    positive_int,
)
from edge.config import MODELS_DIR
from edge.errors import UsageError

HELP = (
    "evaluate a .tflite model on any landmark CSV: per-letter accuracy and confusion matrix, "
    "and word streams through the daemon's pipeline"
)
SHIPPED_MODEL = MODELS_DIR / "letters_int8.tflite"
# rows read and scored at a time: a row is about 11 KB in flight (its text, its 20 x 67 window),
# so 5000 rows take about 55 MB beside the 70 MB of Python, numpy and LiteRT, whatever the size
# of the file (benchmarks/eval_memory.py: 124 MB peak)
CHUNK_ROWS = 5000


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
    parser.add_argument(
        "--chunk-rows",
        type=positive_int,
        default=CHUNK_ROWS,
        metavar="N",
        help=f"rows read and scored at a time (default {CHUNK_ROWS}): memory grows with N and "
        "the longest clip or word stream, not with the files; the reports do not change",
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
        help="camera rates to thin the streams to (time in slots of 1/F s, the first frame of "
        "each slot kept, as training thins); default: every frame",
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
    """Both evaluations the data calls for, in one pass over the data, chunk by chunk (memory
    bounded by --chunk-rows and the longest sequence, not by the files); returns the word report
    (None: no word streams)."""
    from edge.classifier import read_labels
    from edge.config import load_config
    from edge.outputs import check_output_folder

    if args.out:
        check_output_folder(args.out)  # before minutes of evaluation, not after
    config = load_config(args.config, args.overrides)
    profile = str(args.profile.resolve()) if args.profile else ""
    config = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, profile=profile)
    )
    labels_path = args.labels or config.resolve_path(config.classifier.labels)
    allowed = read_labels(labels_path)
    if args.json or args.speed != (1.0,) or args.fps:
        # word options on letter data are a mistake to name at once: look for a word row (the
        # first chunk of word data has one; only letter data is read to its end)
        kept, has_words = _scan_for_words(args, allowed)
        if kept and not has_words:
            raise UsageError("--speed, --fps and --json are for word streams; the data holds none")
    letters: _LetterRun | None = None
    words: _WordRun | None = None
    for chunk in _chunks(args, allowed, args.data):
        is_word = _word_rows(chunk)
        if (~is_word).any():
            if letters is None:  # the model loads at the first letter row
                letters = _LetterRun(args, config)
            letters.add(chunk.select(~is_word))
        if is_word.any():
            if words is None:
                words = _WordRun(args, _word_config(args, config), allowed)
            words.add(chunk.select(is_word))
    if letters is None and words is None:
        raise UsageError(f"no rows of source(s) {', '.join(args.sources)} in the data")
    if letters is not None:
        letters.finish()
    if words is None:
        return None
    out = args.out
    if out is not None and letters is not None:
        out = out / "words"
    return words.finish(out)


def _chunks(args: argparse.Namespace, allowed: list[str], paths):
    """The rows of `paths`, --chunk-rows at a time, only those of --sources when given."""
    import numpy as np

    from edge.dataset import read_many

    for chunk in read_many(paths, allowed_labels=allowed, words=True, chunk_rows=args.chunk_rows):
        if args.sources:
            chunk = chunk.select(np.isin(chunk.source, list(args.sources)))
        if len(chunk):
            yield chunk


def _word_rows(table):
    import numpy as np

    from edge.dataset import is_word_label

    return np.array([is_word_label(label) for label in table.labels.tolist()], bool)


def _scan_for_words(args: argparse.Namespace, allowed: list[str]) -> tuple[bool, bool]:
    """(any row kept by --sources, any of them a word row), reading no further than needed."""
    kept = False
    for chunk in _chunks(args, allowed, args.data):
        kept = True
        if _word_rows(chunk).any():
            return True, True
    return kept, False


def _word_config(args: argparse.Namespace, config):
    """The daemon's config, with --model/--labels/--checksums in place of its classifier."""
    if args.model is None and args.labels is None and args.checksums is None:
        return config
    cls = config.classifier
    model = args.model or config.resolve_path(cls.model)
    checksums = args.checksums
    if checksums is None and model.resolve() == config.resolve_path(cls.model).resolve():
        checksums = config.checksums_path()
    return dataclasses.replace(
        config,
        classifier=dataclasses.replace(
            cls,
            model=str(model.resolve()),
            labels=str((args.labels or config.resolve_path(cls.labels)).resolve()),
            checksums=str(checksums.resolve()) if checksums else "",
        ),
    )


class _LetterRun:
    """Letter rows and letter clips: top-1, per letter and source, confusion matrix."""

    def __init__(self, args: argparse.Namespace, config) -> None:
        from edge.classifier import LetterClassifier
        from edge.evaluate import LetterTally, LetterWindows

        self.args = args
        self.model = args.model or config.resolve_path(config.classifier.model)
        labels = args.labels or config.resolve_path(config.classifier.labels)
        checksums = args.checksums
        if checksums is None and self.model.resolve() == SHIPPED_MODEL:
            checksums = MODELS_DIR / "SHA256SUMS"
        self.clf = LetterClassifier(self.model, labels, checksums)  # an .onnx: ONNX Runtime
        self.ref = _reference(args, config, self.clf, labels)
        self.runtime = self.clf.runtime.package
        if args.profile is not None:
            from edge.adaptation import AdaptedClassifier
            from edge.signer_profile import load_adapter

            profile, adapter = load_adapter(args.profile, self.clf)
            print(f"signer profile {args.profile}: {profile.describe()}")
            self.clf = AdaptedClassifier(self.clf, adapter)
        self.windows = LetterWindows(list(self.clf.labels), seed=args.seed)
        self.tally = LetterTally(list(self.clf.labels))

    def add(self, table) -> None:
        for w in self.windows.add(table):
            self.tally.add_predicted(self.clf, w, self.ref)

    def finish(self) -> None:
        """Score the last clip, then print the report and write it to --out."""
        from edge.evaluate import confusion_png, confusion_text
        from edge.outputs import writing

        for w in self.windows.finish():
            self.tally.add_predicted(self.clf, w, self.ref)
        args, model, ref = self.args, self.model, self.ref
        rep, conf = self.tally.report(
            self.clf.model_path.stat().st_size,
            runtime=self.runtime,
            agreement_with=str(ref.model_path) if ref is not None else None,
        )
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
            print(
                f"{letter} in motion (clip windows): top-1 {info['top1']:.4f} ({info['n']} windows)"
            )
        print(
            "windows with top probability >= threshold, right / wrong: "
            + "  ".join(
                f"{t}: {v['right']:.3f} / {v['wrong']:.3f}" for t, v in rep.confidence.items()
            )
        )
        print("per letter: " + "  ".join(f"{k} {v['top1']:.2f}" for k, v in rep.per_letter.items()))
        for clip, info in rep.per_clip.items():
            print(
                f"  clip {clip}: {info['letter_windows']} letter windows, top-1 "
                f"{info['letter_top1']}, majority {info['majority']}; all windows {info['top1']}"
            )
        text = confusion_text(conf, list(self.clf.labels))
        print(text, end="")
        if args.out:
            with writing(args.out):
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / "report.json").write_text(rep.to_json())
                (args.out / "confusion.txt").write_text(text)
                confusion_png(
                    conf,
                    list(self.clf.labels),
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
    model = config.resolve_path(config.classifier.model)
    return LetterClassifier(model, labels, config.checksums_path())


class _WordRun:
    """Word streams through a fresh daemon Pipeline each, under every --speed x --fps, one
    stream at a time as the rows come in."""

    def __init__(self, args: argparse.Namespace, config, allowed: list[str]) -> None:
        from edge import word_eval
        from edge.pipeline import Pipeline, load_classifier
        from edge.signer_profile import profile_state

        self.args, self.config, self.allowed = args, config, allowed
        self.conds = word_eval.conditions(args.speed, args.fps)
        classifier = load_classifier(config)
        self.tail = word_eval.tail_for(config)
        profile = profile_state(config, classifier, strict=True)  # a bad --profile stops here
        self.new_pipeline = lambda: Pipeline(config, classifier, profile=profile)
        self.reader = word_eval.WordStreamReader()
        self.evaluation = word_eval.WordEvaluation(self.conds, self.new_pipeline, tail_s=self.tail)
        print(
            f"replaying word streams x {len(self.conds)} condition(s) through the "
            "daemon's pipeline ...",
            file=sys.stderr,
        )

    def add(self, table) -> None:
        for stream in self.reader.add(table):
            self.evaluation.add(stream)

    def finish(self, out: Path | None) -> dict:
        """Replay the last stream, then print the report, write it to `out` with timelines."""
        from edge import word_eval
        from edge.outputs import writing

        for stream in self.reader.finish():
            self.evaluation.add(stream)
        results = self.evaluation.results()
        report = word_eval.build_report(
            results,
            self.conds,
            model=self.config.classifier.model,
            config=self.config,
            data=[str(p) for p in self.args.data],
            seconds=self.evaluation.seconds,
            tail_s=self.tail,
        )
        text = word_eval.report_text(report)
        print(text, end="")
        if out is not None:
            with writing(out):
                out.mkdir(parents=True, exist_ok=True)
                word_eval.write_report(report, out / "report.json")
                (out / "report.txt").write_text(text)
            picked = word_eval.pick_timelines(results, self.args.timelines)
            pngs = word_eval.write_timelines(
                picked,
                self._streams({(r.file, r.sequence) for r in picked}),
                self.new_pipeline,
                out / "timelines",
                threshold=getattr(self.config.decoder, "threshold", None),
                tail_s=self.tail,
            )
            print(
                f"wrote {out}/report.json, report.txt and {len(pngs)} timelines in {out}/timelines"
            )
        return report

    def _streams(self, wanted: set[tuple[str, str]]):
        """The streams `wanted` (file, sequence), read again from their files: a timeline
        replays its word, and only the picked words are held, not every stream."""
        from edge.word_eval import WordStreamReader

        reader = WordStreamReader()
        files = sorted({path for path, _ in wanted})
        for chunk in _chunks(self.args, self.allowed, files) if files else ():
            for stream in reader.add(chunk.select(_word_rows(chunk))):
                if (stream.path, stream.sequence) in wanted:
                    yield stream
        yield from (s for s in reader.finish() if (s.path, s.sequence) in wanted)

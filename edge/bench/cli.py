"""`edge-bench`: latency, memory and throughput of Sign2Sound on the machine it runs on.

  edge-bench model      the classifiers (LiteRT, ONNX Runtime) and the reference GRU, side by side
  edge-bench pipeline   the whole daemon pipeline, per stage, with memory and CPU share
  edge-bench compare    two or more JSON results side by side (a Pi against this desktop)
  edge-bench scenario   run a named scenario from benchmarks/scenarios/

Every subcommand prints a table; --json writes every figure plus the machine, --markdown a
README-ready table, --plot a latency histogram PNG. Errors are one line and a non-zero exit.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from edge.bench.errors import BenchError, BenchUsageError
from edge.cli import (
    add_config_arguments,
    non_negative_int,
    parse_command_line,
    positive_float,
    positive_int,
)
from edge.config import MODELS_DIR, REFERENCE_DIR
from edge.errors import Sign2SoundError

SHIPPED_MODEL = "letters_int8.tflite"
MODEL_SUFFIXES = (".tflite", ".onnx")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    out = parser.add_argument_group("output")
    out.add_argument("--json", metavar="FILE|-", help="write every figure and the machine as JSON")
    out.add_argument(
        "--markdown",
        nargs="?",
        const="-",
        metavar="FILE|-",
        help="write the tables as Markdown (default: stdout)",
    )
    out.add_argument("--plot", metavar="PNG", help="write a latency histogram (needs matplotlib)")
    out.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edge-bench",
        description=__doc__.split("\n\n")[0].split(": ", 1)[1],
        epilog="See benchmarks/README.md for the scenarios, the targets and how to read results.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    model = sub.add_parser(
        "model",
        help="benchmark classifiers in LiteRT and ONNX Runtime, side by side",
        description="Benchmark models like TFLite's benchmark_model: size, init (time and RSS), "
        "first invoke, warm-up, steady-state min/median/p90/p99/max and invokes/s; several "
        "models side by side with ratios to the first. A .tflite runs in LiteRT, an .onnx in "
        "ONNX Runtime (the 'onnx' extra). With no --model: the shipped classifier, its float "
        "twins and the trained reference GRU of benchmarks/reference/, so the speed target "
        "(classifier >= 10x faster than the reference float32 GRU) is checked on any machine.",
    )
    model.add_argument(
        "--model",
        dest="models",
        action="append",
        type=Path,
        metavar="PATH",
        help=f"a .tflite (LiteRT) or .onnx (ONNX Runtime) file (repeatable; the first is the "
        f"baseline). Default: models/{SHIPPED_MODEL} first, then the other .tflite files of "
        "models/ and those of benchmarks/reference/ (the .onnx there too when ONNX Runtime is "
        "installed), each checked against its folder's SHA256SUMS",
    )
    model.add_argument(
        "--threads", type=positive_int, default=1, help="LiteRT / ONNX Runtime threads (1)"
    )
    model.add_argument("--runs", type=positive_int, default=1000, help="timed invokes (1000)")
    model.add_argument("--warmup", type=non_negative_int, default=50, help="warm-up invokes (50)")
    model.add_argument(
        "--inputs",
        default="demo",
        metavar="demo|random|replay:CSV",
        help="input data: real windows cut from the demo sample's landmark replay (default) or "
        "from another replay CSV, or random valid tensors; models whose input is not one "
        "(1, steps, channels) window always get random ones",
    )
    model.add_argument("--seed", type=int, default=0, help="seed of the random inputs (0)")
    _add_output_arguments(model)
    model.set_defaults(_run=_run_model, _parser=model)

    compare = sub.add_parser(
        "compare",
        help="put JSON results side by side (e.g. a Pi against this machine)",
        description="Put edge-bench JSON results of the same kind side by side, with the ratio of "
        "each to the first (e.g. benchmarks/results/x86_64-*.json against a Pi's).",
    )
    compare.add_argument(
        "results",
        nargs="+",
        type=Path,
        metavar="RESULT.json",
        help="results written by --json; the first is the baseline",
    )
    compare.add_argument(
        "--markdown", nargs="?", const="-", metavar="FILE|-", help="write the table as Markdown"
    )
    compare.set_defaults(_run=_run_compare, _parser=compare)

    pipeline = sub.add_parser(
        "pipeline",
        help="benchmark the whole daemon pipeline, per stage",
        description="Run the daemon's pipeline (capture, MediaPipe landmarks, features, ring, "
        "classifier, decoder) on a source and report per-stage latency, frames processed and "
        "dropped, sustained fps, RSS, CPU share and letter acceptance delay.",
    )
    pipeline.add_argument(
        "--source",
        default=None,
        metavar="FILE|camera|replay:CSV",
        help="a video file, 'camera' (camera.source of the config), or replay:CSV of landmark "
        "rows (skips MediaPipe). Default: the bundled demo sample",
    )
    pipeline.add_argument(
        "--duration",
        type=positive_float,
        default=None,
        metavar="S",
        help="seconds to run; a file or replay loops until then (default: one pass)",
    )
    pipeline.add_argument(
        "--realtime",
        action="store_true",
        help="pace files at their own frame rate, as a camera would (default: as fast as possible)",
    )
    pipeline.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="classifier .tflite (LiteRT) or .onnx (ONNX Runtime) instead of the config's",
    )
    add_config_arguments(pipeline, example="landmarks.model=models/hand_landmarker_lite.task")
    pipeline.add_argument(
        "--warmup",
        type=non_negative_int,
        default=30,
        metavar="FRAMES",
        help="frames excluded from every figure at the start (30)",
    )
    pipeline.add_argument(
        "--truth",
        type=Path,
        metavar="CSV",
        help="landmark CSV whose labels say when each letter starts (default: the replay CSV, "
        "the demo sample's own, or FILE's <stem>_landmarks.csv next to it)",
    )
    pipeline.add_argument(
        "--rss-interval",
        type=positive_float,
        default=1.0,
        metavar="S",
        help="seconds between RSS samples (1.0)",
    )
    _add_output_arguments(pipeline)
    pipeline.set_defaults(_run=_run_pipeline, _parser=pipeline)

    scenario = sub.add_parser(
        "scenario",
        help="run a named scenario of benchmarks/scenarios/",
        description="Run a scenario file of benchmarks/scenarios/ (by name or path); extra "
        "arguments are appended to its command line, e.g. --json results.json.",
    )
    scenario.add_argument("name", nargs="?", metavar="NAME|FILE", help="scenario (omit to list)")
    scenario.add_argument("extra", nargs=argparse.REMAINDER, help="arguments appended to it")
    scenario.set_defaults(_run=_run_scenario, _parser=scenario)
    return parser


def default_models(
    models_dir: Path = MODELS_DIR, reference_dir: Path = REFERENCE_DIR
) -> tuple[list[Path], list[str]]:
    """The shipped classifier first, the other .tflite of models/, then benchmarks/reference/:
    the shipped model's float twins and the reference GRU (float32 first). Each file listed in
    its folder's SHA256SUMS is checked (a corrupt one is named with both hashes). Returns the
    models and what was left out and why (an .onnx without ONNX Runtime)."""
    from edge.modelfiles import ModelError, read_sums, verify_sha256

    found = sorted(models_dir.glob("*.tflite"))
    if not found:
        raise BenchError(
            f"no .tflite model in {models_dir}; pass one with --model PATH "
            f"(the classifier is shipped as models/{SHIPPED_MODEL})"
        )
    found.sort(key=lambda p: (p.name != SHIPPED_MODEL, p.name))
    reference = [p for p in reference_dir.glob("*") if p.suffix in MODEL_SUFFIXES]
    reference.sort(
        key=lambda p: (p.name.startswith("reference_"), "dynamic" in p.name, p.suffix != ".tflite")
    )
    skipped = []
    if any(p.suffix == ".onnx" for p in reference) and not _onnxruntime_installed():
        skipped = [
            f"{p}: ONNX Runtime is not installed (the 'onnx' extra: pip install onnxruntime)"
            for p in reference
            if p.suffix == ".onnx"
        ]
        reference = [p for p in reference if p.suffix != ".onnx"]
    paths = [*found, *reference]
    try:
        for folder in {p.parent for p in paths}:
            sums = folder / "SHA256SUMS"
            listed = read_sums(sums) if sums.is_file() else {}
            for path in (p for p in paths if p.parent == folder and p.name in listed):
                verify_sha256(path, sums)
    except ModelError as exc:
        raise BenchError(str(exc)) from exc
    return paths, skipped


def _onnxruntime_installed() -> bool:
    from importlib.util import find_spec

    return find_spec("onnxruntime") is not None


def new_report(kind: str, argv: Sequence[str]) -> dict[str, Any]:
    """The common head of every JSON result: what ran, when, on what, with which clock."""
    from edge.bench.machine import describe_machine
    from edge.bench.report import SCHEMA_VERSION
    from edge.bench.timer import clock_info, measure_timer_overhead

    return {
        "schema_version": SCHEMA_VERSION,
        "tool": "edge-bench",
        "kind": kind,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "argv": list(argv),
        "machine": describe_machine(),
        "timer": {**clock_info(), "overhead": measure_timer_overhead()},
    }


def emit(
    report: dict[str, Any],
    tables: Sequence[Any],
    args: argparse.Namespace,
    samples_ns: dict[str, Any],
    plot_title: str,
    **plot_extras: Any,
) -> None:
    """Write the table, JSON, Markdown and plot the user asked for.

    stdout carries the terminal table unless --json - or --markdown - claims it; then the table
    goes to stderr, so `edge-bench model --json - | jq` works.
    """
    from edge.bench.report import render_markdown, render_terminal, to_json, write_text

    if getattr(args, "plot", None):
        from edge.bench.plot import plot_histograms

        plot_histograms(samples_ns, Path(args.plot), plot_title, **plot_extras)
        report.setdefault("outputs", {})["plot"] = str(args.plot)
    json_dest = getattr(args, "json", None)
    md_dest = getattr(args, "markdown", None)
    stdout_taken = "-" in (json_dest, md_dest)
    table_stream = sys.stderr if stdout_taken else sys.stdout
    table_stream.write(render_terminal(report, tables))
    table_stream.flush()
    if md_dest:
        write_text(md_dest, render_markdown(report, tables), "Markdown")
    if json_dest:
        write_text(json_dest, to_json(report), "JSON")


def _run_model(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from edge.bench.model_bench import model_tables, model_targets, run_model_bench
    from edge.bench.pipeline_bench import DEMO_REPLAY
    from edge.bench.progress import Progress

    paths, skipped = (list(args.models), []) if args.models else default_models()
    if args.inputs == "random":
        windows_csv = None
    elif args.inputs == "demo":
        windows_csv = DEMO_REPLAY if DEMO_REPLAY.is_file() else None
    elif args.inputs.startswith("replay:"):
        windows_csv = Path(args.inputs[len("replay:") :]).expanduser()
        if not windows_csv.is_file():
            raise BenchError(f"--inputs: landmark replay not found: {windows_csv}")
    else:
        raise BenchUsageError(
            f"--inputs {args.inputs!r}: expected 'demo', 'random' or 'replay:<landmarks.csv>'"
        )
    report = new_report("model", argv)
    started = time.perf_counter()
    part = run_model_bench(
        paths,
        threads=args.threads,
        runs=args.runs,
        warmup=args.warmup,
        progress=Progress.wanted(args.progress),
        seed=args.seed,
        windows_csv=windows_csv,
    )
    samples = {m["name"]: m.pop("_samples_ns") for m in part["models"]}
    report.update(part)
    report["skipped_models"] = skipped
    report["targets"] = model_targets(report["models"])
    report["duration_s"] = time.perf_counter() - started
    emit(report, model_tables(report), args, samples, "edge-bench model: per-invoke latency")
    return 0


def _run_compare(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from edge.bench.compare import compare_tables, load_results
    from edge.bench.report import render_markdown, render_terminal, write_text

    results = load_results(args.results)
    tables = compare_tables(results)
    head = {"kind": f"compare: {len(results)} {results[0]['kind']} results"}
    stream = sys.stderr if args.markdown == "-" else sys.stdout
    stream.write(render_terminal(head, tables))
    if args.markdown:
        write_text(args.markdown, render_markdown(head, tables), "Markdown")
    return 0


def _run_pipeline(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from edge.bench.pipeline_bench import (
        pipeline_plot_targets,
        pipeline_tables,
        run_pipeline_bench,
        timing_cost,
    )
    from edge.bench.progress import Progress

    report = new_report("pipeline", argv)
    started = time.perf_counter()
    part, samples = run_pipeline_bench(
        source=args.source,
        duration_s=args.duration,
        realtime=args.realtime,
        model=args.model,
        config_path=args.config,
        overrides=args.overrides,
        rss_interval_s=args.rss_interval,
        progress=Progress.wanted(args.progress),
        warmup_frames=args.warmup,
        truth=args.truth,
    )
    report.update(part)
    report["timing_overhead"] = timing_cost(report)
    report["duration_s"] = time.perf_counter() - started
    emit(
        report,
        pipeline_tables(report),
        args,
        samples,
        "edge-bench pipeline: per-frame latency",
        targets_us=pipeline_plot_targets(),
        rss_samples=report["memory"]["samples"],
        steady_from_s=report["memory"]["steady_from_s"],
    )
    return 130 if report["settings"]["interrupted"] else 0


def _run_scenario(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from edge.bench.scenarios import list_scenarios, load_scenario

    if not args.name:
        for name, description in list_scenarios():
            print(f"{name:18s} {description}")
        return 0
    scenario_argv = [*load_scenario(args.name), *args.extra]
    print(f"edge-bench {' '.join(scenario_argv)}", file=sys.stderr)
    return main(scenario_argv)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parse_command_line(parser, argv)
    try:
        return int(args._run(args, argv) or 0)
    except Sign2SoundError as exc:
        print(f"edge-bench {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"edge-bench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

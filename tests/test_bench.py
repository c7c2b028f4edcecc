"""edge-bench: the JSON schema, ordered positive figures, outputs, and clear errors.

Real LiteRT on real .tflite files (a tiny Conv1D classifier converted by TensorFlow here, float
and full-INT8, the shapes of the shipped classifier) and the real pipeline on real data. Runs are
kept short; no timing targets are asserted here (those are edge-bench's job, see benchmarks/).
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from edge.bench import cli
from edge.bench.model_bench import random_input
from edge.bench.stats import SampleBuffer, summarize_ns
from edge.features import WINDOW_CHANNELS
from edge.synth import SynthConfig

VENV_BIN = Path(sys.executable).parent
STEPS, CHANNELS = SynthConfig().steps, WINDOW_CHANNELS  # the classifier's window
STAT_KEYS = ("count", "min_us", "median_us", "p90_us", "p99_us", "max_us", "mean_us", "std_us")


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A float32 and a full-INT8 .tflite with the classifier's (1, steps, channels) -> 26
    interface."""
    import keras
    import tensorflow as tf

    out = tmp_path_factory.mktemp("models")
    inp = keras.Input((STEPS, CHANNELS), batch_size=1)
    x = keras.layers.Conv1D(16, 3, activation="relu")(inp)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inp, keras.layers.Dense(26, activation="softmax")(x))

    paths = {"float": out / "tiny_float.tflite", "int8": out / "tiny_int8.tflite"}
    paths["float"].write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
    rng = np.random.default_rng(1)

    def representative():
        for _ in range(16):
            yield [rng.standard_normal((1, STEPS, CHANNELS)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    paths["int8"].write_bytes(conv.convert())
    return paths


def assert_stats(stats: dict, count: int | None = None) -> None:
    assert set(STAT_KEYS) <= set(stats)
    assert isinstance(stats["count"], int)
    for key in STAT_KEYS[1:]:
        assert isinstance(stats[key], float), key
    assert 0 < stats["min_us"] <= stats["median_us"] <= stats["p90_us"]
    assert stats["p90_us"] <= stats["p99_us"] <= stats["max_us"]
    assert stats["min_us"] <= stats["mean_us"] <= stats["max_us"]
    if count is not None:
        assert stats["count"] == count


def assert_common_head(report: dict, kind: str) -> None:
    assert report["tool"] == "edge-bench"
    assert report["kind"] == kind
    assert report["schema_version"] == 1
    machine = report["machine"]
    for key in ("cpu_model", "arch", "cores_logical", "os", "python", "packages"):
        assert machine[key], key
    for pkg in ("numpy", "mediapipe", "ai-edge-litert", "opencv-python-headless"):
        assert isinstance(machine["packages"][pkg], str), pkg
    timer = report["timer"]
    assert timer["clock"] == "time.perf_counter_ns"
    assert timer["monotonic"] is True
    assert_stats(timer["overhead"]["inside"])
    assert timer["overhead"]["per_section_us"] > 0


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = cli.main(argv)
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


# --- statistics ---------------------------------------------------------------------------------


def test_summary_reports_real_samples_in_microseconds() -> None:
    samples = np.arange(1, 101, dtype=np.int64) * 1000  # 1..100 µs
    stats = summarize_ns(samples)
    assert stats is not None
    assert (stats.count, stats.min_us, stats.max_us) == (100, 1.0, 100.0)
    assert stats.median_us == 50.0  # 'lower' percentile: a sample that really happened
    assert stats.p90_us == 90.0 and stats.p99_us == 99.0
    assert stats.per_second == pytest.approx(1e6 / 50.5)
    assert summarize_ns(np.array([], dtype=np.int64)) is None


def test_sample_buffer_grows_without_losing_samples() -> None:
    buf = SampleBuffer(16)
    for i in range(1000):
        buf.append(i)
    assert len(buf) == 1000
    assert np.array_equal(buf.values(), np.arange(1000))


def test_random_inputs_match_the_model_input(tiny_models: dict[str, Path]) -> None:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=str(tiny_models["int8"]))
    detail = interp.get_input_details()[0]
    value = random_input(detail, np.random.default_rng(0))
    assert value.dtype == np.int8 and value.shape == (1, STEPS, CHANNELS)
    assert len(np.unique(value)) > 10  # really random, not a constant tensor
    interp.allocate_tensors()
    interp.set_tensor(detail["index"], value)
    interp.invoke()
    out = interp.get_tensor(interp.get_output_details()[0]["index"])
    assert out.shape == (1, 26)


# --- edge-bench model -------------------------------------------------------------------------


def test_model_json_schema_and_ordered_figures(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "model.json"
    argv = ["model", "--model", str(tiny_models["int8"]), "--model", str(tiny_models["float"])]
    rc, out, _ = run_cli([*argv, "--runs", "60", "--warmup", "5", "--json", str(dest)], capsys)
    assert rc == 0
    report = json.loads(dest.read_text())
    assert_common_head(report, "model")
    assert report["settings"]["runs"] == 60 and report["settings"]["warmup"] == 5
    models = report["models"]
    assert [m["name"] for m in models] == ["tiny_int8.tflite", "tiny_float.tflite"]
    for model, key in zip(models, ("int8", "float"), strict=True):
        assert model["size_bytes"] == tiny_models[key].stat().st_size
        assert model["sha256"] == hashlib.sha256(tiny_models[key].read_bytes()).hexdigest()
        assert model["init_ms"] > 0 and model["first_invoke_us"] > 0
        assert_stats(model["steady"], count=60)
        assert_stats(model["warmup"], count=5)
        assert model["invokes_per_s"] > 0
        assert model["inputs"][0]["shape"] == [1, STEPS, CHANNELS]
        assert model["outputs"][0]["shape"] == [1, 26]
    assert models[0]["inputs"][0]["dtype"] == "int8"
    assert models[1]["inputs"][0]["dtype"] == "float32"
    assert models[0]["median_ratio_to_first"] == 1.0
    ratio = models[1]["steady"]["median_us"] / models[0]["steady"]["median_us"]
    assert models[1]["median_ratio_to_first"] == pytest.approx(ratio)
    # the terminal table names both models
    assert "tiny_int8.tflite" in out and "tiny_float.tflite" in out and "median µs" in out


def test_model_json_to_stdout_moves_the_table_to_stderr(
    tiny_models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["model", "--model", str(tiny_models["int8"]), "--runs", "5", "--warmup", "0"]
    rc, out, err = run_cli([*argv, "--json", "-"], capsys)
    assert rc == 0
    report = json.loads(out)  # stdout is pure JSON
    assert report["models"][0]["warmup"] is None  # no warm-up asked, none reported
    assert "Per-invoke latency" in err


def test_model_markdown_and_plot(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "hist.png"
    argv = ["model", "--model", str(tiny_models["int8"]), "--model", str(tiny_models["float"])]
    rc, out, _ = run_cli([*argv, "--runs", "20", "--markdown", "--plot", str(png)], capsys)
    assert rc == 0
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("| model |"))
    assert "median µs" in header
    assert any(line.startswith("| tiny_float.tflite |") for line in lines)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_model_missing_file_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, err = run_cli(["model", "--model", "/nonexistent/letters.tflite"], capsys)
    assert rc == 1
    assert (
        err.strip() == "edge-bench model: error: model file not found: /nonexistent/letters.tflite"
    )


def test_model_invalid_file_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "notamodel.tflite"
    bogus.write_text("hello\n")
    rc, _, err = run_cli(["model", "--model", str(bogus)], capsys)
    assert rc == 1
    lines = [line for line in err.splitlines() if line.startswith("edge-bench")]
    assert len(lines) == 1 and str(bogus) in lines[0] and "Traceback" not in err


def test_console_script_bad_arguments_exit_non_zero(tmp_path: Path) -> None:
    exe = str(VENV_BIN / "edge-bench")
    missing = subprocess.run(
        [exe, "model", "--model", str(tmp_path / "gone.tflite")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1
    assert "gone.tflite" in missing.stderr and "Traceback" not in missing.stderr
    bad_runs = subprocess.run([exe, "model", "--runs", "0"], capture_output=True, text=True)
    assert bad_runs.returncode == 2 and "--runs" in bad_runs.stderr


# --- compare and scenarios ----------------------------------------------------------------------


def test_compare_puts_results_side_by_side(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for i in range(2):
        dest = tmp_path / f"r{i}.json"
        cli.main(
            ["model", "--model", str(tiny_models["float"]), "--runs", "10", "--json", str(dest)]
        )
        paths.append(str(dest))
    capsys.readouterr()
    rc, out, _ = run_cli(["compare", *paths], capsys)
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("tiny_float.tflite median"))
    assert row.rstrip().endswith("x")  # ratio of [2] to [1]

    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    rc, _, err = run_cli(["compare", paths[0], str(broken)], capsys)
    assert rc == 1 and "broken.json" in err and "not JSON" in err


def test_scenarios_list_and_unknown_name(capsys: pytest.CaptureFixture[str]) -> None:
    rc, out, _ = run_cli(["scenario"], capsys)
    assert rc == 0
    names = [line.split()[0] for line in out.splitlines()]
    assert {"model-compare", "pipeline-demo", "soak-10min"} <= set(names)
    rc, _, err = run_cli(["scenario", "no-such-scenario"], capsys)
    assert rc == 1 and "no-such-scenario" in err and "model-compare" in err


def test_model_defaults_to_the_shipped_models_and_the_reference(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With no --model: the shipped classifier, its float twins in LiteRT and ONNX Runtime and
    the trained reference GRU, so the speed target is checked with nothing extra."""
    rc, out, _ = run_cli(["model", "--runs", "5", "--warmup", "1", "--json", "-"], capsys)
    assert rc == 0
    report = json.loads(out)
    models = report["models"]
    assert [m["name"] for m in models] == [
        "letters_int8.tflite",  # the shipped classifier is the baseline
        "letters_float32.tflite",
        "letters.onnx",
        "reference_gru_float32.tflite",
        "reference_gru_dynamic.tflite",
    ]
    assert [m["runtime"] for m in models].count("onnxruntime") == 1
    for model in models:
        assert_stats(model["steady"], count=5)
        assert model["inputs"][0]["shape"] == [1, STEPS, CHANNELS]  # one window for all
        assert model["input_data"] == "real windows"
    (check,) = report["targets"]
    assert check["name"].endswith("than reference_gru_float32.tflite")
    assert check["value"] == models[3]["median_ratio_to_first"]


def test_model_reference_runs_without_tensorflow_or_onnx_runtime() -> None:
    """A Pi has neither TensorFlow nor (by default) ONNX Runtime: the default run still checks
    the speed target, and says which model it left out and why."""
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = sys.modules['onnxruntime'] = None  # not installed\n"
        "from edge.bench.cli import main\n"
        "sys.exit(main(['model', '--runs', '5', '--json', '-']))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert "letters.onnx" not in [m["name"] for m in report["models"]]
    (why,) = report["skipped_models"]
    assert "letters.onnx: ONNX Runtime is not installed" in why
    assert "not measured: " in result.stderr  # the table's note says so too
    (check,) = report["targets"]
    assert "reference_gru_float32.tflite" in check["name"]


def test_a_corrupt_reference_model_is_named_with_its_checksum(tmp_path: Path) -> None:
    import shutil

    from edge.bench.errors import BenchError
    from edge.config import REFERENCE_DIR

    reference = tmp_path / "reference"
    shutil.copytree(REFERENCE_DIR, reference)
    cut = reference / "reference_gru_float32.tflite"
    cut.write_bytes(cut.read_bytes()[:1000])
    with pytest.raises(BenchError, match=f"{cut}: sha256 mismatch"):
        cli.default_models(MODELS, reference)


def test_model_inputs_random_and_missing_replay(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["model", "--model", str(tiny_models["int8"]), "--runs", "5", "--warmup", "1"]
    rc, out, _ = run_cli([*base, "--inputs", "random", "--json", "-"], capsys)
    assert rc == 0 and json.loads(out)["models"][0]["input_data"] == "random"
    rc, out, _ = run_cli([*base, "--json", "-"], capsys)  # default: real demo windows
    assert rc == 0 and json.loads(out)["models"][0]["input_data"] == "real windows"
    rc, _, err = run_cli([*base, "--inputs", f"replay:{tmp_path / 'none.csv'}"], capsys)
    assert rc == 1 and "none.csv" in err


# --- edge-bench pipeline ------------------------------------------------------------------------

MODELS = Path(__file__).resolve().parents[1] / "models"
DEMO_REPLAY = MODELS / "demo" / "hello_landmarks.csv"
SHIPPED_MODEL = MODELS / "letters_int8.tflite"
STAGE_KEYS = (
    "capture_wait",
    "landmarks",
    "ring",
    "window",
    "classifier",
    "decoder",
    "overhead",
    "overhead_classified",
    "end_to_end",
)


@pytest.fixture()
def pipeline_args(tiny_models: dict[str, Path], tmp_path: Path) -> list[str]:
    """The tiny float model as the classifier, with 26 labels A..Z next to it."""
    labels = tmp_path / "labels.txt"
    labels.write_text("".join(f"{chr(ord('A') + i)}\n" for i in range(26)))
    return ["--model", str(tiny_models["float"]), "--set", f"classifier.labels={labels}"]


def test_pipeline_replay_json_schema(
    pipeline_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "pipeline.json"
    argv = ["pipeline", "--source", f"replay:{DEMO_REPLAY}", *pipeline_args, "--json", str(dest)]
    rc, out, _ = run_cli(argv, capsys)
    assert rc == 0
    report = json.loads(dest.read_text())
    assert_common_head(report, "pipeline")
    stages = report["stages"]
    assert set(stages) == set(STAGE_KEYS)
    assert stages["landmarks"] is None  # a replay enters after the landmark stage
    for name in ("ring", "window", "classifier", "decoder", "overhead", "end_to_end"):
        assert_stats(stages[name])
    frames = report["frames"]
    # one pass over the replay: frame 0 .. the last recorded frame, warm-up excluded
    assert frames["passes"] == 1
    assert frames["processed"] == frames["measured"] + report["settings"]["warmup_frames"]
    assert stages["end_to_end"]["count"] == frames["measured"]
    assert stages["classifier"]["count"] == frames["with_hand"] > 0
    assert frames["dropped"] == 0  # an unpaced file is never dropped
    assert frames["sustained_fps"] > 0
    memory, cpu = report["memory"], report["cpu"]
    assert 0 < memory["steady_rss_mb"] <= memory["peak_rss_mb"]
    assert len(memory["samples"]) >= 2 and memory["samples_columns"][0] == "t_s"
    assert cpu["share_of_one_core_pct"] > 0 and cpu["cores"] >= 1
    assert report["letters"]["expected"] == "HELLO"
    cost = report["timing_overhead"]
    assert 0 < cost["added_per_stage_us"] < cost["added_to_overhead_us"]
    assert cost["added_to_overhead_us"] < cost["added_to_end_to_end_us"]
    assert cost["share_of_end_to_end_median_pct"] > 0
    assert report["settings"]["truth"] == str(DEMO_REPLAY)
    assert report["settings"]["classifier_runtime"] == "LiteRT"
    overhead = next(t for t in report["targets"] if "overhead" in t["name"])
    assert overhead["unit"] == "µs" and isinstance(overhead["passed"], bool)
    assert "features + ring push" in out and "sustained fps" in out
    warmup = report["settings"]["warmup_frames"]
    # the table counts the same frames it names: all processed = warm-up + measured
    assert re.search(
        rf"frames processed \(warm-up \+ measured\) +{frames['processed']} "
        rf"\({warmup} \+ {frames['measured']}\)",
        out,
    )
    assert re.search(
        rf"measured frames with a hand +{frames['with_hand']} of {frames['measured']}", out
    )


def test_pipeline_names_the_runtime_an_onnx_classifier_runs_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The exported letters.onnx through the same loop: the report and the table say ONNX
    Runtime, so a figure is never read as LiteRT's when it is not."""
    onnx = MODELS.parent / "benchmarks" / "reference" / "letters.onnx"
    dest = tmp_path / "pipeline.json"
    argv = [
        "pipeline",
        "--source",
        f"replay:{DEMO_REPLAY}",
        "--model",
        str(onnx),
        "--json",
        str(dest),
    ]
    rc, out, _ = run_cli([*argv, "--warmup", "5"], capsys)
    assert rc == 0
    report = json.loads(dest.read_text())
    assert report["settings"]["classifier_runtime"] == "ONNX Runtime"
    assert "classifier: letters.onnx in ONNX Runtime." in out
    assert report["stages"]["classifier"]["count"] == report["frames"]["with_hand"] > 0


def test_pipeline_demo_video_runs_mediapipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The defaults: the bundled HELLO clip through real MediaPipe and the shipped classifier
    (sha256-checked), one pass."""
    import cv2

    png = tmp_path / "pipeline.png"
    rc, out, _ = run_cli(
        [
            "pipeline",
            "--json",
            "-",
            "--markdown",
            str(tmp_path / "p.md"),
            "--plot",
            str(png),
        ],
        capsys,
    )
    assert rc == 0
    report = json.loads(out)
    cap = cv2.VideoCapture(report["settings"]["source"])
    n_frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    cap.release()
    assert report["settings"]["source_kind"] == "video file"
    assert report["settings"]["classifier_model"] == str(SHIPPED_MODEL)
    assert report["frames"]["processed"] == n_frames
    assert_stats(report["stages"]["landmarks"], count=report["frames"]["measured"])
    assert report["frames"]["with_hand"] > 0  # MediaPipe finds the signer's hand
    lm, e2e = report["stages"]["landmarks"], report["stages"]["end_to_end"]
    assert lm["median_us"] <= e2e["max_us"]
    markdown = (tmp_path / "p.md").read_text()
    assert "| landmarks (MediaPipe) |" in markdown
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nonexistent/clip.mp4", "source not found: /nonexistent/clip.mp4"),
        ("replay:/nonexistent/landmarks.csv", "landmark replay not found"),
    ],
)
def test_pipeline_missing_source_is_one_clear_line(
    source: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = run_cli(["pipeline", "--source", source], capsys)
    assert rc == 1
    assert err.strip().startswith("edge-bench pipeline: error: ") and message in err
    assert len(err.strip().splitlines()) == 1


def test_pipeline_undecodable_source_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"this is not a video" * 100)
    rc, _, err = run_cli(["pipeline", "--source", str(bogus)], capsys)
    assert rc == 1 and str(bogus) in err and "Traceback" not in err
    replay = tmp_path / "bad.csv"
    replay.write_text("label,x0\nA,0.5\n")
    rc, _, err = run_cli(["pipeline", "--source", f"replay:{replay}"], capsys)
    assert rc == 1 and "bad.csv" in err and "missing column" in err


def test_pipeline_camera_needs_a_camera_source(capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = run_cli(
        ["pipeline", "--source", "camera", "--set", f"camera.source=replay:{DEMO_REPLAY}"], capsys
    )
    assert rc == 2 and "camera.source" in err


def test_progress_bar_only_when_asked(
    tiny_models: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["model", "--model", str(tiny_models["int8"]), "--runs", "200", "--inputs", "random"]
    rc, _, err = run_cli([*base, "--progress"], capsys)
    assert rc == 0 and "\rmodel [" in err and "100.0%" in err
    rc, _, err = run_cli(base, capsys)  # stderr is not a terminal under pytest: no bar
    assert rc == 0 and "\rmodel [" not in err


def test_letter_delays_against_the_demo_truth() -> None:
    """Truth spans from the replay CSV labels; delay = acceptance - first frame + latency."""
    from edge.bench.truth import load_truth, match_letters

    truth = load_truth(DEMO_REPLAY)
    assert "".join(s.letter for s in truth) == "HELLO"  # the two Ls are split by the rest frames
    assert all(a.end_s < b.start_s for a, b in zip(truth, truth[1:], strict=False))
    accepted = [(s.letter, s.start_s + 0.5, 0.01) for s in truth]
    period = truth[-1].end_s + 1.0
    accepted += [("H", period + truth[0].start_s + 0.6, 0.02)]  # second pass, cut off after H
    result = match_letters(truth, accepted, period, until_s=period + truth[0].end_s)
    assert result["recognised"] == "HELLOH"
    assert (result["matched"], result["expected_count"], result["unexpected"]) == (6, 6, 0)
    assert result["delay_s"]["min"] == pytest.approx(0.51)
    assert result["delay_s"]["max"] == pytest.approx(0.62)
    missing = match_letters(truth, accepted[:2], None)
    assert missing["matched"] == 2 and missing["letters"][2]["delay_s"] is None


def test_pipeline_all_warmup_is_an_error_and_compare_reads_pipeline_results(
    pipeline_args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    replay = ["pipeline", "--source", f"replay:{DEMO_REPLAY}", *pipeline_args]
    rc, _, err = run_cli([*replay, "--warmup", "100000"], capsys)
    assert rc == 1 and "all of them warm-up" in err
    paths = []
    for i in range(2):
        paths.append(str(tmp_path / f"p{i}.json"))
        assert run_cli([*replay, "--warmup", "5", "--json", paths[-1]], capsys)[0] == 0
    rc, out, _ = run_cli(["compare", *paths], capsys)
    assert rc == 0
    row = next(line for line in out.splitlines() if line.startswith("classifier median"))
    assert row.rstrip().endswith("x")
    model_json = tmp_path / "m.json"
    model_json.write_text(json.dumps({**json.loads(Path(paths[0]).read_text()), "kind": "model"}))
    rc, _, err = run_cli(["compare", paths[0], str(model_json)], capsys)
    assert rc == 1 and "different kinds" in err


def test_pipeline_loops_a_short_source_until_the_duration(
    pipeline_args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pipeline", "--source", f"replay:{DEMO_REPLAY}", *pipeline_args, "--warmup", "5"]
    rc, out, _ = run_cli([*argv, "--duration", "1.5", "--json", "-"], capsys)
    assert rc == 0
    report = json.loads(out)
    frames, letters = report["frames"], report["letters"]
    one_pass = max(int(line.split(",")[-3]) for line in DEMO_REPLAY.read_text().splitlines()[1:])
    assert frames["passes"] >= 2 and frames["processed"] > one_pass + 1
    assert frames["run_s"] >= 1.5
    # the truth repeats once per pass (HELLO: 5 letters), the last pass counting only the
    # letters that were over before the run ended
    assert 5 * (frames["passes"] - 1) <= letters["expected_count"] <= 5 * frames["passes"]


def test_model_speed_target_against_a_reference_gru(
    tiny_models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The target is checked against the float32 model whose path says 'gru' (A's exports are
    runs/<arch>/letters_<kind>.tflite), never against its int8 or dynamic-range twins."""
    import shutil

    gru_dir = tmp_path / "gru"
    gru_dir.mkdir()
    shutil.copy(tiny_models["float"], gru_dir / "letters_float32.tflite")
    shutil.copy(tiny_models["int8"], gru_dir / "letters_int8.tflite")
    argv = ["model", "--model", str(tiny_models["int8"])]
    argv += ["--model", str(gru_dir / "letters_float32.tflite")]
    argv += ["--model", str(gru_dir / "letters_int8.tflite"), "--runs", "20", "--json", "-"]
    rc, out, _ = run_cli(argv, capsys)
    assert rc == 0
    report = json.loads(out)
    names = [m["name"] for m in report["models"]]
    assert names == ["tiny_int8.tflite", "letters_float32.tflite", "letters_int8.tflite"]
    (check,) = report["targets"]
    assert "letters_float32.tflite" in check["name"] and check["op"] == ">="
    assert check["value"] == report["models"][1]["median_ratio_to_first"]
    assert check["passed"] == (check["value"] >= 10.0)


def test_matplotlib_is_imported_only_for_plot(tiny_models: dict[str, Path]) -> None:
    code = (
        "import sys\n"
        "from edge.bench.cli import main\n"
        f"rc = main(['model', '--model', {str(tiny_models['int8'])!r}, '--runs', '5',"
        " '--json', '-'])\n"
        "print('matplotlib' in sys.modules, rc)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "False 0", result.stderr[-2000:]


class LeakyPipeline:
    """The real pipeline, made to keep `chunk` bytes of touched memory on every frame after the
    warm-up: a leak of known size for the memory figures to find."""

    def __init__(self, inner, chunk: int, warmup_frames: int) -> None:
        self.inner = inner
        self.chunk = chunk
        self.warmup_frames = warmup_frames
        self.frames = 0
        self.kept: list[np.ndarray] = []

    def process_frame(self, frame, *, timing: bool = False):
        self.frames += 1
        if self.frames > self.warmup_frames + 1:  # after the sample that starts the steady part
            self.kept.append(np.ones(self.chunk, np.uint8))
        return self.inner.process_frame(frame, timing=timing)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_pipeline_memory_drift_sees_a_known_growth(monkeypatch: pytest.MonkeyPatch) -> None:
    """One pass of the demo video through real MediaPipe with 256 KB kept per frame: the drift
    is that growth. Every RSS sample must be taken while the pipeline runs: one taken after
    MediaPipe is closed (20-30 MB lower) used to turn this leak into a falling RSS."""
    from edge.bench import pipeline_bench

    leaky: list[LeakyPipeline] = []
    make = pipeline_bench._make_pipeline

    def make_leaky(config, tracker):
        leaky.append(LeakyPipeline(make(config, tracker), 256 * 1024, pipeline_bench.WARMUP_FRAMES))
        return leaky[0]

    monkeypatch.setattr(pipeline_bench, "_make_pipeline", make_leaky)
    report, _ = pipeline_bench.run_pipeline_bench()  # defaults: the demo video, one pass
    grown_mb = len(leaky[0].kept) * leaky[0].chunk / 2**20
    memory = report["memory"]
    assert report["frames"]["passes"] == 1 and grown_mb > 30
    drift, slope = memory["steady_rss_drift_mb"], memory["steady_rss_slope_mb_per_min"]
    assert 0.75 * grown_mb < drift < 1.25 * grown_mb, (drift, grown_mb, memory["samples"])
    assert slope > 0, memory["samples"]

"""Train a tiny model on a committed fixture, export it, and run it in a real LiteRT interpreter.

Also checks the window sets are what the daemon's ring buffer would produce: (20, 67) windows
cut from timestamped continuous spelling, presence flags where the hand was, labels by what the
hand does at the window's end, and double-letter releases among the background windows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edge.classifier import LetterClassifier
from edge.dataset import load_landmark_csv
from edge.features import PATH_X, PRESENT, WINDOW_CHANNELS
from edge.synth import SynthConfig
from edge.training.windows import build_windows, held_windows

FIXTURE = Path(__file__).parent / "fixtures" / "letters_small.csv"
LABELS = ("A", "B", "L", "V", "Y", "_")
STEPS = SynthConfig().steps


@pytest.fixture(scope="module")
def table():
    return load_landmark_csv(FIXTURE)


def test_windows_look_like_the_ring_buffer(table) -> None:
    w = build_windows(table, per_class=40, seed=3, labels=LABELS)
    assert w.x.shape[1:] == (STEPS, WINDOW_CHANNELS) and w.x.dtype == np.float32
    present = w.x[:, :, PRESENT]
    assert set(np.unique(present)) <= {0.0, 1.0}
    assert (present[:, -1] == 1).all()  # the daemon classifies frames that have a hand
    absent = present == 0
    assert (w.x[absent] == 0).all()  # no hand: zeros, never invented frames
    assert np.allclose(w.x[:, -1, PATH_X:], 0.0)  # the path is relative to the newest hand
    # the last quarter second: a held hand barely moves, a rising or dropping one travels
    recent = np.abs(w.x[:, -8:, PATH_X : PATH_X + 2]).max(axis=(1, 2))
    assert np.median(recent[w.kind == "hold"]) < 0.25
    assert np.median(recent[np.isin(w.kind, ["rise", "drop"])]) > 0.5


def test_build_windows_is_seeded_and_balanced(table) -> None:
    a = build_windows(table, per_class=20, seed=5, labels=LABELS)
    b = build_windows(table, per_class=20, seed=5, labels=LABELS)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    counts = np.bincount(a.y, minlength=len(LABELS))
    assert (counts[:5] == 20).all()
    assert counts[5] >= 80  # background: 4x a letter's count, plus every release seen
    assert set(a.kind) >= {"hold", "move", "release", "rise", "drop"}
    assert (a.y[a.kind == "release"] == 5).all()  # a double letter's release is no letter


@pytest.fixture(scope="module")
def tiny_cnn(table, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tiny CNN trained on the fixture and exported as float32 and INT8 .tflite and as ONNX
    (trained once for the tests that use it)."""
    from edge.training.export import export_run
    from edge.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_cnn")
    config = TrainConfig(
        arch="cnn", seed=1, per_class=120, epochs=6, patience=6, threads=1, labels=LABELS
    )
    run = out / "run"
    summary = train(table, config, run)
    assert summary["params"] > 0 and (run / "model.keras").is_file()
    written = export_run(run, out, kinds=("float32", "int8", "onnx"))
    return {"run": run, **{kind: Path(info["path"]) for kind, info in written.items()}}


def test_tiny_model_trains_exports_int8_and_matches_float(
    table, tiny_cnn: dict[str, Path], tmp_path: Path
) -> None:
    from edge.commands.export import update_sums

    run, int8_path, float_path = tiny_cnn["run"], tiny_cnn["int8"], tiny_cnn["float32"]
    update_sums(tmp_path / "SHA256SUMS", [int8_path, run / "labels.txt"])

    int8 = LetterClassifier(int8_path, run / "labels.txt", tmp_path / "SHA256SUMS")
    flt = LetterClassifier(float_path, run / "labels.txt", None)
    assert int8.quantized and not flt.quantized
    assert (int8.steps, int8.channels) == (STEPS, WINDOW_CHANNELS)

    w = held_windows(table, seed=9, labels=LABELS)
    p_int8 = int8.predict_batch(w.x)
    p_float = flt.predict_batch(w.x)
    assert np.allclose(p_int8.sum(axis=1), 1.0, atol=0.05)
    agreement = float((p_int8.argmax(1) == p_float.argmax(1)).mean())
    accuracy = float((p_float.argmax(1) == w.y).mean())
    assert agreement >= 0.9, agreement
    assert accuracy >= 0.8, accuracy  # five distinct handshapes: far above chance (0.2)
    assert np.abs(p_int8 - p_float).max() < 0.25


def test_onnx_export_runs_in_onnx_runtime_and_agrees_with_the_float_tflite(
    table, tiny_cnn: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """letters.onnx (tf2onnx from the Keras 3 model) is a real ONNX graph that ONNX Runtime runs;
    through the classifier it gives the float .tflite's probabilities, and edge-bench puts the
    two runtimes side by side."""
    import json

    import onnxruntime

    from edge.bench import cli as bench

    onnx_path, float_path, labels = tiny_cnn["onnx"], tiny_cnn["float32"], tiny_cnn["run"]
    assert onnx_path.name == "letters.onnx"
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "window" and inp.shape == [1, STEPS, WINDOW_CHANNELS]
    assert inp.type == "tensor(float)"

    onnx = LetterClassifier(onnx_path, labels / "labels.txt", None)
    flt = LetterClassifier(float_path, labels / "labels.txt", None)
    assert (onnx.runtime.package, flt.runtime.package) == ("onnxruntime", "ai-edge-litert")
    assert (onnx.steps, onnx.channels, onnx.labels) == (STEPS, WINDOW_CHANNELS, list(LABELS))
    w = held_windows(table, seed=9, labels=LABELS)
    p_onnx, p_float = onnx.predict_batch(w.x), flt.predict_batch(w.x)
    assert np.abs(p_onnx - p_float).max() < 1e-4  # the same float model in two runtimes
    assert (p_onnx.argmax(1) == p_float.argmax(1)).all()
    first = onnx.predict(w.x[0]).copy()
    assert not np.allclose(onnx.predict(w.x[-1]), first)  # each call runs on its own window

    argv = ["model", "--model", str(float_path), "--model", str(onnx_path), "--runs", "20"]
    assert bench.main([*argv, "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {m["name"]: m for m in report["models"]}
    assert set(rows) == {"letters_float32.tflite", "letters.onnx"}
    assert rows["letters.onnx"]["runtime"] == "onnxruntime"
    assert rows["letters_float32.tflite"]["runtime"] == "ai-edge-litert"
    for row in rows.values():
        assert row["input_data"] == "real windows" and row["steady"]["count"] == 20
        assert row["init_ms"] > 0 and row["steady"]["median_us"] > 0
    imports = report["settings"]["runtime_imports"]
    assert imports["onnxruntime"]["version"] == onnxruntime.__version__
    assert report["targets"] == []  # no reference GRU in this run


def test_ignore_z_model_is_blind_to_z_after_export(table, tmp_path: Path) -> None:
    """--ignore-z: the exported model's output does not move when only z changes."""
    from edge.training.export import export_run
    from edge.training.train import TrainConfig, train

    config = TrainConfig(
        arch="cnn",
        seed=2,
        per_class=60,
        epochs=2,
        patience=2,
        threads=1,
        labels=LABELS,
        ignore_z=True,
        label_smoothing=0.1,
    )
    run = tmp_path / "run"
    train(table, config, run)
    written = export_run(run, tmp_path, kinds=("float32",))
    flt = LetterClassifier(Path(written["float32"]["path"]), run / "labels.txt", None)
    w = held_windows(table, seed=4, labels=LABELS).x[:40]
    moved = w.copy()
    moved[:, :, 2:63:3] *= 3.0  # every z, tripled
    moved[:, :, 2:63:3] += 0.5
    changed = w.copy()
    changed[:, :, 0:63:3] += 0.5  # x moves: this one must change the output
    p, p_moved, p_changed = (flt.predict_batch(a) for a in (w, moved, changed))
    assert np.abs(p - p_moved).max() < 1e-5
    assert np.abs(p - p_changed).max() > 1e-3


def _sha256sum_check(folder: Path) -> set[str]:
    """The files a SHA256SUMS lists, after `sha256sum --check --strict` passed on it."""
    import subprocess

    check = subprocess.run(
        ["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=folder, capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    return {line.split(maxsplit=1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()}


def test_export_install_puts_the_float_twins_beside_the_reference(
    tiny_cnn: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--install: the INT8 model into models/, its float32 .tflite and .onnx from the same run
    into benchmarks/reference/, both checksum lists valid; --reference refuses a CNN run."""
    from edge.cli import main

    models, reference = tmp_path / "models", tmp_path / "reference"
    models.mkdir()
    (models / "SHA256SUMS").write_text(f"{'0' * 64}  hand_landmarker.task\n")  # kept as it is
    run = str(tiny_cnn["run"])
    dirs = ["--models-dir", str(models), "--reference-dir", str(reference)]
    argv = ["export", run, "--out", str(tmp_path / "out"), "--kinds", "float32,int8,onnx"]
    assert main([*argv, "--install", *dirs]) == 0
    assert (models / "letters_int8.tflite").read_bytes() == tiny_cnn["int8"].read_bytes()
    assert (reference / "letters.onnx").stat().st_size > 1000
    assert (reference / "letters_float32.tflite").read_bytes() == tiny_cnn["float32"].read_bytes()
    assert _sha256sum_check(reference) == {"letters_float32.tflite", "letters.onnx"}
    assert "hand_landmarker.task" in (models / "SHA256SUMS").read_text()

    capsys.readouterr()
    assert main(["export", run, "--kinds", "float32,dynamic", "--reference", *dirs]) == 2
    assert "is a cnn run" in capsys.readouterr().err


def test_reference_gru_trains_and_installs_as_the_speed_reference(
    table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`train --arch gru` then `export --reference`: the float32 and dynamic-range GRU in the
    reference folder with its run.json and sums, on the classifier's own window, and edge-bench
    checks the speed target against its float32 export (LiteRT only, no TensorFlow needed)."""
    import json

    from edge.bench import cli as bench
    from edge.cli import main
    from edge.training.train import TrainConfig, train

    run = tmp_path / "gru"
    config = TrainConfig(
        arch="gru", seed=1, per_class=30, epochs=1, patience=1, threads=1, labels=LABELS
    )
    train(table, config, run)
    reference = tmp_path / "reference"
    argv = ["export", str(run), "--kinds", "float32,dynamic", "--reference"]
    assert main([*argv, "--reference-dir", str(reference)]) == 0
    names = {"reference_gru_float32.tflite", "reference_gru_dynamic.tflite"}
    assert _sha256sum_check(reference) == names | {"reference_gru_run.json"}
    assert json.loads((reference / "reference_gru_run.json").read_text())["config"]["arch"] == "gru"
    gru = LetterClassifier(reference / "reference_gru_float32.tflite", run / "labels.txt", None)
    assert (gru.steps, gru.channels, gru.quantized) == (STEPS, WINDOW_CHANNELS, False)

    shipped = Path(__file__).resolve().parents[1] / "models" / "letters_int8.tflite"
    paths, skipped = bench.default_models(shipped.parent, reference)
    assert paths[0] == shipped and skipped == []
    assert [p.name for p in paths[1:]] == [
        "reference_gru_float32.tflite",
        "reference_gru_dynamic.tflite",
    ]
    capsys.readouterr()
    models = [a for p in paths for a in ("--model", str(p))]
    assert bench.main(["model", *models, "--runs", "20", "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    (check,) = report["targets"]
    assert "reference_gru_float32.tflite" in check["name"]
    assert check["value"] == report["models"][1]["median_ratio_to_first"]


def test_without_tf2onnx_the_default_export_skips_onnx_and_asking_for_it_is_an_error(
    tiny_cnn: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import argparse
    import logging
    import sys

    from edge.cli import main
    from edge.commands import export

    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the train extra lacked it
    default = argparse.Namespace(kinds=export.DEFAULT_KINDS)
    with caplog.at_level(logging.WARNING, logger="sign2sound.export"):
        assert export._kinds(default) == ("float32", "dynamic", "int8")
    assert "tf2onnx is not installed" in caplog.text
    assert main(["export", str(tiny_cnn["run"]), "--kinds", "float32,onnx"]) == 2
    (line,) = [ln for ln in capsys.readouterr().err.splitlines() if ": error: " in ln]
    assert line == (
        "sign2sound export: error: --kinds onnx needs tf2onnx (the 'train' extra: "
        "pip install tf2onnx)"
    )

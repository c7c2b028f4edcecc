"""The shipped letter model in a real LiteRT interpreter, and the errors a broken install gets."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from edge.classifier import LetterClassifier, ModelError
from edge.config import MODELS_DIR, REFERENCE_DIR
from edge.dataset import load_landmark_csv
from edge.features import WINDOW_CHANNELS
from edge.modelfiles import sha256_of, verify_sha256
from edge.synth import SynthConfig
from edge.training.windows import held_windows

MODEL = MODELS_DIR / "letters_int8.tflite"
LABELS = MODELS_DIR / "labels.txt"
SUMS = MODELS_DIR / "SHA256SUMS"
FIXTURE = Path(__file__).parent / "fixtures" / "letters_small.csv"
WINDOW = (SynthConfig().steps, WINDOW_CHANNELS)  # the window the model was trained on


@pytest.fixture(scope="module")
def shipped() -> LetterClassifier:
    return LetterClassifier(MODEL, LABELS, SUMS, threads=1)


def test_shipped_model_contract(shipped: LetterClassifier) -> None:
    assert (shipped.steps, shipped.channels) == WINDOW
    assert shipped.quantized, "the shipped model must be full INT8"
    assert shipped.labels[:26] == [chr(ord("A") + i) for i in range(26)]
    assert MODEL.stat().st_size <= 150 * 1024
    probs = shipped.predict(np.zeros(WINDOW, np.float32))
    assert probs.shape == (len(shipped.labels),) and probs.dtype == np.float32
    assert abs(float(probs.sum()) - 1.0) < 0.05


def test_shipped_model_reads_real_hands_it_never_trained_on(shipped: LetterClassifier) -> None:
    # the fixture's sources (t32rahman, vedantborse-ai) are the shipped model's test/val split
    table = load_landmark_csv(FIXTURE)
    w = held_windows(table, seed=0, labels=shipped.labels)
    pred = np.array([shipped.predict(x).argmax() for x in w.x])
    accuracy = float((pred == w.y).mean())
    assert accuracy >= 0.85, accuracy
    # an empty window (no hand anywhere) is not a letter
    empty = shipped.predict(np.zeros(WINDOW, np.float32))
    assert shipped.labels[int(empty.argmax())] == "_"


class CopyingClassifier:
    """The shipped classifier, but every result is a fresh array nobody else writes to."""

    def __init__(self, inner: LetterClassifier) -> None:
        self.inner = inner

    def predict(self, window: np.ndarray, *, timing: bool = False) -> np.ndarray:
        return self.inner.predict(window, timing=timing).copy()

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def _replay_events(config, classifier) -> list[tuple[str, str, float]]:
    from edge.pipeline import Pipeline
    from edge.sources import LandmarkReplaySource

    source = LandmarkReplaySource(MODELS_DIR / "demo" / "hello_landmarks.csv", realtime=False)
    source.open()
    pipeline = Pipeline(config, classifier)
    events = []
    while (frame := source.read()) is not None:
        events += pipeline.process_frame(frame)
    events += pipeline.finish()
    return [(e.kind, e.text, round(e.t, 6)) for e in events]


@pytest.mark.parametrize("every_n_frames", [1, 3])
def test_callers_use_each_result_before_the_next_predict(
    shipped: LetterClassifier, every_n_frames: int
) -> None:
    """predict() fills one output array, overwritten by the next call (no allocation per frame;
    its docstring says to copy a result to keep it). What the caller relies on: the pipeline
    and decoder never keep a result past the next predict, so the recorded HELLO gives exactly
    the same letters and words at the same times as with a fresh array per call."""
    import dataclasses

    from edge.config import Config

    config = Config()
    config = dataclasses.replace(
        config, classifier=dataclasses.replace(config.classifier, every_n_frames=every_n_frames)
    )
    shared = _replay_events(config, shipped)
    assert [text for kind, text, _ in shared if kind == "word"] == ["HELLO"]
    assert shared == _replay_events(config, CopyingClassifier(shipped))
    # and the documented overwrite: a kept reference changes with the next call, a copy does not
    letter = held_windows(load_landmark_csv(FIXTURE), seed=0, labels=shipped.labels).x[0]
    empty = np.zeros(WINDOW, np.float32)
    kept = shipped.predict(letter)
    copy = kept.copy()
    shipped.predict(empty)
    assert shipped.labels[int(copy.argmax())] != "_" and shipped.labels[int(kept.argmax())] == "_"
    batch = shipped.predict_batch(np.stack([letter, empty]))
    assert np.array_equal(batch[0], copy)  # predict_batch copies every row


def test_wrong_window_shape_is_named(shipped: LetterClassifier) -> None:
    steps, channels = WINDOW
    with pytest.raises(
        ModelError, match=rf"window shape \({steps}, 64\), expected \({steps}, {channels}\)"
    ):
        shipped.predict(np.zeros((steps, 64), np.float32))


def test_checksum_mismatch_names_file_and_both_hashes(tmp_path: Path) -> None:
    model = tmp_path / "letters_int8.tflite"
    shutil.copyfile(MODEL, model)
    wrong = "0" * 64
    (tmp_path / "SHA256SUMS").write_text(f"{wrong}  letters_int8.tflite\n")
    with pytest.raises(ModelError) as err:
        LetterClassifier(model, LABELS, tmp_path / "SHA256SUMS")
    msg = str(err.value)
    assert str(model) in msg and wrong in msg and sha256_of(model) in msg


def test_shipped_checksum_list_is_sha256sum_output_covering_every_model_file() -> None:
    """SHA256SUMS is what `sha256sum` writes (so `sha256sum -c` checks it), and it lists every
    file of models/ the daemon can be told to load: the classifier, its labels, both hand
    bundles, the word-correction list."""
    import subprocess

    assert verify_sha256(MODEL, SUMS) == sha256_of(MODEL)
    check = subprocess.run(
        ["sha256sum", "--check", "--strict", SUMS.name], cwd=MODELS_DIR, capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    listed = {line.split(maxsplit=1)[1] for line in SUMS.read_text().splitlines()}
    shipped = {
        p.name for p in MODELS_DIR.iterdir() if p.suffix in (".tflite", ".task", ".txt", ".tsv")
    }
    assert (
        listed
        == shipped
        == {
            "letters_int8.tflite",
            "labels.txt",
            "hand_landmarker.task",
            "hand_landmarker_lite.task",
            "lexicon.tsv",
        }
    )


def test_missing_and_truncated_models_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="model file not found"):
        LetterClassifier(tmp_path / "nope.tflite", LABELS, None)
    truncated = tmp_path / "cut.tflite"
    truncated.write_bytes(MODEL.read_bytes()[:5000])
    with pytest.raises(ModelError, match=str(truncated)):
        LetterClassifier(truncated, LABELS, None)
    (tmp_path / "SHA256SUMS").write_text(f"{sha256_of(MODEL)}  cut.tflite\n")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        LetterClassifier(truncated, LABELS, tmp_path / "SHA256SUMS")


def test_label_count_must_match_outputs(tmp_path: Path) -> None:
    labels = tmp_path / "labels.txt"
    labels.write_text("A\nB\nC\n")
    with pytest.raises(ModelError, match="27 outputs but .* lists 3 labels"):
        LetterClassifier(MODEL, labels, None)


def test_eval_command_on_a_real_clip_and_frames(tmp_path: Path) -> None:
    """`sign2sound eval` on real data: report, confusion text and PNG, per-clip accuracy."""
    import json

    from edge.cli import main

    clip = Path(__file__).parent / "fixtures" / "lart101_H_clip.csv"
    out = tmp_path / "eval"
    assert main(["eval", str(clip), str(FIXTURE), "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    h = report["per_clip"]["lart101:H"]
    assert h["majority"] == "H" and h["letter_windows"] > 30 and h["letter_top1"] >= 0.8
    assert h["windows"] > h["letter_windows"]  # the rise from rest is scored as "_" too
    # the resting hand is "_"; the streaming model reads H from the shape already while the hand
    # is still rising into it, which the clip's labels call "_" until the hand is steady
    assert report["per_letter"]["_"]["n"] >= 15 and report["per_letter"]["_"]["top1"] >= 0.4
    assert report["top1"] >= 0.85 and report["model_bytes"] == MODEL.stat().st_size
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "confusion.txt").read_text().startswith("true\\pred")


# --- ONNX Runtime beside LiteRT (the shipped model's float twin, benchmarks/reference/) ---------

ONNX_TWIN = REFERENCE_DIR / "letters.onnx"  # `sign2sound export --install` writes it


def test_eval_runs_an_onnx_model_and_reports_agreement_with_the_shipped_int8(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`sign2sound eval --model X.onnx` runs X in ONNX Runtime and, with no --float-model,
    reports its top-1 agreement with the TFLite model the daemon runs."""
    import json

    from edge.cli import main

    clip = Path(__file__).parent / "fixtures" / "lart101_H_clip.csv"
    out = tmp_path / "eval"
    assert (
        main(["eval", str(clip), str(FIXTURE), "--model", str(ONNX_TWIN), "--out", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert f"({ONNX_TWIN.stat().st_size} bytes, onnxruntime)" in printed
    assert "top-1 agreement with letters_int8.tflite" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["runtime"] == "onnxruntime"
    assert Path(report["agreement_with"]).resolve() == MODEL.resolve()
    assert report["agreement"] >= 0.95  # INT8 against its own float model
    assert report["top1"] >= 0.85 and report["per_clip"]["lart101:H"]["majority"] == "H"
    assert report["model_bytes"] == ONNX_TWIN.stat().st_size


def test_a_file_that_is_not_onnx_is_named_in_one_line(tmp_path: Path) -> None:
    text = tmp_path / "letters.onnx"
    text.write_text("hello\n")
    renamed = tmp_path / "int8.onnx"  # a TFLite flatbuffer is no ONNX graph
    shutil.copyfile(MODEL, renamed)
    for bogus in (text, renamed):
        with pytest.raises(ModelError) as info:
            LetterClassifier(bogus, LABELS, None)
        message = str(info.value)
        assert message.startswith(f"{bogus}: not an ONNX model ONNX Runtime can load (")
        assert "\n" not in message


def test_without_onnx_runtime_an_onnx_model_is_one_clear_line() -> None:
    """A Pi without the 'onnx' extra: eval and edge-bench say what to install, in one line,
    and LiteRT models still run (the import system itself reports onnxruntime missing)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "sys.modules['onnxruntime'] = None  # as if the package were not installed\n"
        "from edge.bench.cli import main as bench\n"
        "from edge.cli import main\n"
        f"rc = main(['eval', {str(FIXTURE)!r}, '--model', {str(ONNX_TWIN)!r}])\n"
        f"rc2 = bench(['model', '--model', {str(ONNX_TWIN)!r}])\n"
        f"rc3 = bench(['model', '--model', {str(MODEL)!r}, '--runs', '5', '--json', '/dev/null'])\n"
        "print(rc, rc2, rc3)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "1 1 0", result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 2 and "Traceback" not in result.stderr
    for line, prog in zip(errors, ("sign2sound eval", "edge-bench model"), strict=True):
        assert line.startswith(f"{prog}: error: ONNX Runtime is not installed")
        assert "'onnx' extra" in line

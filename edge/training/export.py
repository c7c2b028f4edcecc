"""Convert a trained Keras model to TFLite (float32, dynamic-range, full-integer INT8) and ONNX.

Full INT8 (int8 input and output, every op int8) is what the Pi runs; it is calibrated with real
landmark windows saved by training (`calibration.npy`), never random noise.

The float model is also written as ONNX (`letters.onnx`) when tf2onnx is installed (the `train`
extra has it), so ONNX Runtime can be compared with LiteRT on the same machine. tf2onnx 1.17
converts the Keras 3 model directly (`tf2onnx.convert.from_keras`, which traces it as a
tf.function), with the same fixed batch-1 input the .tflite files have.

Each export is checked for tensor buffers LiteRT would have to copy (`edge.tflite_alignment`):
the converter (TF 2.21) puts every buffer at a multiple of 4 in the flatbuffer, which is all that
int8, int32 and float32 tensors need, so none has been found; a converter that changes this is
named in a warning rather than found later in a Pi's log.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from edge.tflite_alignment import unaligned_tensors

log = logging.getLogger(__name__)

KINDS = ("float32", "dynamic", "int8")  # the .tflite exports
ONNX = "onnx"  # the float model as ONNX, beside them
EXPORTS = (*KINDS, ONNX)
ONNX_OPSET = 17  # ONNX Runtime 1.13 and later run it


def onnx_available() -> bool:
    """Whether tf2onnx (the `train` extra) is installed, without importing TensorFlow."""
    from importlib.util import find_spec

    return find_spec("tf2onnx") is not None


def _batch1(model):
    """`model` with a fixed batch of 1: what the daemon invokes, and what recurrent layers need
    to convert."""
    import keras

    steps, channels = model.input_shape[1:]
    inp = keras.Input(batch_shape=(1, steps, channels), name="window")
    return keras.Model(inp, model(inp, training=False), name=model.name)


def to_onnx(model) -> bytes:
    """The float model as a serialised ONNX graph (input 'window' (1, steps, channels))."""
    import tensorflow as tf
    import tf2onnx

    if not log.isEnabledFor(logging.DEBUG):  # its five INFO lines per conversion, at DEBUG only
        logging.getLogger("tf2onnx").setLevel(logging.WARNING)
    steps, channels = model.input_shape[1:]
    spec = [tf.TensorSpec((1, steps, channels), tf.float32, name="window")]
    proto, _ = tf2onnx.convert.from_keras(_batch1(model), input_signature=spec, opset=ONNX_OPSET)
    return proto.SerializeToString()


def convert(model, kind: str, calibration: np.ndarray | None = None) -> bytes:
    """TFLite flatbuffer of `model` for `kind` in KINDS."""
    import tensorflow as tf

    conv = tf.lite.TFLiteConverter.from_keras_model(_batch1(model))
    if kind == "dynamic":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
    elif kind == "int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError("INT8 export needs calibration windows")
        calib = calibration.astype(np.float32)

        def representative():
            for w in calib:
                yield [w[None]]

        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = representative
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    elif kind != "float32":
        raise ValueError(f"unknown export kind {kind!r} (choose from {', '.join(KINDS)})")
    return conv.convert()


def export_run(run_dir: Path, out_dir: Path, kinds=KINDS, name: str = "letters") -> dict:
    """Export `run_dir/model.keras` into `out_dir/<name>_<kind>.tflite` (and `<name>.onnx` for
    the kind 'onnx'); returns paths and sizes."""
    import keras

    from edge.training.models import register_custom_objects

    register_custom_objects()
    model = keras.models.load_model(run_dir / "model.keras")
    calibration = np.load(run_dir / "calibration.npy")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind in kinds:
        if kind == ONNX:
            data = to_onnx(model)
            path = out_dir / f"{name}.onnx"
            path.write_bytes(data)
            written[kind] = {"path": str(path), "bytes": len(data), "unaligned": []}
            continue
        data = convert(model, kind, calibration)
        path = out_dir / f"{name}_{kind}.tflite"
        path.write_bytes(data)
        unaligned = unaligned_tensors(data)
        if unaligned:
            log.warning(
                "%s: %d tensor buffer(s) not aligned to their element size, LiteRT copies them "
                "at every start: %s",
                path,
                len(unaligned),
                "; ".join(unaligned[:5]),
            )
        written[kind] = {"path": str(path), "bytes": len(data), "unaligned": unaligned}
    return written

"""Convert a trained Keras model to TFLite: float32, dynamic-range and full-integer INT8.

Full INT8 (int8 input and output, every op int8) is what the Pi runs; it is calibrated with real
landmark windows saved by training (`calibration.npy`), never random noise.

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

KINDS = ("float32", "dynamic", "int8")


def convert(model, kind: str, calibration: np.ndarray | None = None) -> bytes:
    """TFLite flatbuffer of `model` for `kind` in KINDS."""
    import keras
    import tensorflow as tf

    steps, channels = model.input_shape[1:]
    # fixed batch 1: what the daemon invokes, and what recurrent layers need to convert
    inp = keras.Input(batch_shape=(1, steps, channels), name="window")
    batch1 = keras.Model(inp, model(inp, training=False), name=model.name)
    conv = tf.lite.TFLiteConverter.from_keras_model(batch1)
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
    """Export `run_dir/model.keras` into `out_dir/<name>_<kind>.tflite`; returns paths and sizes."""
    import keras

    from edge.training.models import register_custom_objects

    register_custom_objects()
    model = keras.models.load_model(run_dir / "model.keras")
    calibration = np.load(run_dir / "calibration.npy")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind in kinds:
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

"""Keras architectures: the small temporal CNN the device ships and the reference GRU / an LSTM.

All take (steps, 64) windows and end in a softmax over the labels, so training, export and
evaluation treat them the same. Recurrent layers are built with `unroll=True` (30 steps) so they
convert to TFLite without TensorList ops (see ../shared/DESIGN.md).
"""

from __future__ import annotations

import functools

ARCHITECTURES = ("cnn", "gru", "lstm")
Z_CHANNELS = tuple(range(2, 63, 3))  # z0 ... z20 in the (steps, 64) window


@functools.cache
def _register_zero_rows():
    """Keras constraint that keeps chosen input rows of a conv kernel at zero (registered once)."""
    import keras

    @keras.saving.register_keras_serializable(package="sign2sound")
    class ZeroInputRows(keras.constraints.Constraint):
        """Zero kernel rows for the given input channels: the model ignores those inputs.

        Same as masking the channels before the layer, with no extra op in the INT8 graph,
        and features.py / the runtime stay unchanged (no train/serve skew).
        """

        def __init__(self, channels=()):
            self.channels = tuple(int(c) for c in channels)

        def __call__(self, w):
            import numpy as np

            keep = np.ones(w.shape[-2], np.float32)
            keep[list(self.channels)] = 0.0
            return w * keras.ops.convert_to_tensor(keep[:, None])

        def get_config(self):
            return {"channels": list(self.channels)}

    return ZeroInputRows


def register_custom_objects() -> None:
    """Register this module's Keras objects so a saved model.keras that uses them loads."""
    _register_zero_rows()


def build_model(
    arch: str,
    steps: int,
    channels: int,
    n_classes: int,
    *,
    dropout: float = 0.3,
    ignore_z: bool = False,
):
    """A compiled-free Keras model for `arch` ('cnn', 'gru' or 'lstm').

    ignore_z (CNN only): the first convolution never looks at the z coordinates (MediaPipe's
    depth scale differs between sources and versions).
    """
    import keras
    from keras import layers

    inp = keras.Input((steps, channels), name="window")
    if arch == "cnn":
        constraint = _register_zero_rows()(Z_CHANNELS) if ignore_z else None
        # per-step handshape features, then two strided temporal convolutions: small, all-int8
        x = layers.Conv1D(64, 3, padding="same", activation="relu", kernel_constraint=constraint)(
            inp
        )
        x = layers.Conv1D(64, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Conv1D(96, 3, strides=2, padding="same", activation="relu")(x)
        x = layers.Flatten()(x)  # keeps WHEN things happen: the label is about the window's end
        x = layers.Dropout(dropout)(x)
        x = layers.Dense(96, activation="relu")(x)
        x = layers.Dropout(dropout)(x)
    elif arch in ("gru", "lstm"):
        # the reference: 128 hidden, 2 layers, dropout 0.3
        rnn = layers.GRU if arch == "gru" else layers.LSTM
        x = rnn(128, return_sequences=True, unroll=True)(inp)
        x = layers.Dropout(dropout)(x)
        x = rnn(128, unroll=True)(x)
        x = layers.Dropout(dropout)(x)
    else:
        raise ValueError(f"unknown architecture {arch!r} (choose from {', '.join(ARCHITECTURES)})")
    out = layers.Dense(n_classes, activation="softmax", name="probs")(x)
    return keras.Model(inp, out, name=f"letters_{arch}")

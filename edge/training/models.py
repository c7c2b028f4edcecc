"""Keras architectures: the small temporal CNN the device ships and the reference GRU / an LSTM.

All take (steps, 64) windows and end in a softmax over the labels, so training, export and
evaluation treat them the same. Recurrent layers are built with `unroll=True` (30 steps) so they
convert to TFLite without TensorList ops (see ../shared/DESIGN.md).
"""

from __future__ import annotations

ARCHITECTURES = ("cnn", "gru", "lstm")


def build_model(arch: str, steps: int, channels: int, n_classes: int, *, dropout: float = 0.3):
    """A compiled-free Keras model for `arch` ('cnn', 'gru' or 'lstm')."""
    import keras
    from keras import layers

    inp = keras.Input((steps, channels), name="window")
    if arch == "cnn":
        # per-step handshape features, then two strided temporal convolutions: small, all-int8
        x = layers.Conv1D(64, 3, padding="same", activation="relu")(inp)
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

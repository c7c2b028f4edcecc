"""The one training loop for every architecture: seeded, source-split, early-stopped.

Writes a run folder: `model.keras`, `labels.txt`, `calibration.npy` (real windows for INT8
calibration), `val.npz` and `run.json` (arguments, sources per split, history, timings), which
`sign2sound export` and `sign2sound eval` read.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from edge.dataset import DEFAULT_LABELS, LandmarkTable
from edge.errors import Sign2SoundError
from edge.synth import SynthConfig
from edge.training.windows import WindowSet, build_windows

log = logging.getLogger("sign2sound.train")


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "cnn"
    seed: int = 0
    per_class: int = 6000  # windows per letter cut from synthesised spelling (training set)
    val_per_class: int = 150
    clip_windows: int = 200  # windows cut from each real clip (lart101, gh0stsh0t) per run
    epochs: int = 20
    batch_size: int = 32
    learning_rate: float = 1e-3
    patience: int = 5
    dropout: float = 0.3
    # soft targets: bounded logits, which full-INT8 quantises finely (0: logit scale 2.4, ties at
    # the top on 14% of windows, INT8 agreeing with float on 90%; 0.1: 0.6% ties, 96.5%)
    label_smoothing: float = 0.1
    ignore_z: bool = False  # CNN: first layer ignores z (depth scale differs between sources)
    signer_weight: float = 1.0  # a person of a several-person source: 1 = a source, 0 = a share
    threads: int = 2
    val_sources: tuple[str, ...] = ()
    test_sources: tuple[str, ...] = ()
    labels: tuple[str, ...] = DEFAULT_LABELS
    synth: SynthConfig = field(default_factory=SynthConfig)


def split_by_source(
    table: LandmarkTable, val_sources: Sequence[str], test_sources: Sequence[str]
) -> tuple[LandmarkTable, LandmarkTable | None, LandmarkTable | None]:
    """Whole sources go to training, validation or test; never rows of one source to two."""
    known = set(np.unique(table.source).tolist())
    for name in (*val_sources, *test_sources):
        if name not in known:
            raise Sign2SoundError(
                f"source {name!r} is not in the data (sources: {', '.join(sorted(known))})"
            )
    overlap = set(val_sources) & set(test_sources)
    if overlap:
        raise Sign2SoundError(f"source(s) {', '.join(sorted(overlap))} in both val and test")
    is_val = np.isin(table.source, list(val_sources))
    is_test = np.isin(table.source, list(test_sources))
    train = table.select(~is_val & ~is_test)
    val = table.select(is_val) if is_val.any() else None
    test = table.select(is_test) if is_test.any() else None
    return train, val, test


def configure_tensorflow(seed: int, threads: int) -> None:
    """Deterministic, thread-limited TensorFlow (the machine is shared; runs must reproduce)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        # TensorFlow already ran in this process (an export or benchmark before a train in
        # one test session): thread counts are fixed from then on; seeds still apply below.
        log.debug("TensorFlow already initialised: keeping its thread settings")
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def train(table: LandmarkTable, config: TrainConfig, out_dir: Path) -> dict:
    """Train one model on `table` split by source; returns the run summary written to run.json."""
    configure_tensorflow(config.seed, config.threads)
    import keras

    from edge.training.models import build_model

    t0 = time.monotonic()
    train_t, val_t, _test_t = split_by_source(table, config.val_sources, config.test_sources)
    train_w = build_windows(
        train_t,
        per_class=config.per_class,
        seed=config.seed,
        labels=config.labels,
        synth=config.synth,
        clip_windows_per_clip=config.clip_windows,
        signer_weight=config.signer_weight,
    )
    if val_t is not None:
        val_w = build_windows(
            val_t,
            per_class=config.val_per_class,
            seed=config.seed + 1,
            labels=config.labels,
            synth=config.synth,
            clip_windows_per_clip=30,
        )
    else:  # no validation source: hold out 10% of the synthetic windows (weaker, said in run.json)
        n_val = len(train_w) // 10
        val_w = WindowSet(
            train_w.x[:n_val],
            train_w.y[:n_val],
            train_w.labels,
            train_w.kind[:n_val],
            train_w.source[:n_val],
        )
        train_w = WindowSet(
            train_w.x[n_val:],
            train_w.y[n_val:],
            train_w.labels,
            train_w.kind[n_val:],
            train_w.source[n_val:],
        )
    t_data = time.monotonic() - t0
    log.info("windows: %d train, %d val (%.0f s)", len(train_w), len(val_w), t_data)

    model = build_model(
        config.arch,
        config.synth.steps,
        train_w.x.shape[2],
        len(config.labels),
        dropout=config.dropout,
        ignore_z=config.ignore_z,
    )
    n_classes = len(config.labels)
    if config.label_smoothing:
        # Keras' sparse loss has no smoothing: train on one-hot targets instead
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
        y_train = np.eye(n_classes, dtype=np.float32)[train_w.y]
        y_val = np.eye(n_classes, dtype=np.float32)[val_w.y]
    else:
        loss = "sparse_categorical_crossentropy"
        y_train, y_val = train_w.y, val_w.y
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate),
        loss=loss,
        metrics=["accuracy"],
    )
    stop = keras.callbacks.EarlyStopping(
        monitor="val_accuracy", patience=config.patience, restore_best_weights=True
    )
    t1 = time.monotonic()
    hist = model.fit(
        train_w.x,
        y_train,
        validation_data=(val_w.x, y_val),
        epochs=config.epochs,
        batch_size=config.batch_size,
        callbacks=[stop],
        verbose=2,
        shuffle=True,
    )
    t_fit = time.monotonic() - t1

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "model.keras")
    (out_dir / "labels.txt").write_text("\n".join(config.labels) + "\n")
    # INT8 calibration: real-landmark windows of every kind, drawn from the training set
    rng = np.random.default_rng(config.seed)
    calib = train_w.x[rng.permutation(len(train_w))[:1000]]
    np.save(out_dir / "calibration.npy", calib)
    np.savez_compressed(out_dir / "val.npz", x=val_w.x, y=val_w.y)
    summary = {
        "config": {**asdict(config), "synth": asdict(config.synth)},
        "sources": {
            "train": sorted(set(train_t.source.tolist())),
            "val": sorted(set(val_t.source.tolist())) if val_t is not None else [],
            "test": list(config.test_sources),
        },
        "windows": {"train": len(train_w), "val": len(val_w)},
        "params": int(model.count_params()),
        "epochs_run": len(hist.history["loss"]),
        "best_val_accuracy": float(max(hist.history["val_accuracy"])),
        "history": {k: [float(v) for v in vals] for k, vals in hist.history.items()},
        "seconds": {"windows": round(t_data, 1), "fit": round(t_fit, 1)},
    }
    (out_dir / "run.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary

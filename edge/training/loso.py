"""Leave-one-source-out: train once per source with that source held out, score it unseen.

The honest cross-source number: every source is scored by a model that never saw it (float Keras
model on the same windows `sign2sound eval` uses). Validation (early stopping) uses a fixed other
source.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge.dataset import BACKGROUND, MOTION_LETTERS, LandmarkTable
from edge.training.splits import VAL_SOURCES
from edge.training.train import TrainConfig, train

log = logging.getLogger("sign2sound.loso")


def leave_one_source_out(
    table: LandmarkTable, config: TrainConfig, out_dir: Path, sources: list[str] | None = None
) -> dict:
    """Per held-out source: top-1 (and per-clip top-1 for clip sources). Writes loso.json."""
    import keras

    from edge.evaluate import eval_windows

    sources = sources or sorted(set(table.source.tolist()))
    results: dict = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for src in sources:
        # early stopping on the validation sources (another one when src is one of them)
        # (the first shipped validation source that is not src: never src itself)
        val = (
            tuple(v for v in config.val_sources if v != src)
            or tuple(v for v in VAL_SOURCES if v != src)[:1]
        )
        cfg = replace(config, test_sources=(src,), val_sources=val)
        run = out_dir / src
        summary = train(table, cfg, run)
        model = keras.models.load_model(run / "model.keras")
        held = table.select(table.source == src)
        w = eval_windows(held, list(cfg.labels), seed=0)
        pred = model.predict(w.x, verbose=0, batch_size=256).argmax(1)
        ok = pred == w.y
        names = np.asarray(cfg.labels)[w.y]
        static = (w.clip == "") & ~np.isin(names, [*MOTION_LETTERS, BACKGROUND])  # held still
        entry = {
            "top1": round(float(ok.mean()), 4),
            "windows": len(w.y),
            "static_top1": round(float(ok[static].mean()), 4) if static.any() else None,
            "static_windows": int(static.sum()),
            "epochs": summary["epochs_run"],
        }
        clips = {}
        for c in np.unique(w.clip[w.clip != ""]):
            m = (w.clip == c) & (w.y != cfg.labels.index("_"))
            if m.any():
                clips[str(c)] = round(float(ok[m].mean()), 4)
        if clips:
            entry["clip_letter_top1"] = clips
        results[src] = entry
        log.info("held out %s: top-1 %.4f", src, entry["top1"])
        (out_dir / "loso.json").write_text(json.dumps(results, indent=2) + "\n")
    return results

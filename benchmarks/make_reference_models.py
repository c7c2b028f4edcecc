"""Build the reference models the speed target compares the shipped classifier against.

The target (benchmarks/README.md): the shipped INT8 classifier is at least 10x faster per invoke
than the reference float32 GRU (128 hidden, 2 layers) on the same machine. Latency depends on the
graph, not on the weight values, so the reference is built here with the training code's own
architecture (`edge.training.models.build_model`) and exporter (`edge.training.export.convert`)
and UNTRAINED weights: no data or training run needed. Needs TensorFlow (the `train` extra), so
run it on a desktop and copy the files to the Pi:

    .venv/bin/python benchmarks/make_reference_models.py /tmp/reference
    scp /tmp/reference/*.tflite pi:/opt/sign2sound/reference/
    edge-bench model --model models/letters_int8.tflite \\
        --model reference/reference_gru_float32.tflite \\
        --model reference/reference_gru_dynamic.tflite

A trained export of the same architecture (`sign2sound train --arch gru` then `export`, which
writes runs/<run>/letters_float32.tflite) gives the same latency within noise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from edge.features import WINDOW_CHANNELS  # noqa: E402
from edge.synth import SynthConfig  # noqa: E402

STEPS, CHANNELS = SynthConfig().steps, WINDOW_CHANNELS  # the window of the shipped classifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path, help="folder for the .tflite files")
    parser.add_argument("--classes", type=int, default=27, help="outputs (27: A-Z and '_')")
    args = parser.parse_args()

    from edge.training.export import convert
    from edge.training.models import build_model

    args.out_dir.mkdir(parents=True, exist_ok=True)
    model = build_model("gru", STEPS, CHANNELS, args.classes)
    for kind in ("float32", "dynamic"):
        path = args.out_dir / f"reference_gru_{kind}.tflite"
        path.write_bytes(convert(model, kind))
        print(f"{path}: {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()

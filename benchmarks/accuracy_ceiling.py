"""Is the held-out accuracy limited by the model or by the data? A per-frame study.

The shipped sequence model scores about 90% on the three held-out sources against a 95% target
(models/MODEL_CARD.md). This script asks whether a different model or different features would
close that gap, with the cheapest model that can answer: a per-frame MLP on single landmark rows
(no windows, no time), trained in about half a minute on 2 cores. It uses the project's own code
wherever training does: `LandmarkTable.features()` (the ONE normalisation), `ShapeAugmenter.shape`
(the same rotation/aspect/depth/shape augmentation the sequence model gets, then normalised again
exactly like a window frame), the same test sources, and the runtime's mirroring rule for them
(a row MediaPipe called `Left` is mirrored). Modes:

    # feature sets (one model each)
    .venv/bin/python benchmarks/accuracy_ceiling.py --features coords coords+distances \\
        coords+angles coords+bones local distances
    # seed ensemble: mean probabilities of N models
    .venv/bin/python benchmarks/accuracy_ceiling.py --seeds 5
    # leave one training source out, in turn
    .venv/bin/python benchmarks/accuracy_ceiling.py --drop-each-source
    # ... deciding what to train on by validation sources, the test sources left out entirely
    .venv/bin/python benchmarks/accuracy_ceiling.py --drop-each-source \\
        --test-sources vedantborse-ai,cankayauniversity,priyamwadasonnet \\
        --exclude-sources mariia00,t32rahman,meyyappan-dm,tutututu123ggg,seeeeeeel
    # learning curve: train on k of the training sources (2 random subsets per k)
    .venv/bin/python benchmarks/accuracy_ceiling.py --source-counts 1 2 4 6
    # the easy number: random 80/20 split of the rows inside every source (test sources too)
    .venv/bin/python benchmarks/accuracy_ceiling.py --in-source

Needs the `train` extra (TensorFlow). Prints one line per model and writes `--out` JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from edge.cli import comma_names, positive_int  # noqa: E402
from edge.commands.train import DEFAULT_TEST  # noqa: E402
from edge.config import SHARED_DATA_DIR  # noqa: E402
from edge.dataset import LETTERS, MOTION_LETTERS, LandmarkTable, load_many  # noqa: E402
from edge.features import NUM_LANDMARKS, mirror_features, normalize_landmarks  # noqa: E402
from edge.synth import FINGERS, ShapeAugmenter  # noqa: E402

PAIRS = np.array([(i, j) for i in range(NUM_LANDMARKS) for j in range(i + 1, NUM_LANDMARKS)])
CHAINS = np.array([(0, *finger) for finger in FINGERS])  # (5, 5): wrist, then base to tip


def coords(h: np.ndarray) -> np.ndarray:
    """The 63 normalised coordinates the shipped model sees per frame."""
    return h.reshape(len(h), -1)


def distances(h: np.ndarray) -> np.ndarray:
    """All 210 pairwise 3-D landmark distances: blind to rotation and mirroring."""
    return np.linalg.norm(h[:, PAIRS[:, 0]] - h[:, PAIRS[:, 1]], axis=-1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / (np.linalg.norm(v, axis=-1, keepdims=True) + 1e-6)


def _bone_directions(h: np.ndarray) -> np.ndarray:
    """(n, 5 fingers, 4 bones, 3) unit vectors from each joint to the next, wrist first."""
    return _unit(h[:, CHAINS[:, 1:]] - h[:, CHAINS[:, :-1]])


def angles(h: np.ndarray) -> np.ndarray:
    """15 joint bends: cosine between consecutive bones of each finger (blind to rotation)."""
    u = _bone_directions(h)
    return (u[:, :, :-1] * u[:, :, 1:]).sum(-1).reshape(len(h), -1)


def bones(h: np.ndarray) -> np.ndarray:
    """20 bone directions as unit vectors (orientation without bone length)."""
    return _bone_directions(h).reshape(len(h), -1)


def palm_frame(h: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rows = palm axes: across the knuckles (5 - 17), up the palm (0 -> 9), normal."""
    across = _unit(h[:, 5] - h[:, 17])
    up = h[:, 9] - h[:, 0]
    up = _unit(up - (up * across).sum(-1, keepdims=True) * across)
    return np.stack([across, up, np.cross(across, up)], axis=1)


def local(h: np.ndarray) -> np.ndarray:
    """Hand shape in its own palm frame (blind to rotation) plus that frame (the orientation)."""
    frame = palm_frame(h)
    shape = np.einsum("nij,nlj->nli", frame, h)
    return np.concatenate([shape.reshape(len(h), -1), frame.reshape(len(h), -1)], axis=1)


FEATURES = {
    "coords": coords,
    "distances": distances,
    "angles": angles,
    "bones": bones,
    "local": local,
}


def frame_features(hands: np.ndarray, spec: str) -> np.ndarray:
    """Features named by `spec` ('coords', 'coords+distances', ...) for hands (n, 21, 3)."""
    return np.concatenate([FEATURES[name](hands) for name in spec.split("+")], axis=1).astype(
        np.float32
    )


def feature_spec(text: str) -> str:
    unknown = [name for name in text.split("+") if name not in FEATURES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown feature set {'+'.join(unknown)!r} (choose from {', '.join(FEATURES)}, "
            "joined with '+')"
        )
    return text


def augmented(hands: np.ndarray, synth: ShapeAugmenter) -> np.ndarray:
    """The sequence model's per-hand augmentation, renormalised like every window frame."""
    shaped = np.stack([synth.shape(h) for h in hands])
    mirror = synth.rng.random(len(hands)) < synth.cfg.mirror_p
    return normalize_landmarks(shaped, mirror=mirror).reshape(-1, NUM_LANDMARKS, 3)


def balanced_rows(
    letter: np.ndarray, source: np.ndarray, rows: np.ndarray, per_cell: int, rng
) -> np.ndarray:
    """`per_cell` rows (with replacement) of every (source, letter): big sources do not drown."""
    picked = []
    for src in np.unique(source[rows]):
        for lab in np.unique(letter[rows]):
            cell = rows[(source[rows] == src) & (letter[rows] == lab)]
            if len(cell):
                picked.append(rng.choice(cell, per_cell))
    return np.concatenate(picked)


def fit_predict(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, *, seed: int, args) -> np.ndarray:
    """Train one MLP (2 x `hidden`, dropout 0.3) and return its test probabilities."""
    import keras

    from edge.training.train import configure_tensorflow

    keras.backend.clear_session()  # one graph per model: no retracing warnings across models
    configure_tensorflow(seed, args.threads)

    mean, std = x.mean(0), x.std(0) + 1e-6
    model = keras.Sequential(
        [
            keras.Input((x.shape[1],)),
            keras.layers.Dense(args.hidden, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(args.hidden, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(len(LETTERS), activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit((x - mean) / std, y, batch_size=128, epochs=args.epochs, verbose=0)
    return model.predict((x_test - mean) / std, verbose=0, batch_size=4096)


def scores(pred: np.ndarray, y: np.ndarray, source: np.ndarray) -> dict:
    """Top-1 overall, per test source and without the motion letters J and Z."""
    right = pred == y
    static = ~np.isin(y, [LETTERS.index(m) for m in MOTION_LETTERS])
    return {
        "n": int(len(y)),
        "top1": round(float(right.mean()), 4),
        "top1_without_j_z": round(float(right[static].mean()), 4),
        "per_source": {
            str(s): round(float(right[source == s].mean()), 4) for s in np.unique(source)
        },
        "per_source_letter": {
            str(s): {
                LETTERS[k]: round(float(right[(source == s) & (y == k)].mean()), 2)
                for k in np.unique(y[source == s])
            }
            for s in np.unique(source)
        },
    }


def experiment(
    name: str,
    table: LandmarkTable,
    hands: np.ndarray,
    y: np.ndarray,
    train_rows: np.ndarray,
    test_rows: np.ndarray,
    *,
    spec: str,
    seeds: int,
    args,
) -> list[dict]:
    """Train `seeds` models on train_rows; score each and their running probability mean."""
    test_hands = hands[test_rows].copy()
    left = table.handedness[test_rows] == "Left"  # the runtime's rule, as in `sign2sound eval`
    test_hands[left] = mirror_features(test_hands[left].reshape(-1, 63)).reshape(-1, 21, 3)
    x_test = frame_features(test_hands, spec)
    results, probs = [], []
    for seed in range(seeds):
        t0 = time.monotonic()
        rng = np.random.default_rng(seed)
        rows = balanced_rows(table.labels, table.source, train_rows, args.per_cell, rng)
        synth = ShapeAugmenter(seed=seed)
        x = np.concatenate(
            [frame_features(augmented(hands[rows], synth), spec) for _ in range(args.reps)]
        )
        probs.append(fit_predict(x, np.tile(y[rows], args.reps), x_test, seed=seed, args=args))
        row = {
            "experiment": name,
            "features": spec,
            "seed": seed,
            **scores(probs[-1].argmax(1), y[test_rows], table.source[test_rows]),
            "seconds": round(time.monotonic() - t0, 1),
        }
        if seeds > 1:
            mean = np.mean(probs, axis=0).argmax(1)
            row["ensemble"] = {
                "models": seed + 1,
                **scores(mean, y[test_rows], table.source[test_rows]),
            }
        results.append(row)
        print(describe(row), flush=True)
    return results


def describe(row: dict) -> str:
    per = " ".join(f"{s} {v:.2%}" for s, v in row["per_source"].items())
    text = (
        f"{row['experiment']:<22} {row['features']:<18} seed {row['seed']}: "
        f"top-1 {row['top1']:.2%} (without J, Z {row['top1_without_j_z']:.2%}) | {per}"
    )
    if "ensemble" in row:
        text += f" | mean of {row['ensemble']['models']}: {row['ensemble']['top1']:.2%}"
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "data",
        nargs="*",
        type=Path,
        default=[SHARED_DATA_DIR / "landmarks"],
        help="single-frame landmark CSVs or folders (default: ../shared/data/landmarks)",
    )
    parser.add_argument(
        "--test-sources",
        type=comma_names,
        default=DEFAULT_TEST,
        help="comma-separated held-out sources (default: the shipped model's test split)",
    )
    parser.add_argument(
        "--exclude-sources",
        type=comma_names,
        default=(),
        help="comma-separated sources left out entirely (e.g. the final test sources, when "
        "--test-sources names validation sources to decide on)",
    )
    parser.add_argument(
        "--exclude-letters",
        type=comma_names,
        default=(),
        metavar="SOURCE:LETTERS",
        help="comma-separated source:letters whose rows are left out, e.g. prasukj7-arch:MN",
    )
    parser.add_argument(
        "--features", nargs="+", type=feature_spec, default=["coords"], metavar="SET"
    )
    parser.add_argument(
        "--seeds", type=positive_int, default=1, help="models per feature set (ensemble)"
    )
    parser.add_argument("--drop-each-source", action="store_true")
    parser.add_argument(
        "--source-counts",
        nargs="+",
        type=positive_int,
        metavar="K",
        help="learning curve: train on K random training sources (--subsets draws per K)",
    )
    parser.add_argument(
        "--subsets", type=positive_int, default=2, help="random source subsets per K"
    )
    parser.add_argument("--in-source", action="store_true", help="random 80/20 split per source")
    parser.add_argument(
        "--per-cell", type=positive_int, default=300, help="rows per (source, letter)"
    )
    parser.add_argument("--reps", type=positive_int, default=4, help="augmented copies of each row")
    parser.add_argument("--epochs", type=positive_int, default=8)
    parser.add_argument("--hidden", type=positive_int, default=256)
    parser.add_argument("--threads", type=positive_int, default=2)
    parser.add_argument("--out", type=Path, help="write every result as JSON here")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    table = load_many(args.data)
    table = table.select(table.sequence == "")  # single frames only: this study has no time
    table = table.select(~np.isin(table.source, list(args.exclude_sources)))
    for item in args.exclude_letters:
        source, _, letters = item.partition(":")
        table = table.select(~((table.source == source) & np.isin(table.labels, list(letters))))
    known = set(table.source.tolist())
    missing = [s for s in args.test_sources if s not in known]
    if missing:
        raise SystemExit(f"test source(s) not in the data: {', '.join(missing)}")
    hands = table.features().reshape(-1, NUM_LANDMARKS, 3)
    y = np.array([LETTERS.index(lab) for lab in table.labels])
    is_test = np.isin(table.source, args.test_sources)
    train_sources = sorted(known - set(args.test_sources))
    results: list[dict] = []
    if args.in_source:
        rng = np.random.default_rng(0)
        test = rng.random(len(y)) < 0.2
        runs = [("in-source 80/20", np.flatnonzero(~test), np.flatnonzero(test & is_test))]
    elif args.source_counts:
        rng = np.random.default_rng(0)
        runs = []
        for k in args.source_counts:
            if k > len(train_sources):
                raise SystemExit(f"--source-counts {k}: only {len(train_sources)} training sources")
            draws = 1 if k == len(train_sources) else args.subsets
            for _ in range(draws):
                chosen = sorted(rng.choice(train_sources, k, replace=False).tolist())
                rows = np.flatnonzero(np.isin(table.source, chosen))
                runs.append((f"{k} sources: {','.join(chosen)}", rows, np.flatnonzero(is_test)))
    elif args.drop_each_source:
        runs = [
            (
                f"without {s}",
                np.flatnonzero(~is_test & (table.source != s)),
                np.flatnonzero(is_test),
            )
            for s in train_sources
        ]
    else:
        runs = [("held-out sources", np.flatnonzero(~is_test), np.flatnonzero(is_test))]
    for name, train_rows, test_rows in runs:
        for spec in args.features:
            results += experiment(
                name, table, hands, y, train_rows, test_rows, spec=spec, seeds=args.seeds, args=args
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    return results


if __name__ == "__main__":
    main()

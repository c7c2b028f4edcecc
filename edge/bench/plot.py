"""`--plot`: latency histograms as a PNG. matplotlib is imported here only, when asked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from edge.bench.errors import BenchError


def plot_histograms(samples_ns: Mapping[str, np.ndarray], path: Path, title: str) -> None:
    """One histogram per series (model or pipeline stage), on log-spaced microsecond bins, with
    the median marked; a long tail is what a mean hides and what a user needs to see."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise BenchError(
            "--plot needs matplotlib: install the 'plot' extra (pip install matplotlib)"
        ) from exc

    series = {k: np.asarray(v, dtype=np.float64) / 1e3 for k, v in samples_ns.items() if len(v)}
    if not series:
        raise BenchError("--plot: no latency samples were recorded, nothing to plot")
    fig, axes = plt.subplots(len(series), 1, figsize=(8, 2.2 * len(series) + 0.8), squeeze=False)
    low = max(min(float(v.min()) for v in series.values()), 1e-3)
    high = max(float(v.max()) for v in series.values())
    bins = np.geomspace(low, max(high, low * 1.01), 60)
    for ax, (name, values) in zip(axes[:, 0], series.items(), strict=True):
        ax.hist(values, bins=bins, color="#3b75af")
        median = float(np.median(values))
        ax.axvline(median, color="#c03d3e", linestyle="--", label=f"median {median:.1f} µs")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("count (log)")
        ax.set_title(f"{name} (n={len(values)})", fontsize=9)
        ax.legend(fontsize=8)
    axes[-1, 0].set_xlabel("latency (µs, log scale)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise BenchError(f"cannot write the plot to {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)

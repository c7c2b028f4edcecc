"""`--plot`: latency histograms as a PNG. matplotlib is imported here only, when asked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from edge.bench.errors import BenchError


def plot_histograms(samples_ns: Mapping[str, np.ndarray], path: Path, title: str, **extras) -> None:
    """Write `latency_figure(samples_ns, title, **extras)` to `path` as a PNG."""
    fig = latency_figure(samples_ns, title, **extras)
    import matplotlib.pyplot as plt

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=100)
    except OSError as exc:
        raise BenchError(f"cannot write the plot to {path}: {exc.strerror or exc}") from exc
    finally:
        plt.close(fig)


def latency_figure(
    samples_ns: Mapping[str, np.ndarray],
    title: str,
    *,
    targets_us: Mapping[str, float] | None = None,
    rss_samples: Sequence[Sequence[float]] | None = None,
    steady_from_s: float | None = None,
):
    """One histogram per series (model or pipeline stage), on log-spaced microsecond bins, with
    the median marked; a long tail is what a mean hides and what a user needs to see.

    `targets_us` draws a series' limit (the 1 ms per-frame target) so the tail can be read
    against it; `rss_samples` ((t_s, rss_mb, ...) rows, as in the JSON) adds an RSS-over-time
    panel, where a leak in a soak shows as a slope after `steady_from_s`."""
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
    targets_us = dict(targets_us or {})
    rss = np.asarray([row[:2] for row in rss_samples or ()], dtype=np.float64).reshape(-1, 2)
    panels = len(series) + (1 if len(rss) >= 2 else 0)
    fig, axes = plt.subplots(panels, 1, figsize=(8, 2.2 * panels + 0.8), squeeze=False)
    low = max(min(float(v.min()) for v in series.values()), 1e-3)
    high = max([float(v.max()) for v in series.values()] + list(targets_us.values()))
    bins = np.geomspace(low, max(high, low * 1.01), 60)
    for ax, (name, values) in zip(axes[:, 0], series.items(), strict=False):
        ax.hist(values, bins=bins, color="#3b75af")
        median = float(np.median(values))
        ax.axvline(median, color="#c03d3e", linestyle="--", label=f"median {median:.1f} µs")
        if name in targets_us:
            limit = targets_us[name]
            ax.axvline(limit, color="#2d8a3e", linewidth=2, label=f"target {_duration(limit)}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylabel("count (log)")
        ax.set_title(f"{name} (n={len(values)})", fontsize=9)
        ax.legend(fontsize=8)
    axes[len(series) - 1, 0].set_xlabel("latency (µs, log scale)")
    if len(rss) >= 2:
        ax = axes[-1, 0]
        ax.plot(rss[:, 0], rss[:, 1], color="#3b75af", marker=".", markersize=3)
        if steady_from_s is not None:
            ax.axvline(steady_from_s, color="#888888", linestyle=":", label="steady from here")
            ax.legend(fontsize=8)
        ax.set_xlabel("time since start (s)")
        ax.set_ylabel("RSS (MB)")
        ax.set_title(f"RSS over time ({len(rss)} samples)", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    return fig


def _duration(us: float) -> str:
    return f"{us / 1000:g} ms" if us >= 1000 else f"{us:g} µs"

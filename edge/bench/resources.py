"""Memory and CPU of this process while a benchmark runs (psutil; tracemalloc cannot see the
native memory of MediaPipe and LiteRT, which is most of it).

RSS is sampled on the benchmark's own loop every `interval_s` (no extra thread to disturb the
figures), and once more by `stop()` when the loop ends, before anything is torn down: a sample
taken after MediaPipe is closed is 20-30 MB lower and would read as a falling RSS. "Steady" RSS
excludes the warm-up, when models, graph caches and the first buffers are still being allocated;
drift compares the start of the steady part with its end, which is what a
per-frame leak would move, and a least-squares slope says how fast. Drift and slope are judged on
RSS minus what the benchmark itself keeps growing (its latency samples and event records).
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil


class ResourceMonitor:
    """`own_bytes` reports the memory the benchmark itself keeps growing (its latency samples),
    which is subtracted before the drift is judged: a leak of the pipeline, not of the bench."""

    def __init__(self, interval_s: float = 1.0, own_bytes: Callable[[], int] | None = None) -> None:
        self.interval_ns = int(interval_s * 1e9)
        self.proc = psutil.Process()
        self.own_bytes = own_bytes or (lambda: 0)
        self.times_s: list[float] = []
        self.rss_mb: list[float] = []
        self.own_mb: list[float] = []
        self._t0 = time.perf_counter_ns()
        self._next_ns = self._t0
        self._cpu0 = self.proc.cpu_times()
        self._steady_from_s: float | None = None
        self._cpu_steady0: Any = None
        self._wall_steady0 = 0
        self._stopped_ns: int | None = None
        self._cpu_stopped: Any = None

    def _sample(self, now_ns: int) -> None:
        self.times_s.append((now_ns - self._t0) / 1e9)
        self.rss_mb.append(self.proc.memory_info().rss / 2**20)
        self.own_mb.append(self.own_bytes() / 2**20)

    def poll(self) -> None:
        """Call once per frame; takes a sample when the interval has passed (one clock read)."""
        now = time.perf_counter_ns()
        if now >= self._next_ns:
            self._sample(now)
            self._next_ns = now + self.interval_ns

    def mark_steady(self) -> None:
        """The warm-up is over: CPU share and RSS drift are measured from here on."""
        now = time.perf_counter_ns()
        self._sample(now)
        self._next_ns = now + self.interval_ns
        self._steady_from_s = (now - self._t0) / 1e9
        self._cpu_steady0 = self.proc.cpu_times()
        self._wall_steady0 = now

    def stop(self) -> None:
        """The measured run is over: take the last sample now, while everything it measures is
        still loaded (call it before closing the tracker); later calls change nothing."""
        if self._stopped_ns is None:
            self._stopped_ns = time.perf_counter_ns()
            self._sample(self._stopped_ns)
            self._cpu_stopped = self.proc.cpu_times()

    def summary(self) -> dict[str, Any]:
        """Figures over the samples up to `stop()` (called here if the caller did not)."""
        self.stop()
        now = self._stopped_ns
        times = np.asarray(self.times_s)
        rss = np.asarray(self.rss_mb)
        own = np.asarray(self.own_mb)
        steady_from = self._steady_from_s if self._steady_from_s is not None else 0.0
        steady = (rss - own)[times >= steady_from]
        steady_t = times[times >= steady_from]
        drift = slope = None
        if steady.size >= 2:
            fifth = max(1, steady.size // 5)
            drift = float(np.median(steady[-fifth:]) - np.median(steady[:fifth]))
            if steady_t[-1] > steady_t[0]:
                slope = float(np.polyfit(steady_t, steady, 1)[0] * 60.0)
        # ru_maxrss: the kernel's high-water mark, catches peaks between two samples
        scale = 1 if sys.platform == "darwin" else 1024
        peak_kernel = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20

        cpu_start = self._cpu_steady0 or self._cpu0
        wall_start = self._wall_steady0 or self._t0
        cpu_now = self._cpu_stopped
        wall_s = (now - wall_start) / 1e9
        user = cpu_now.user - cpu_start.user
        system = cpu_now.system - cpu_start.system
        cores = psutil.cpu_count(logical=True) or 1
        share = (user + system) / wall_s * 100 if wall_s > 0 else None
        return {
            "memory": {
                "peak_rss_mb": float(max(rss.max(), peak_kernel)),
                "peak_rss_sampled_mb": float(rss.max()),
                "steady_rss_mb": float(np.median(rss[times >= steady_from])),
                "bench_samples_mb": float(own[-1]),
                "steady_rss_drift_mb": drift,
                "steady_rss_slope_mb_per_min": slope,
                "samples": [
                    [round(float(t), 3), round(float(m), 2), round(float(o), 3)]
                    for t, m, o in zip(times, rss, own, strict=True)
                ],
                "samples_columns": ["t_s", "rss_mb", "bench_samples_mb"],
                "sample_interval_s": self.interval_ns / 1e9,
                "steady_from_s": steady_from,
            },
            "cpu": {
                "user_s": user,
                "system_s": system,
                "wall_s": wall_s,
                "share_of_one_core_pct": share,
                "share_of_machine_pct": share / cores if share is not None else None,
                "cores": cores,
            },
        }

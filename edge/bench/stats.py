"""Latency statistics from raw nanosecond samples, the figures TFLite's benchmark_model prints.

Samples are kept as integer nanoseconds from `time.perf_counter_ns` (monotonic, no float rounding)
and only summarised at the end, so the hot loop of a benchmark does nothing but store one int64.
Percentiles use the "lower" method: every reported figure is a latency that really happened,
never an interpolation between two runs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

PERCENTILE_METHOD = "lower"


@dataclass(frozen=True)
class LatencyStats:
    """Summary of one timed section, all in microseconds (count is the number of samples)."""

    count: int
    min_us: float
    median_us: float
    p90_us: float
    p99_us: float
    max_us: float
    mean_us: float
    std_us: float

    @property
    def per_second(self) -> float:
        """Throughput implied by the mean latency (invokes or frames per second)."""
        return 1e6 / self.mean_us if self.mean_us > 0 else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def summarize_ns(samples_ns: np.ndarray) -> LatencyStats | None:
    """Summarise integer-nanosecond samples; None when there are none (a stage that never ran)."""
    arr = np.asarray(samples_ns, dtype=np.int64)
    if arr.size == 0:
        return None
    us = arr.astype(np.float64) / 1e3
    p50, p90, p99 = np.percentile(us, [50, 90, 99], method=PERCENTILE_METHOD)
    return LatencyStats(
        count=int(arr.size),
        min_us=float(us.min()),
        median_us=float(p50),
        p90_us=float(p90),
        p99_us=float(p99),
        max_us=float(us.max()),
        mean_us=float(us.mean()),
        std_us=float(us.std()),
    )


class SampleBuffer:
    """A preallocated int64 array that grows by doubling: appending in a hot loop never allocates
    per sample, and a long soak run is not limited by a fixed size chosen up front."""

    def __init__(self, capacity: int = 4096) -> None:
        self._data = np.empty(max(16, capacity), dtype=np.int64)
        self._n = 0

    def append(self, value_ns: int) -> None:
        if self._n == self._data.size:
            grown = np.empty(self._data.size * 2, dtype=np.int64)
            grown[: self._n] = self._data
            self._data = grown
        self._data[self._n] = value_ns
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        """A view of the samples stored so far."""
        return self._data[: self._n]

    def summary(self) -> LatencyStats | None:
        return summarize_ns(self.values())

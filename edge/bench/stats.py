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
    """int64 samples in fixed-size preallocated chunks: appending in a hot loop never allocates
    per sample, a long soak run is not limited by a size chosen up front, and nothing is ever
    copied or freed while the run lasts, so the benchmark's own memory grows by exactly 8 bytes
    per sample and can be told apart from a leak of the pipeline (see resources.py)."""

    def __init__(self, chunk: int = 65536) -> None:
        self._chunk_size = max(16, chunk)
        self._chunks = [np.empty(self._chunk_size, dtype=np.int64)]
        self._pos = 0  # next free slot in the last chunk
        self._n = 0

    def append(self, value_ns: int) -> None:
        if self._pos == self._chunk_size:
            self._chunks.append(np.empty(self._chunk_size, dtype=np.int64))
            self._pos = 0
        self._chunks[-1][self._pos] = value_ns
        self._pos += 1
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def values(self) -> np.ndarray:
        """The samples stored so far, as one array (a copy when there are several chunks)."""
        if len(self._chunks) == 1:
            return self._chunks[0][: self._pos]
        return np.concatenate([*self._chunks[:-1], self._chunks[-1][: self._pos]])

    def summary(self) -> LatencyStats | None:
        return summarize_ns(self.values())

"""The clock every benchmark uses, and what reading it costs.

Each timed section costs two `perf_counter_ns` calls and one store. `measure_timer_overhead`
times an EMPTY section the same way, many times, so a report can show how much of a per-stage
figure is the measurement itself (tens of nanoseconds here, against stages of microseconds).
"""

from __future__ import annotations

import time

from edge.bench.stats import SampleBuffer

CLOCK_NAME = "time.perf_counter_ns"


def clock_info() -> dict[str, object]:
    """What the OS says about the clock: implementation, resolution, monotonic."""
    info = time.get_clock_info("perf_counter")
    return {
        "clock": CLOCK_NAME,
        "implementation": info.implementation,
        "resolution_ns": info.resolution * 1e9,
        "monotonic": info.monotonic,
    }


def measure_timer_overhead(samples: int = 20_000) -> dict[str, object]:
    """Time an empty timed section `samples` times, exactly as the stages are timed.

    `inside` is what the clock pair adds to every reported figure (the empty section's own
    duration); `per_section_us` is the whole cost of one timed section to the loop around it
    (two clock reads plus storing the sample), from the loop's total time.
    """
    samples = max(1, samples)
    buf = SampleBuffer(samples)
    clock = time.perf_counter_ns
    start = clock()
    for _ in range(samples):
        t0 = clock()
        t1 = clock()
        buf.append(t1 - t0)
    total = clock() - start
    stats = buf.summary()
    assert stats is not None  # samples >= 1
    return {
        "samples": samples,
        "inside": stats.as_dict(),
        "per_section_us": total / samples / 1e3,
    }

"""Counts of timings by bucket, kept the way a Prometheus histogram exposes them.

The coordinators record into these plain records (no prometheus_client objects in the core);
``controller.http.metrics`` turns them into histogram families at scrape time. A histogram,
unlike quantiles over the latest values, adds up across gateways and over any time range
(docs/metrics.md).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

# Seconds late: from a few milliseconds of scheduling jitter to a start that missed by a minute.
START_OFFSET_BOUNDS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                         60.0)


@dataclass
class Histogram:
    bounds: tuple[float, ...]  # upper bounds, ascending; +Inf is implied
    # Observations per bucket, not cumulative; the last one is the +Inf bucket.
    counts: list[int] = field(default_factory=list)
    total: float = 0.0

    def __post_init__(self) -> None:
        if list(self.bounds) != sorted(self.bounds):
            raise ValueError(f"bucket bounds must ascend: {self.bounds}")
        if not self.counts:
            self.counts = [0] * (len(self.bounds) + 1)

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to a bound belongs to that bucket ("le", less or equal).
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at or below it), +Inf last, as Prometheus wants them."""
        counts = list(self.counts)  # one copy: a consistent picture while the core records
        running, result = 0, []
        for bound, count in zip((*self.bounds, float("inf")), counts, strict=True):
            running += count
            result.append((bound, running))
        return result

"""Percentile bootstrap intervals over evaluated expressions, seeded so reruns are identical.

Legend: S samples (evaluated expressions), R resamples.

A metric's per-sample values (S,) are resampled with replacement R times; the interval is the
(1 - level) / 2 and (1 + level) / 2 percentiles of the R resample means, in the metric's own
unit. Means skip NaN (a value TAP-Vid leaves undefined); a resample that drew only NaN values
has no mean and is left out of the percentiles. Bool values count as 0 / 1.

Pass the SAME indices (one :func:`bootstrap_indices` call per set of samples) to every metric of
those samples, and to every method evaluated on them: each resample then holds the same
expressions for all of them, so the intervals are paired and a difference between two methods
is not blurred by resampling them independently.
"""

from __future__ import annotations

import math

import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.retrieval import checked

DEFAULT_LEVEL = 0.95   # a 95% interval
PERCENT = 100.0        # np.percentile takes percentages


def bootstrap_indices(n: int, *, resamples: int, seed: int,
                      ) -> np.ndarray:  # (R, n) int64, R = resamples
    """Resampled sample indices, drawn from ``np.random.default_rng(seed)``. ``resamples`` 0
    gives no rows: every interval is then (nan, nan), reported as unavailable."""
    if n < 0:
        raise ConfigError(f"bootstrap_indices: n must be >= 0, got {n}")
    if resamples < 0:
        raise ConfigError(f"bootstrap_indices: resamples must be >= 0, got {resamples}")
    if n == 0 or resamples == 0:
        return np.zeros((resamples, n), dtype=np.int64)
    rng = np.random.default_rng(seed)
    return rng.integers(0, n, size=(resamples, n), dtype=np.int64)


def summarize(values: np.ndarray,   # (S,) float or bool, NaN = undefined
              indices: np.ndarray,  # (R, S) int from bootstrap_indices
              *,
              level: float = DEFAULT_LEVEL,
              ) -> dict[str, float | int]:
    """{"value": the NaN-skipping mean, "lo", "hi": its percentile interval (NaN when no resample
    has a finite value), "n": the number of finite values}."""
    if not 0.0 < level < 1.0:
        raise ConfigError(f"summarize: level must be in (0, 1), got {level}")
    values, indices = checked("summarize", values=(values, "S"),
                              indices=(indices, "R S", np.int64))
    if indices.size and (indices.min() < 0 or indices.max() >= len(values)):
        raise DataError(f"summarize: indices must lie in [0, {len(values)}), got "
                        f"[{indices.min()}, {indices.max()}]")
    drawn = values[indices]                                          # (R, S)
    finite = np.isfinite(drawn)
    counts = finite.sum(axis=1)
    means = np.divide(np.where(finite, drawn, 0.0).sum(axis=1), counts,
                      out=np.full(counts.shape, math.nan), where=counts > 0)
    means = means[np.isfinite(means)]
    tail = (1.0 - level) / 2.0
    lo, hi = (np.percentile(means, [tail * PERCENT, (1.0 - tail) * PERCENT]) if means.size
              else (math.nan, math.nan))
    kept = values[np.isfinite(values)]
    return {"value": float(kept.mean()) if kept.size else math.nan,
            "lo": float(lo), "hi": float(hi), "n": int(kept.size)}

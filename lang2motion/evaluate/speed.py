"""Wall-clock latency and throughput of a call, measured the way the report states them.

Latency: ``warmup`` untimed calls (first-call allocation, lazy initialisation, autotuning), then
``repeats`` timed calls; p50 and p95 in milliseconds. Throughput: items per second of one batched
call, best of ``repeats`` (the least disturbed by other work on the machine). On CUDA every timed
call is synchronised, so the clock measures the work, not the launch.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lang2motion.errors import ConfigError

PERCENTILES = (50, 95)
MS_PER_S = 1000.0


def _synchronise() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def latency_ms(fn: Callable[[], Any], *, repeats: int, warmup: int) -> dict[str, float]:
    """{"p50": ms, "p95": ms, "mean": ms, "min": ms, "repeats": n} of ``fn()``."""
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"latency: repeats must be >= 1 and warmup >= 0, got {repeats}, "
                          f"{warmup}")
    for _ in range(warmup):
        fn()
    _synchronise()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _synchronise()
        times.append((time.perf_counter() - start) * MS_PER_S)
    p50, p95 = np.percentile(times, PERCENTILES)
    return {"p50": float(p50), "p95": float(p95), "mean": float(np.mean(times)),
            "min": float(np.min(times)), "repeats": float(repeats)}


def throughput(fn: Callable[[], Any], *, items: int, repeats: int, warmup: int = 1) -> float:
    """Items per second of ``fn()`` (which handles ``items`` items), best of ``repeats``."""
    timing = latency_ms(fn, repeats=repeats, warmup=warmup)
    return items / (timing["min"] / MS_PER_S)

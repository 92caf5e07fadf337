"""Random draws shared by the scene and caption generators (always from a passed Generator)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def choose(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def weighted(rng: np.random.Generator, table: dict[Any, float]) -> Any:
    keys = list(table)
    p = np.asarray([table[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]

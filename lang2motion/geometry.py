"""Pixel <-> normalised coordinates (Lang2Motion eq. 3).

Legend: N points, T frames. Coordinates are (x, y) in the last axis.
"""

from __future__ import annotations

import numpy as np


def normalise(points_px: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixels -> [-1, 1]: x' = 2x / W - 1, y' = 2y / H - 1.  points_px: (..., 2)."""
    scale = np.array([2.0 / width, 2.0 / height], dtype=np.float64)
    return (np.asarray(points_px, dtype=np.float64) * scale - 1.0).astype(np.float32)


def denormalise(points_norm: np.ndarray, width: int, height: int) -> np.ndarray:
    """[-1, 1] -> pixels, the inverse of :func:`normalise`.  points_norm: (..., 2)."""
    scale = np.array([width / 2.0, height / 2.0], dtype=np.float64)
    return ((np.asarray(points_norm, dtype=np.float64) + 1.0) * scale).astype(np.float32)

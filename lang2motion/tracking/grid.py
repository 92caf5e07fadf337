"""Place a size x size grid of query points inside an object mask.

Legend: N points (size * size), H height, W width. Points are pixel (x, y) with pixel centres at
integer coordinates (the convention CoTracker and OpenCV use), so a snapped point is a mask pixel.

Recipe (the public re-implementation the paper set-up follows, see mevis-format.md): erode the mask
with a 3x3 kernel so points stay off the object boundary, where trackers drift onto the
background; lay a regular lattice over the eroded mask's bounding box, leaving ``margin`` of the
box free on each side; snap every lattice point to the nearest mask pixel; keep the points distinct.
"""

from __future__ import annotations

import cv2
import numpy as np

from lang2motion.errors import DataError

ERODE_KERNEL = np.ones((3, 3), dtype=np.uint8)
# 4-neighbour cross: a mask pixel whose 4-neighbourhood leaves the mask lies on the boundary.
BOUNDARY_KERNEL = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=np.uint8)


class GridError(DataError):
    """A mask cannot hold the grid (empty, or fewer pixels than points). Callers skip the sample."""


def _erode_for_grid(mask: np.ndarray, iterations: int, points: int) -> np.ndarray:
    """The most eroded version of ``mask`` (at most ``iterations`` steps) holding ``points`` pixels.

    A thin object erodes away entirely; then fewer iterations are tried, down to the raw mask, so
    a small object still gets its grid rather than being dropped.
    """
    raw = mask.astype(np.uint8)
    for step in range(iterations, 0, -1):
        eroded = cv2.erode(raw, ERODE_KERNEL, iterations=step)
        if int(eroded.sum()) >= points:
            return eroded.astype(bool)
    return mask


def _lattice(mask: np.ndarray, size: int, margin: float) -> np.ndarray:
    """(N, 2) float64 regular lattice over the bounding box of ``mask``, row-major (x fastest)."""
    ys, xs = np.nonzero(mask)
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    if size == 1:
        gx = np.array([(x0 + x1) / 2.0])
        gy = np.array([(y0 + y1) / 2.0])
    else:
        gx = np.linspace(x0 + mx, x1 - mx, size)
        gy = np.linspace(y0 + my, y1 - my, size)
    yy, xx = np.meshgrid(gy, gx, indexing="ij")
    return np.stack([xx.ravel(), yy.ravel()], axis=1)


def _nearest(candidates: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Index into ``candidates`` (M, 2) of the nearest one to each target (K, 2); ties: first."""
    d2 = ((targets[:, None, :] - candidates[None, :, :]) ** 2).sum(axis=-1)
    return d2.argmin(axis=1)


def place_grid(mask: np.ndarray, *, size: int, erode_iterations: int, margin: float) -> np.ndarray:
    """Grid of query points inside ``mask``.

    mask: (H, W) bool (or 0/1). Returns (N, 2) float32 pixel (x, y), N = size * size, row-major
    (left to right, then top to bottom), all distinct pixels of the (eroded) mask.
    Raises GridError when the mask is empty or has fewer than N pixels; DataError when it is not
    a 2-D array.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise DataError(f"place_grid: mask must be (H, W), got shape {mask.shape}")
    if size < 1:
        raise DataError(f"place_grid: size must be >= 1, got {size}")
    mask = mask.astype(bool)
    points = size * size
    area = int(mask.sum())
    if area == 0:
        raise GridError("mask is empty")
    if area < points:
        raise GridError(f"mask has {area} pixels, fewer than the {points} grid points")

    target = _erode_for_grid(mask, max(erode_iterations, 0), points)
    lattice = _lattice(target, size, margin)
    # Round half up (not numpy's half-to-even) so the lattice is symmetric and predictable.
    pixel = np.floor(lattice + 0.5).astype(np.int64)
    inside = target[pixel[:, 1], pixel[:, 0]]

    # The nearest mask pixel to a point outside the mask is always a boundary pixel (its
    # neighbour towards the point would otherwise be closer), so search the boundary only.
    if not inside.all():
        interior = cv2.erode(target.astype(np.uint8), BOUNDARY_KERNEL).astype(bool)
        by, bx = np.nonzero(target & ~interior)
        boundary = np.stack([bx, by], axis=1)
        outside = np.flatnonzero(~inside)
        pixel[outside] = boundary[_nearest(boundary.astype(np.float64), lattice[outside])]

    # Two lattice points may snap to the same pixel (thin or concave masks): the later one moves
    # to the nearest mask pixel not yet used, so every point tracks a different location.
    used = np.zeros(target.shape, dtype=bool)
    for i in range(points):
        x, y = int(pixel[i, 0]), int(pixel[i, 1])
        if used[y, x]:
            fy, fx = np.nonzero(target & ~used)
            free = np.stack([fx, fy], axis=1)
            pixel[i] = free[_nearest(free.astype(np.float64), lattice[i:i + 1])[0]]
            x, y = int(pixel[i, 0]), int(pixel[i, 1])
        used[y, x] = True
    return pixel.astype(np.float32)

"""The point-tracker interface of every backend (``make_tracker`` is in track_split.py).

Legend: T frames, N points, H height, W width; pixel (x, y), pixel centres at integers.
Contract of ``Tracker.track``: every point is tracked from its query frame forward; before it a
point holds its query position, not visible; at it, its query position, visible.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from lang2motion.errors import DataError


class Tracker(Protocol):
    """A point tracker: queries (t, x, y) in, per-frame positions and visibility out."""

    name: str

    def track(
        self,
        frames: np.ndarray,   # (T, H, W, 3) uint8 RGB
        queries: np.ndarray,  # (N, 3) float32 (t, x, y): query frame index and pixel position
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns tracks (T, N, 2) float32 pixels and visible (T, N) bool."""
        ...


def start_tracking(
    frames: np.ndarray,   # (T, H, W, 3) uint8 RGB
    queries: np.ndarray,  # (N, 3) (t, x, y), 0 <= t < T and integral
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The preamble of every ``Tracker.track``: validate the inputs, allocate the outputs.

    Returns t_query (N,) int64 (each point's query frame), tracks (T, N, 2) float32 zeros and
    visible (T, N) bool False. With N == 0 these are already the answer.
    """
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"tracker: frames must be (T, H, W, 3) uint8, got {frames.shape} "
                        f"{frames.dtype}")
    if queries.ndim != 2 or queries.shape[1] != 3:
        raise DataError(f"tracker: queries must be (N, 3) (t, x, y), got {queries.shape}")
    if not np.isfinite(queries).all():
        raise DataError("tracker: queries contain NaN or infinite values")
    t = np.asarray(queries[:, 0])
    t_int = np.round(t).astype(np.int64)
    if not np.array_equal(t_int, t):
        raise DataError("tracker: query frame indices (column 0) must be whole numbers")
    num_frames = frames.shape[0]
    bad = (t_int < 0) | (t_int >= num_frames)
    if bad.any():
        raise DataError(f"tracker: query frame {int(t_int[bad][0])} outside the video's "
                        f"{num_frames} frames")
    return (t_int, np.zeros((num_frames, len(queries), 2), dtype=np.float32),
            np.zeros((num_frames, len(queries)), dtype=bool))


def hold_before_query(tracks: np.ndarray, visible: np.ndarray, queries: np.ndarray) -> None:
    """Apply the contract in place to tracks (T, N, 2), visible (T, N); queries (N, 3)."""
    num_frames = tracks.shape[0]
    t_query = np.round(queries[:, 0]).astype(np.int64)
    frame = np.arange(num_frames)[:, None]
    before = frame < t_query[None, :]
    at = frame == t_query[None, :]
    fixed = before | at
    tracks[fixed] = np.broadcast_to(queries[None, :, 1:], tracks.shape)[fixed]
    visible[before] = False
    visible[at] = True


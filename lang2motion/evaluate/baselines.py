"""Trajectory baselines for the generation table: what a model must beat.

Legend: S test samples, S' training samples, T frames, N points, D feature. Coordinates are
normalised to [-1, 1]; every baseline returns (S, T, N, 2) tracks whose frame 0 is the given
grid, so they are scored exactly like generated trajectories.

- static: nothing moves (the ADE of predicting no motion).
- mean motion: the mean displacement from frame 0 over the training samples and points, the
  same for every point of every test sample (a prior with no text).
- nearest caption: the displacements of the training trajectory whose caption embedding is
  most similar (cosine) to the test caption, applied point by point to the test grid. Grids
  are row-major size x size lattices, so point j of one grid corresponds to point j of another.
"""

from __future__ import annotations

import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.retrieval import checked, checked_array, cosine_matrix

GIVEN_FRAME = 0   # the initial grid; displacements are measured from it


def static_tracks(grid: np.ndarray,  # (S, N, 2)
                  frames: int,
                  ) -> np.ndarray:   # (S, T, N, 2) with T = frames
    """The grid repeated over ``frames`` frames."""
    if frames < 1:
        raise ConfigError(f"static_tracks: frames must be >= 1, got {frames}")
    grid = checked_array(grid, "S N 2", name="grid", where="static_tracks")
    return np.repeat(grid[:, None], frames, axis=1)


def displacements(tracks: np.ndarray,  # (S, T, N, 2)
                  ) -> np.ndarray:     # (S, T, N, 2), frame 0 all zero
    """Tracks minus their own first frame."""
    tracks = checked_array(tracks, "S T N 2", name="tracks", where="displacements")
    return tracks - tracks[:, GIVEN_FRAME:GIVEN_FRAME + 1]


def mean_motion(train_tracks: np.ndarray,  # (S', T, N, 2)
                ) -> np.ndarray:           # (T, 2), frame 0 zero
    """Mean displacement from frame 0 over training samples and points."""
    train_tracks = checked_array(train_tracks, "S' T N 2", name="train_tracks",
                                 where="mean_motion")
    if train_tracks.shape[0] == 0 or train_tracks.shape[2] == 0:
        raise DataError(f"mean_motion: no training samples or points (shape "
                        f"{train_tracks.shape})")
    return displacements(train_tracks).mean(axis=(0, 2))


def apply_motion(grid: np.ndarray,    # (S, N, 2)
                 motion: np.ndarray,  # (T, 2) for every point, or (S, T, N, 2) point by point
                 ) -> np.ndarray:     # (S, T, N, 2)
    """The grid moved by ``motion``, displacements from frame 0 (so frame 0 must be zero)."""
    sizes: dict[str, int] = {}
    grid = checked_array(grid, "S N 2", name="grid", where="apply_motion", sizes=sizes)
    motion = np.asarray(motion, dtype=np.float64)
    if motion.ndim == 2:
        motion = checked_array(motion, "T 2", name="motion", where="apply_motion", sizes=sizes)
        motion = motion[None, :, None, :]
    else:
        motion = checked_array(motion, "S T N 2", name="motion", where="apply_motion",
                               sizes=sizes)
    if motion.shape[1] == 0 or np.any(motion[:, GIVEN_FRAME] != 0):
        raise DataError("apply_motion: motion must be displacements from frame 0 (frame 0 all "
                        "zero, at least one frame)")
    return grid[:, None] + motion


def nearest_caption_index(query_text: np.ndarray,  # (S, D)
                          train_text: np.ndarray,  # (S', D)
                          ) -> np.ndarray:         # (S,) int64 into the training samples
    """Index of the most similar training caption embedding (cosine); ties -> lowest index."""
    query_text, train_text = checked("nearest_caption_index", query_text=(query_text, "S D"),
                                     train_text=(train_text, "S' D"))
    if train_text.shape[0] == 0:
        raise DataError("nearest_caption_index: train_text is empty")
    return cosine_matrix(query_text, train_text).argmax(axis=1).astype(np.int64)


def nearest_caption_tracks(grid: np.ndarray,          # (S, N, 2)
                           query_text: np.ndarray,    # (S, D)
                           train_text: np.ndarray,    # (S', D)
                           train_tracks: np.ndarray,  # (S', T, N, 2)
                           ) -> np.ndarray:           # (S, T, N, 2)
    """The nearest training caption's displacements applied point by point to ``grid``."""
    grid, query_text, train_text, train_tracks = checked(
        "nearest_caption_tracks", grid=(grid, "S N 2"), query_text=(query_text, "S D"),
        train_text=(train_text, "S' D"), train_tracks=(train_tracks, "S' T N 2"))
    nearest = nearest_caption_index(query_text, train_text)
    return apply_motion(grid, displacements(train_tracks)[nearest])

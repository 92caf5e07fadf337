"""Trajectory-generation metrics (Lang2Motion Table 2), one value per sample.

Legend: S samples, T frames, N points, D feature. Coordinates are (x, y) normalised to [-1, 1]
by the frame width and height; frame 0 is the given initial grid, so the model predicts frames
1 .. T-1 only.

- ADE: mean over points and frames 1 .. T-1 of the Euclidean distance between the generated
  and the ground-truth position (frame 0 is given and would only dilute it); FDE: the same at
  the last frame. Both in normalised units; multiply by :data:`PIXELS_PER_UNIT` for pixels of a
  256 x 256 frame (each axis rescaled to 256 px, as TAP-Vid does). Lower is better.
- smoothness = 1 - mean ||dv_t||, v_t = p_{t+1} - p_t, dv_t = v_{t+1} - v_t, the mean over points
  and the T - 2 velocity changes (the paper writes 1/(T-1)), in normalised units; 1 = constant
  velocity, needs T >= 3. ``smoothness_px`` measures dv in pixels of the 256 x 256 frame, beside
  the normalised value as ADE is: normalised, every change is tiny and the value sits near 1.
- AJ, OA (and < delta^x_avg): TAP-Vid metrics of a generated trajectory against the ground
  truth, computed by :func:`lang2motion.tracking.metrics.tapvid_metrics` with every point
  queried at frame 0 ("first" mode: frames 1 .. T-1 evaluated) and every generated point
  visible, in [0, 1]. So OA is the fraction of evaluated truth that is visible (it describes the
  ground truth, not the model); where the truth is never visible after frame 0, AJ is 0 (every
  predicted point a false positive) and < delta^x_avg NaN.
- CLIP similarity: row-wise cosine between the encoder latent of a generated trajectory and the
  CLIP text embedding of its prompt, in [-1, 1]; 0 for a zero vector.
"""

from __future__ import annotations

import numpy as np

from lang2motion.errors import DataError
from lang2motion.evaluate.retrieval import checked, checked_array, unit_rows
from lang2motion.geometry import denormalise
from lang2motion.tracking.metrics import METRIC_FRAME_SIZE, tapvid_metrics

NORMALISED_SPAN = 2.0                                  # [-1, 1] is two units across the frame
PIXELS_PER_UNIT = METRIC_FRAME_SIZE / NORMALISED_SPAN  # 128 px of a 256 x 256 frame per unit
GIVEN_FRAMES = 1                                       # frame 0, the initial grid, is an input
MIN_SMOOTHNESS_FRAMES = 3                              # two velocities make one change
TAPVID_QUERY_FRAME = 0                                 # every point is queried on the grid
TAPVID_MODE = "first"
TAPVID_KEYS = ("average_jaccard", "occlusion_accuracy", "average_pts_within_thresh")


def _tracks_pair(pred: object, truth: object, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Both (S, T, N, 2) float64 of one shape, with at least one predicted frame."""
    pred, truth = checked(where, pred=(pred, "S T N 2"), truth=(truth, "S T N 2"))
    if pred.shape[1] <= GIVEN_FRAMES:
        raise DataError(f"{where}: tracks have {pred.shape[1]} frame(s); frame 0 is given, so at "
                        f"least {GIVEN_FRAMES + 1} are needed")
    return pred, truth


def frame_errors(pred: np.ndarray,   # (S, T, N, 2)
                 truth: np.ndarray,  # (S, T, N, 2)
                 ) -> np.ndarray:    # (S, T) float64, normalised units
    pred, truth = checked("frame_errors", pred=(pred, "S T N 2"), truth=(truth, "S T N 2"))
    return np.linalg.norm(pred - truth, axis=-1).mean(axis=-1)


def ade(pred: np.ndarray,   # (S, T, N, 2)
        truth: np.ndarray,  # (S, T, N, 2)
        ) -> np.ndarray:    # (S,) float64, normalised units
    pred, truth = _tracks_pair(pred, truth, "ade")
    return frame_errors(pred, truth)[:, GIVEN_FRAMES:].mean(axis=1)


def fde(pred: np.ndarray,   # (S, T, N, 2)
        truth: np.ndarray,  # (S, T, N, 2)
        ) -> np.ndarray:    # (S,) float64, normalised units
    pred, truth = _tracks_pair(pred, truth, "fde")
    return frame_errors(pred[:, -1:], truth[:, -1:])[:, 0]


def smoothness(tracks: np.ndarray,  # (S, T, N, 2)
               *, scale: float = 1.0,
               ) -> np.ndarray:     # (S,) float64, 1 - (normalised units x scale)
    """1 - the mean norm of the frame-to-frame velocity change (see the module doc); the change
    is measured in normalised units times ``scale`` (:data:`PIXELS_PER_UNIT`: pixels)."""
    tracks = checked_array(tracks, "S T N 2", name="tracks", where="smoothness")
    if tracks.shape[1] < MIN_SMOOTHNESS_FRAMES:
        raise DataError(f"smoothness: tracks have {tracks.shape[1]} frame(s), at least "
                        f"{MIN_SMOOTHNESS_FRAMES} are needed for one velocity change")
    velocity_change = np.diff(tracks, n=2, axis=1)                    # (S, T-2, N, 2)
    return 1.0 - scale * np.linalg.norm(velocity_change, axis=-1).mean(axis=(1, 2))


def smoothness_px(tracks: np.ndarray,  # (S, T, N, 2)
                  ) -> np.ndarray:     # (S,) float64, 1 - px of a 256 x 256 frame
    return smoothness(tracks, scale=PIXELS_PER_UNIT)


def tapvid_against_truth(pred: np.ndarray,           # (S, T, N, 2) generated, all visible
                         truth: np.ndarray,          # (S, T, N, 2)
                         truth_visible: np.ndarray,  # (S, T, N) bool
                         ) -> dict[str, np.ndarray]:  # TAPVID_KEYS -> (S,) float64
    """AJ, OA and < delta^x_avg of each generated trajectory (see the module doc; may be NaN)."""
    pred, truth = _tracks_pair(pred, truth, "tapvid_against_truth")
    samples, frames, points, _ = truth.shape
    truth_visible = checked_array(truth_visible, "S T N", name="truth_visible", dtype=bool,
                                  where="tapvid_against_truth",
                                  sizes={"S": samples, "T": frames, "N": points})
    size = METRIC_FRAME_SIZE
    pred_px = denormalise(pred, size, size).transpose(0, 2, 1, 3)     # (S, N, T, 2)
    truth_px = denormalise(truth, size, size).transpose(0, 2, 1, 3)
    occluded = ~truth_visible.transpose(0, 2, 1)                      # (S, N, T)
    never_occluded = np.zeros((points, frames), dtype=bool)
    query = np.full(points, TAPVID_QUERY_FRAME, dtype=np.int64)
    out = {key: np.empty(samples, dtype=np.float64) for key in TAPVID_KEYS}
    for sample in range(samples):
        metrics = tapvid_metrics(truth_px[sample], occluded[sample], pred_px[sample],
                                 never_occluded, query, frame_size=(size, size),
                                 mode=TAPVID_MODE)
        for key in TAPVID_KEYS:
            out[key][sample] = metrics[key]
    return out


def cosine(a: np.ndarray,  # (S, D)
           b: np.ndarray,  # (S, D)
           ) -> np.ndarray:  # (S,) float64
    a, b = checked("cosine", a=(a, "S D"), b=(b, "S D"))
    return (unit_rows(a) * unit_rows(b)).sum(axis=1)

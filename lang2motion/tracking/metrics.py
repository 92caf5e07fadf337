"""TAP-Vid point-tracking metrics: occlusion accuracy, < delta^x, Jaccard at 1..16 px, AJ.

Legend: N points, T frames. Definitions follow TAP-Vid's ``compute_tapvid_metrics``
(google-deepmind/tapnet ``evaluation_datasets.py``, copied in co-tracker's
``cotracker/evaluation/core/eval_utils.py``): coordinates are first rescaled to a 256 x 256
frame; a prediction is within d when its squared distance is strictly below d^2; "first" mode
evaluates the frames strictly after each point's query frame, "strided" mode every frame but the
query frame. Counts are pooled over all points and evaluated frames of the call (one video), as
in the reference.

Undefined ratios (0/0, e.g. no visible ground truth among the evaluated frames) are NaN, not a
made-up 0 or 1, so that a mean over videos can skip them (:func:`mean_metrics` counts them).
"""

from __future__ import annotations

import math

import numpy as np

from lang2motion.errors import DataError

THRESHOLDS_PX = (1, 2, 4, 8, 16)   # TAP-Vid distance thresholds in 256 x 256 pixels
METRIC_FRAME_SIZE = 256            # TAP-Vid evaluates in a 256 x 256 frame
QUERY_MODES = ("first", "strided")

METRIC_KEYS = (("occlusion_accuracy",) + tuple(f"pts_within_{d}" for d in THRESHOLDS_PX)
               + tuple(f"jaccard_{d}" for d in THRESHOLDS_PX)
               + ("average_jaccard", "average_pts_within_thresh"))


def _ratio(num: int, den: int) -> float:
    return float(num) / float(den) if den > 0 else math.nan


def evaluation_mask(query_frames: np.ndarray, num_frames: int, *, mode: str) -> np.ndarray:
    """(N, T) bool: the (point, frame) pairs a metric counts. query_frames: (N,) int."""
    if mode not in QUERY_MODES:
        raise ValueError(f"tapvid mode must be one of {QUERY_MODES}, got {mode!r}")
    frame = np.arange(num_frames)[None, :]
    query = np.asarray(query_frames).astype(np.int64)[:, None]
    return frame > query if mode == "first" else frame != query


def tapvid_metrics(
    gt: np.ndarray,             # (N, T, 2) ground-truth (x, y)
    gt_occluded: np.ndarray,    # (N, T) bool, True where the ground truth is not visible
    pred: np.ndarray,           # (N, T, 2) predicted (x, y), same units as gt
    pred_occluded: np.ndarray,  # (N, T) bool
    query_frames: np.ndarray,   # (N,) int, frame each point was queried at
    *,
    frame_size: tuple[int, int],
    mode: str = "first",
) -> dict[str, float]:
    """TAP-Vid metrics of one video. ``frame_size`` is (W, H) of the coordinates given.

    Returns floats in [0, 1] (or NaN, see the module doc) under the keys of ``METRIC_KEYS``;
    ``average_pts_within_thresh`` is < delta^x_avg.
    """
    gt = np.asarray(gt, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    gt_occluded = np.asarray(gt_occluded, dtype=bool)
    pred_occluded = np.asarray(pred_occluded, dtype=bool)
    if gt.ndim != 3 or gt.shape[-1] != 2 or pred.shape != gt.shape:
        raise DataError(f"tapvid_metrics: gt {gt.shape} and pred {pred.shape} must both be "
                        "(N, T, 2)")
    if gt_occluded.shape != gt.shape[:2] or pred_occluded.shape != gt.shape[:2]:
        raise DataError(f"tapvid_metrics: occlusion flags {gt_occluded.shape} / "
                        f"{pred_occluded.shape} must be (N, T) = {gt.shape[:2]}")
    query_frames = np.asarray(query_frames)
    if query_frames.shape != gt.shape[:1]:
        raise DataError(f"tapvid_metrics: query_frames {query_frames.shape} must be (N,) = "
                        f"({gt.shape[0]},)")
    width, height = frame_size
    scale = np.array([METRIC_FRAME_SIZE / width, METRIC_FRAME_SIZE / height])
    dist2 = (((pred - gt) * scale) ** 2).sum(axis=-1)              # (N, T)

    evaluated = evaluation_mask(query_frames, gt.shape[1], mode=mode)
    gt_visible = ~gt_occluded
    pred_visible = ~pred_occluded
    num_evaluated = int(evaluated.sum())
    num_visible = int((gt_visible & evaluated).sum())

    out = {"occlusion_accuracy": _ratio(int(((pred_occluded == gt_occluded) & evaluated).sum()),
                                        num_evaluated)}
    within_all, jaccard_all = [], []
    for d in THRESHOLDS_PX:
        within = dist2 < d * d
        correct = within & gt_visible & evaluated
        true_pos = int((correct & pred_visible).sum())
        false_pos = int((pred_visible & (gt_occluded | ~within) & evaluated).sum())
        out[f"pts_within_{d}"] = _ratio(int(correct.sum()), num_visible)
        out[f"jaccard_{d}"] = _ratio(true_pos, num_visible + false_pos)
        within_all.append(out[f"pts_within_{d}"])
        jaccard_all.append(out[f"jaccard_{d}"])
    # A plain mean: NaN in, NaN out (all thresholds share their denominator's emptiness).
    out["average_jaccard"] = float(sum(jaccard_all) / len(jaccard_all))
    out["average_pts_within_thresh"] = float(sum(within_all) / len(within_all))
    return {key: out[key] for key in METRIC_KEYS}


def mean_metrics(per_video: list[dict[str, float]]) -> dict[str, float]:
    """Mean of each metric over videos, skipping NaN (undefined) values.

    Adds ``videos`` (how many were given) and ``undefined_<key>`` for every key with NaN values.
    """
    out: dict[str, float] = {"videos": float(len(per_video))}
    for key in METRIC_KEYS:
        values = np.array([m[key] for m in per_video], dtype=np.float64)
        defined = values[np.isfinite(values)]
        out[key] = float(defined.mean()) if defined.size else math.nan
        if defined.size < values.size:
            out[f"undefined_{key}"] = float(values.size - defined.size)
    return out

"""TAP-Vid metrics: hand-computed golden cases and agreement with the co-tracker reference."""

import math
import warnings

import numpy as np
import pytest

from lang2motion.tracking.metrics import METRIC_KEYS, mean_metrics, tapvid_metrics

SIZE_256 = (256, 256)


def _golden_case():
    """2 points x 4 frames in a 256 x 256 frame (see the distances in the comments)."""
    gt = np.zeros((2, 4, 2))
    gt[0] = (10, 10)
    gt[1] = (100, 100)
    gt_occ = np.array([[False, False, True, False],
                       [True, False, False, False]])
    pred = gt.copy()
    pred[0, 1] = (10.5, 10)      # 0.5 px
    pred[0, 2] = (50, 50)        # gt occluded here
    pred[0, 3] = (13, 10)        # 3 px
    pred[1, 2] = (100, 101.5)    # 1.5 px
    pred[1, 3] = (100, 120)      # 20 px, predicted occluded
    pred_occ = np.array([[False, False, False, False],
                         [False, False, False, True]])
    query = np.array([0, 1])
    return gt, gt_occ, pred, pred_occ, query


def test_golden_first_mode():
    m = tapvid_metrics(*_golden_case(), frame_size=SIZE_256, mode="first")
    assert list(m) == list(METRIC_KEYS)
    # evaluated: p0 frames 1..3, p1 frames 2..3; agreement p0: f1 f3, p1: f2 -> 3 / 5
    assert m["occlusion_accuracy"] == pytest.approx(3 / 5)
    # 4 visible evaluated (p0f1 0.5, p0f3 3, p1f2 1.5, p1f3 20)
    assert m["pts_within_1"] == pytest.approx(1 / 4)
    assert m["pts_within_2"] == pytest.approx(2 / 4)
    for d in (4, 8, 16):
        assert m[f"pts_within_{d}"] == pytest.approx(3 / 4)
    # FP at d=1: p0f2 (gt occluded), p0f3, p1f2 (too far); TP p0f1
    assert m["jaccard_1"] == pytest.approx(1 / (4 + 3))
    assert m["jaccard_2"] == pytest.approx(2 / (4 + 2))
    for d in (4, 8, 16):
        assert m[f"jaccard_{d}"] == pytest.approx(3 / (4 + 1))
    assert m["average_pts_within_thresh"] == pytest.approx((1 / 4 + 2 / 4 + 3 * 3 / 4) / 5)
    assert m["average_jaccard"] == pytest.approx((1 / 7 + 1 / 3 + 3 * 3 / 5) / 5)


def test_golden_strided_mode_counts_frames_before_the_query():
    gt, gt_occ, pred, pred_occ, query = _golden_case()
    m = tapvid_metrics(gt, gt_occ, pred, pred_occ, query, frame_size=SIZE_256, mode="strided")
    # adds p0 nothing (query 0), p1 frame 0: gt occluded, predicted visible -> OA miss, one FP
    assert m["occlusion_accuracy"] == pytest.approx(3 / 6)
    assert m["pts_within_1"] == pytest.approx(1 / 4)
    assert m["jaccard_1"] == pytest.approx(1 / (4 + 4))
    assert m["jaccard_16"] == pytest.approx(3 / (4 + 2))


def test_threshold_is_strict():
    gt = np.zeros((1, 2, 2))
    pred = gt.copy()
    pred[0, 1] = (2.0, 0.0)          # exactly 2 px
    occ = np.zeros((1, 2), dtype=bool)
    m = tapvid_metrics(gt, occ, pred, occ, np.array([0]), frame_size=SIZE_256)
    assert m["pts_within_2"] == 0.0
    assert m["pts_within_4"] == 1.0


def test_coordinates_are_rescaled_to_256():
    gt = np.zeros((3, 2, 2))
    pred = gt.copy()
    pred[0, 1] = (3.0, 0.0)      # x * 256/512 -> 1.5
    pred[1, 1] = (0.0, 0.75)     # y * 256/128 -> 1.5
    pred[2, 1] = (1.5, 0.0)      # -> 0.75
    occ = np.zeros((3, 2), dtype=bool)
    m = tapvid_metrics(gt, occ, pred, occ, np.zeros(3, dtype=int), frame_size=(512, 128))
    assert m["pts_within_1"] == pytest.approx(1 / 3)
    assert m["pts_within_2"] == pytest.approx(1.0)


def test_no_visible_ground_truth_gives_nan_without_warnings():
    gt = np.zeros((2, 3, 2))
    occ = np.ones((2, 3), dtype=bool)
    pred_occ = occ.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = tapvid_metrics(gt, occ, gt, pred_occ, np.zeros(2, dtype=int), frame_size=SIZE_256)
        assert m["occlusion_accuracy"] == 1.0
        assert math.isnan(m["pts_within_1"]) and math.isnan(m["jaccard_1"])
        pred_occ[0, 2] = False     # one false positive: Jaccard is defined and 0
        m2 = tapvid_metrics(gt, occ, gt, pred_occ, np.zeros(2, dtype=int), frame_size=SIZE_256)
    assert m2["jaccard_4"] == 0.0 and m2["average_jaccard"] == 0.0
    assert math.isnan(m2["average_pts_within_thresh"])
    mean = mean_metrics([m2, {k: 0.5 for k in METRIC_KEYS}])
    assert mean["average_pts_within_thresh"] == 0.5
    assert mean["undefined_average_pts_within_thresh"] == 1.0
    assert mean["average_jaccard"] == pytest.approx(0.25)


def _reference_tapvid(query_points, gt_occluded, gt_tracks, pred_occluded, pred_tracks, mode):
    """A direct transcription of co-tracker's compute_tapvid_metrics (the version with the fix
    for co-tracker issue #20: "first" evaluates the frames after the query frame)."""
    metrics = {}
    eye = np.eye(gt_tracks.shape[2], dtype=np.int32)
    if mode == "first":
        query_frame_to_eval_frames = np.cumsum(eye, axis=1) - eye
    else:
        query_frame_to_eval_frames = 1 - eye
    query_frame = np.round(query_points[..., 0]).astype(np.int32)
    evaluation_points = query_frame_to_eval_frames[query_frame] > 0
    metrics["occlusion_accuracy"] = (np.sum(np.equal(pred_occluded, gt_occluded)
                                            & evaluation_points, axis=(1, 2))
                                     / np.sum(evaluation_points))
    visible = np.logical_not(gt_occluded)
    pred_visible = np.logical_not(pred_occluded)
    all_frac, all_jac = [], []
    for thresh in [1, 2, 4, 8, 16]:
        within_dist = np.sum(np.square(pred_tracks - gt_tracks), axis=-1) < np.square(thresh)
        is_correct = np.logical_and(within_dist, visible)
        count_correct = np.sum(is_correct & evaluation_points, axis=(1, 2))
        count_visible = np.sum(visible & evaluation_points, axis=(1, 2))
        frac = count_correct / count_visible
        metrics[f"pts_within_{thresh}"] = frac
        all_frac.append(frac)
        tp = np.sum(is_correct & pred_visible & evaluation_points, axis=(1, 2))
        gt_pos = np.sum(visible & evaluation_points, axis=(1, 2))
        fp = ((~visible) & pred_visible) | ((~within_dist) & pred_visible)
        fp = np.sum(fp & evaluation_points, axis=(1, 2))
        jac = tp / (gt_pos + fp)
        metrics[f"jaccard_{thresh}"] = jac
        all_jac.append(jac)
    metrics["average_jaccard"] = np.mean(np.stack(all_jac, axis=1), axis=1)
    metrics["average_pts_within_thresh"] = np.mean(np.stack(all_frac, axis=1), axis=1)
    return metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_cotracker_reference_on_random_data(seed):
    rng = np.random.default_rng(seed)
    n, t, width, height = 20, 12, 320, 200
    # TAP-Vid queries a point at its first visible frame; do the same here
    query = rng.integers(0, t - 1, size=n)
    gt_occ = rng.random((n, t)) < 0.3
    gt_occ[np.arange(t)[None, :] < query[:, None]] = True
    gt_occ[np.arange(n), query] = False
    gt = rng.uniform(0, [width, height], size=(n, t, 2))
    pred = gt + rng.normal(scale=6.0, size=gt.shape)
    pred_occ = rng.random((n, t)) < 0.3
    ours = tapvid_metrics(gt, gt_occ, pred, pred_occ, query, frame_size=(width, height))
    scale = np.array([256 / width, 256 / height])
    qp = np.stack([query, np.zeros(n), np.zeros(n)], axis=1)[None]
    ref = _reference_tapvid(qp, gt_occ[None], (gt * scale)[None], pred_occ[None],
                            (pred * scale)[None], "first")
    assert set(ref) == set(ours)
    for key, value in ref.items():
        assert ours[key] == pytest.approx(float(value[0]), abs=1e-12), key
    ours_s = tapvid_metrics(gt, gt_occ, pred, pred_occ, query, frame_size=(width, height),
                            mode="strided")
    ref_s = _reference_tapvid(qp, gt_occ[None], (gt * scale)[None], pred_occ[None],
                              (pred * scale)[None], "strided")
    for key, value in ref_s.items():
        assert ours_s[key] == pytest.approx(float(value[0]), abs=1e-12), key


def test_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match=r"\(N, T, 2\)"):
        tapvid_metrics(np.zeros((2, 3, 2)), np.zeros((2, 3), bool), np.zeros((2, 4, 2)),
                       np.zeros((2, 3), bool), np.zeros(2, int), frame_size=SIZE_256)

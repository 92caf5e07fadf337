"""Generation metrics: ADE / FDE / smoothness / TAP-Vid / cosine against hand-computed cases."""

import math
import warnings

import numpy as np
import pytest

from lang2motion.errors import DataError
from lang2motion.evaluate.generation import (
    PIXELS_PER_UNIT,
    ade,
    cosine,
    fde,
    frame_errors,
    smoothness,
    smoothness_px,
    tapvid_against_truth,
)


def test_pixels_per_unit():
    assert PIXELS_PER_UNIT == 128     # [-1, 1] (2 units) spans 256 px


def test_ade_fde_two_frames_in_units_and_pixels():
    truth = np.zeros((2, 2, 3, 2))                # S=2, T=2, N=3
    pred = truth.copy()
    pred[0, 1] += (0.03, 0.04)                    # every point 0.05 off at frame 1
    pred[1, 1, 0] += (0.3, 0.4)                   # one point of three 0.5 off -> 0.5 / 3
    np.testing.assert_allclose(ade(pred, truth), [0.05, 0.5 / 3])
    np.testing.assert_allclose(fde(pred, truth), [0.05, 0.5 / 3])
    # 0.05 * 128 = 6.4 px, (0.5 / 3) * 128 = 21.33 px
    np.testing.assert_allclose(ade(pred, truth) * PIXELS_PER_UNIT, [6.4, 64 / 3])


def test_ade_excludes_frame_0_and_fde_is_the_last_frame():
    truth = np.zeros((1, 3, 2, 2))                # T=3, N=2
    pred = truth.copy()
    pred[0, 0] += (1.0, 0.0)                      # frame 0 off by 1 (ignored by ADE)
    pred[0, 1, 0] += (0.1, 0.0)                   # frame 1: errors 0.1, 0 -> 0.05
    pred[0, 2] += (0.0, 0.2)                      # frame 2: both 0.2 -> 0.2
    np.testing.assert_allclose(frame_errors(pred, truth), [[1.0, 0.05, 0.2]])
    np.testing.assert_allclose(ade(pred, truth), [(0.05 + 0.2) / 2])     # 0.125 = 16 px
    np.testing.assert_allclose(fde(pred, truth), [0.2])                  # 25.6 px
    np.testing.assert_allclose(ade(pred, truth) * PIXELS_PER_UNIT, [16.0])
    np.testing.assert_allclose(fde(pred, truth) * PIXELS_PER_UNIT, [25.6])


def test_smoothness_by_hand():
    tracks = np.zeros((3, 3, 2, 2))               # S=3, T=3, N=2
    tracks[0, :, :, 0] = np.array([0.0, 0.1, 0.3])[:, None]   # v 0.1, 0.2: |dv| 0.1 -> 0.9
    tracks[1, :, :, 1] = np.array([0.0, 0.2, 0.4])[:, None]   # constant velocity -> 1.0
    tracks[2, 2, 0] = (0.3, 0.4)                  # point 0: v 0, (0.3, 0.4): |dv| 0.5
    # sample 2, point 1 never moves (|dv| 0): mean over points 0.25 -> 0.75
    np.testing.assert_allclose(smoothness(tracks), [0.9, 1.0, 0.75])
    four = np.zeros((1, 4, 1, 2))
    four[0, :, 0, 0] = [0.0, 0.0, 0.1, 0.1]       # v 0, 0.1, 0: |dv| 0.1, 0.1 -> mean 0.1
    np.testing.assert_allclose(smoothness(four), [0.9])
    with pytest.raises(DataError, match="at least 3"):
        smoothness(np.zeros((1, 2, 1, 2)))


def test_smoothness_in_pixels_of_a_256_frame_by_hand():
    tracks = np.zeros((2, 3, 1, 2))               # S=2, T=3, N=1
    tracks[0, :, 0, 0] = [0.0, 0.1, 0.3]          # |dv| 0.1 units = 12.8 px -> 1 - 12.8
    tracks[1, :, 0, 1] = [0.0, 1 / 128, 3 / 128]  # |dv| 1/128 unit = 1 px -> 0
    np.testing.assert_allclose(smoothness_px(tracks), [-11.8, 0.0], atol=1e-12)
    np.testing.assert_allclose(smoothness(tracks), [0.9, 1 - 1 / 128])
    still = np.zeros((1, 5, 3, 2))                # constant velocity: 1 in both units
    still[0, :, :, 0] = np.linspace(0, 0.4, 5)[:, None]
    np.testing.assert_allclose(smoothness_px(still), [1.0])


def _grid_tracks(frames=3, points=2):
    tracks = np.zeros((1, frames, points, 2))
    tracks[0, :, :, 0] = np.linspace(-0.5, 0.5, frames)[:, None]
    tracks[0, :, 1, 1] = 0.25
    return tracks


def test_tapvid_perfect_prediction():
    truth = _grid_tracks()
    out = tapvid_against_truth(truth.copy(), truth, np.ones((1, 3, 2), dtype=bool))
    assert out["average_jaccard"].shape == (1,)
    assert out["average_jaccard"][0] == pytest.approx(1.0)
    assert out["occlusion_accuracy"][0] == pytest.approx(1.0)
    assert out["average_pts_within_thresh"][0] == pytest.approx(1.0)


def test_tapvid_twenty_pixels_off_and_three_pixels_off():
    truth = _grid_tracks()
    visible = np.ones((1, 3, 2), dtype=bool)
    far = truth.copy()
    far[:, 1:, :, 0] += 20 / 128                  # 20 px of 256: beyond every threshold (<= 16)
    out = tapvid_against_truth(far, truth, visible)
    assert out["average_jaccard"][0] == pytest.approx(0.0)
    assert out["average_pts_within_thresh"][0] == pytest.approx(0.0)
    assert out["occlusion_accuracy"][0] == pytest.approx(1.0)   # both visible everywhere
    near = truth.copy()
    near[:, 1:, :, 1] += 3 / 128                  # 3 px: within 4, 8, 16, not 1, 2 -> 3 / 5
    out = tapvid_against_truth(near, truth, visible)
    assert out["average_jaccard"][0] == pytest.approx(3 / 5)
    assert out["average_pts_within_thresh"][0] == pytest.approx(3 / 5)


def test_tapvid_occluded_truth_and_undefined_values():
    truth = _grid_tracks(frames=2)                # evaluated: frame 1 of points 0 and 1
    visible = np.ones((2, 2, 2), dtype=bool)
    visible[0, 1, 1] = False                      # sample 0: point 1 hidden at frame 1
    visible[1, 1, :] = False                      # sample 1: nothing visible after frame 0
    truth = np.concatenate([truth, truth])
    out = tapvid_against_truth(truth.copy(), truth, visible)
    # sample 0: OA 1/2 (prediction always visible); TP 1, one visible truth, one FP -> J = 1/2
    assert out["occlusion_accuracy"][0] == pytest.approx(0.5)
    assert out["average_jaccard"][0] == pytest.approx(0.5)
    assert out["average_pts_within_thresh"][0] == pytest.approx(1.0)
    # sample 1: OA 0; J = 0 / (0 + 2 FP) = 0; within-thresh 0 / 0 is undefined (NaN)
    assert out["occlusion_accuracy"][1] == pytest.approx(0.0)
    assert out["average_jaccard"][1] == pytest.approx(0.0)
    assert math.isnan(out["average_pts_within_thresh"][1])


def test_cosine_rowwise():
    a = np.array([[3.0, 4.0], [1.0, 0.0], [0.0, 0.0], [1.0, 1.0]])
    b = np.array([[6.0, 8.0], [0.0, 1.0], [1.0, 1.0], [-2.0, -2.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")            # the zero row must not divide by zero
        np.testing.assert_allclose(cosine(a, b), [1.0, 0.0, 0.0, -1.0], atol=1e-12)


def test_shape_errors():
    with pytest.raises(DataError, match=r"truth has shape \(1, 3, 2, 2\), expected "
                                        r"\(S, T, N, 2\) = \(1, 2, 2, 2\)"):
        ade(np.zeros((1, 2, 2, 2)), np.zeros((1, 3, 2, 2)))
    with pytest.raises(DataError, match="pred has shape"):
        fde(np.zeros((1, 2, 2, 3)), np.zeros((1, 2, 2, 3)))
    with pytest.raises(DataError, match="frame 0 is given"):
        ade(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 2, 2)))
    with pytest.raises(DataError, match="truth_visible has shape"):
        tapvid_against_truth(np.zeros((1, 3, 2, 2)), np.zeros((1, 3, 2, 2)),
                             np.ones((1, 2, 3), dtype=bool))
    with pytest.raises(DataError, match="b has shape"):
        cosine(np.ones((2, 3)), np.ones((2, 4)))

"""Trajectory baselines: static, mean motion and nearest caption against hand-made tracks."""

import numpy as np
import pytest

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.baselines import (
    apply_motion,
    displacements,
    mean_motion,
    nearest_caption_index,
    nearest_caption_tracks,
    static_tracks,
)

GRID = np.array([[[-0.5, -0.5], [0.5, -0.5]]])      # (S=1, N=2, 2)


def test_static_tracks_repeat_the_grid():
    tracks = static_tracks(GRID, 3)
    assert tracks.shape == (1, 3, 2, 2)
    for frame in range(3):
        np.testing.assert_array_equal(tracks[0, frame], GRID[0])
    with pytest.raises(ConfigError):
        static_tracks(GRID, 0)


def test_displacements_subtract_the_first_frame():
    tracks = np.array([[[[0.2, 0.1]], [[0.5, 0.1]], [[0.2, -0.3]]]])   # (1, 3, 1, 2)
    expected = np.array([[[[0.0, 0.0]], [[0.3, 0.0]], [[0.0, -0.4]]]])
    np.testing.assert_allclose(displacements(tracks), expected, atol=1e-12)


def test_mean_motion_opposite_motions_cancel():
    right = np.zeros((1, 3, 2, 2))
    right[0, :, :, 0] = np.array([0.0, 0.1, 0.2])[:, None]
    left = -right + 0.3                              # starts elsewhere, moves -0.1 per frame
    np.testing.assert_allclose(mean_motion(np.concatenate([right, left])), np.zeros((3, 2)),
                               atol=1e-12)


def test_mean_motion_averages_samples_and_points():
    tracks = np.zeros((2, 2, 2, 2))                  # S'=2, T=2, N=2
    tracks[0, 1, :] = (0.2, 0.0)                     # sample 0 moves (0.2, 0)
    tracks[1, 1, 0] = (0.0, 0.8)                     # sample 1: one point (0, 0.8), one still
    # mean of (0.2, 0), (0.2, 0), (0, 0.8), (0, 0) = (0.1, 0.2)
    np.testing.assert_allclose(mean_motion(tracks), [[0.0, 0.0], [0.1, 0.2]])


def test_apply_motion_global_and_per_point():
    motion = np.array([[0.0, 0.0], [0.1, 0.0], [0.1, 0.2]])           # (T=3, 2)
    out = apply_motion(GRID, motion)
    assert out.shape == (1, 3, 2, 2)
    np.testing.assert_allclose(out[0, 2], [[-0.4, -0.3], [0.6, -0.3]])
    np.testing.assert_array_equal(out[:, 0], GRID)
    per_point = np.zeros((1, 2, 2, 2))
    per_point[0, 1, 1] = (0.0, -0.25)                # only point 1 moves, at frame 1
    np.testing.assert_allclose(apply_motion(GRID, per_point)[0, 1],
                               [[-0.5, -0.5], [0.5, -0.75]])
    with pytest.raises(DataError, match="frame 0"):
        apply_motion(GRID, motion + 0.1)
    with pytest.raises(DataError, match="motion has shape"):
        apply_motion(GRID, np.zeros((2, 3, 2, 2)))   # 3 points for a 2-point grid


def test_nearest_caption_index_known_neighbour_and_ties():
    train = np.array([[0.0, 1.0], [2.0, 0.1], [1.0, 0.0]])
    # query (1, 0.1): cos to (2, 0.1) = 2.01 / (1.00499 * 2.00250) = 0.99876,
    # cos to (1, 0) = 1 / 1.00499 = 0.99504, cos to (0, 1) = 0.0995 -> index 1
    assert nearest_caption_index(np.array([[1.0, 0.1]]), train).tolist() == [1]
    # (1, 0): cos 1 with item 2 (0.99875 with item 1) -> 2; (0, 3): cos 1 with item 0 -> 0
    assert nearest_caption_index(np.array([[1.0, 0.0], [0.0, 3.0]]), train).tolist() == [2, 0]
    tie = np.array([[0.0, 1.0], [2.0, 0.0], [1.0, 0.0]])   # items 1 and 2 both cos 1
    assert nearest_caption_index(np.array([[5.0, 0.0]]), tie).tolist() == [1]
    with pytest.raises(DataError, match="train_text has shape"):
        nearest_caption_index(np.ones((1, 2)), np.ones((3, 4)))


def test_nearest_caption_tracks_moves_the_test_grid_by_the_neighbours_displacement():
    train_text = np.array([[1.0, 0.0], [0.0, 1.0]])
    train_tracks = np.zeros((2, 2, 2, 2))            # S'=2, T=2, N=2
    train_tracks[0, 0] = [[0.0, 0.0], [0.1, 0.0]]    # training grid 0 (elsewhere than GRID)
    train_tracks[0, 1] = [[0.2, 0.0], [0.1, 0.3]]    # displacements (0.2, 0) and (0, 0.3)
    train_tracks[1, 1] = [[-0.9, -0.9], [-0.9, -0.9]]
    out = nearest_caption_tracks(GRID, np.array([[0.9, 0.1]]), train_text, train_tracks)
    # nearest is caption 0; GRID (-0.5, -0.5), (0.5, -0.5) + (0.2, 0), (0, 0.3)
    expected = np.array([[[[-0.5, -0.5], [0.5, -0.5]], [[-0.3, -0.5], [0.5, -0.2]]]])
    np.testing.assert_allclose(out, expected, atol=1e-12)
    with pytest.raises(DataError, match="train_tracks has shape"):
        nearest_caption_tracks(GRID, np.ones((1, 2)), train_text, np.zeros((3, 2, 2, 2)))

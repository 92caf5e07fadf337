"""Grid placement inside a mask: golden lattices, snapping, distinctness, errors."""

import cv2
import numpy as np
import pytest

from lang2motion.errors import DataError
from lang2motion.tracking.grid import GridError, place_grid


def _rect(height, width, rows, cols):
    mask = np.zeros((height, width), dtype=bool)
    mask[rows[0]:rows[1], cols[0]:cols[1]] = True
    return mask


def test_full_rectangle_gives_exact_lattice():
    mask = _rect(40, 50, (10, 30), (5, 45))     # x 5..44, y 10..29
    grid = place_grid(mask, size=3, erode_iterations=0, margin=0.0)
    # x = linspace(5, 44, 3) = 5, 24.5, 44 -> 5, 25, 44 (half up); y = 10, 19.5, 29 -> 10, 20, 29
    expected = np.array([[5, 10], [25, 10], [44, 10],
                         [5, 20], [25, 20], [44, 20],
                         [5, 29], [25, 29], [44, 29]], dtype=np.float32)
    assert grid.dtype == np.float32
    np.testing.assert_array_equal(grid, expected)


def test_erosion_and_margin_golden():
    mask = _rect(40, 50, (10, 30), (5, 45))
    grid = place_grid(mask, size=3, erode_iterations=1, margin=0.1)
    # eroded: x 6..43 (w 37, margin 3.7), y 11..28 (h 17, margin 1.7)
    # x = 9.7, 24.5, 39.3 -> 10, 25, 39; y = 12.7, 19.5, 26.3 -> 13, 20, 26
    xs, ys = [10, 25, 39], [13, 20, 26]
    expected = np.array([[x, y] for y in ys for x in xs], dtype=np.float32)
    np.testing.assert_array_equal(grid, expected)


def test_points_outside_a_concave_mask_snap_to_the_nearest_pixel():
    mask = np.zeros((21, 30), dtype=bool)
    mask[:, 0:10] = True
    mask[:, 18:30] = True          # gap at x 10..17; the middle lattice column x = 14.5 is in it
    grid = place_grid(mask, size=3, erode_iterations=0, margin=0.0)
    # nearest mask pixel to (14.5, y): right block edge x = 18 (3.5 px) beats x = 9 (5.5 px)
    expected = np.array([[0, 0], [18, 0], [29, 0], [0, 10], [18, 10], [29, 10],
                         [0, 20], [18, 20], [29, 20]], dtype=np.float32)
    np.testing.assert_array_equal(grid, expected)


def test_duplicates_move_to_the_nearest_unused_pixel_and_thin_masks_skip_erosion():
    mask = np.zeros((10, 12), dtype=bool)
    mask[5, 0:10] = True           # a 1-px line: any erosion empties it -> raw mask is used
    grid = place_grid(mask, size=2, erode_iterations=3, margin=0.0)
    # lattice (0,5) (9,5) (0,5) (9,5): the repeats move one pixel inwards
    expected = np.array([[0, 5], [9, 5], [1, 5], [8, 5]], dtype=np.float32)
    np.testing.assert_array_equal(grid, expected)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_points_lie_inside_the_mask_and_are_distinct(seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros((96, 128), dtype=np.uint8)
    for _ in range(2):
        centre = (int(rng.integers(20, 108)), int(rng.integers(20, 76)))
        axes = (int(rng.integers(4, 30)), int(rng.integers(3, 20)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    mask = mask.astype(bool)
    grid = place_grid(mask, size=6, erode_iterations=3, margin=0.1)
    assert grid.shape == (36, 2)
    xs, ys = grid[:, 0].astype(int), grid[:, 1].astype(int)
    np.testing.assert_array_equal(grid, np.round(grid))
    assert mask[ys, xs].all()
    assert len({(x, y) for x, y in zip(xs, ys, strict=True)}) == 36
    np.testing.assert_array_equal(grid, place_grid(mask, size=6, erode_iterations=3, margin=0.1))


def test_tiny_mask_raises_grid_error():
    mask = np.zeros((20, 20), dtype=bool)
    mask[3, 3:8] = True            # 5 pixels < 9 points
    with pytest.raises(GridError, match="5 pixels"):
        place_grid(mask, size=3, erode_iterations=3, margin=0.1)


def test_empty_mask_raises_grid_error_which_is_a_data_error():
    with pytest.raises(GridError, match="empty"):
        place_grid(np.zeros((20, 20), dtype=bool), size=3, erode_iterations=3, margin=0.1)
    assert issubclass(GridError, DataError)


def test_mask_with_exactly_n_pixels_uses_all_of_them():
    mask = np.zeros((8, 8), dtype=bool)
    mask[2:5, 2:5] = True
    grid = place_grid(mask, size=3, erode_iterations=2, margin=0.25)
    assert {(int(x), int(y)) for x, y in grid} == {(x, y) for x in range(2, 5) for y in range(2, 5)}


def test_non_2d_mask_is_rejected():
    with pytest.raises(DataError, match="mask must be"):
        place_grid(np.ones((4, 4, 3), dtype=bool), size=2, erode_iterations=0, margin=0.0)

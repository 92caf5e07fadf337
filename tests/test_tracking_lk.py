"""Lucas-Kanade tracker on a synthetic translating texture with a known shift."""

import cv2
import numpy as np
import pytest

from lang2motion.config import TrackConfig
from lang2motion.errors import DataError
from lang2motion.tracking.lk import LKTracker
from lang2motion.tracking.track_split import make_tracker

HEIGHT, WIDTH, FRAMES = 80, 112, 8
SHIFT = np.array([1.5, -0.75])            # px per frame, sub-pixel on purpose


def _texture(seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, size=(HEIGHT, WIDTH)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 1.5)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255
    return smooth


def _video(shift):
    """Frames of a texture translated by ``shift`` px per frame (content moves by +shift)."""
    base = _texture()
    frames = []
    for t in range(FRAMES):
        dx, dy = shift * t
        warp = np.float32([[1, 0, dx], [0, 1, dy]])
        moved = cv2.warpAffine(base, warp, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        gray = np.clip(moved, 0, 255).astype(np.uint8)
        frames.append(np.repeat(gray[:, :, None], 3, axis=2))
    return np.stack(frames)


def test_known_shift_is_recovered_to_half_a_pixel():
    frames = _video(SHIFT)
    xs, ys = np.meshgrid([30.0, 50.0, 70.0], [25.0, 40.0, 55.0])
    queries = np.stack([np.zeros(xs.size), xs.ravel(), ys.ravel()], axis=1).astype(np.float32)
    tracks, visible = LKTracker().track(frames, queries)
    assert tracks.shape == (FRAMES, 9, 2) and tracks.dtype == np.float32
    assert visible.shape == (FRAMES, 9) and visible.dtype == bool
    expected = queries[None, :, 1:] + np.arange(FRAMES)[:, None, None] * SHIFT
    error = np.linalg.norm(tracks - expected, axis=-1)
    assert error.max() < 0.5, error.max()
    assert visible.all()


def test_point_leaving_the_frame_is_not_visible():
    shift = np.array([4.0, 0.0])
    frames = _video(shift)
    # starts 10 px from the right edge: outside from frame 3 on (x = 102 + 4t > 111)
    queries = np.array([[0, WIDTH - 10, 40], [0, 30, 40]], dtype=np.float32)
    tracks, visible = LKTracker().track(frames, queries)
    assert visible[:2, 0].all()
    assert not visible[3:, 0].any()
    assert visible[:, 1].all()
    assert np.isfinite(tracks).all()


def test_points_before_their_query_frame_hold_the_query_and_are_not_visible():
    frames = _video(SHIFT)
    queries = np.array([[3, 40, 40], [0, 50, 30]], dtype=np.float32)
    tracks, visible = LKTracker().track(frames, queries)
    np.testing.assert_array_equal(tracks[:4, 0], np.tile([40, 40], (4, 1)))
    assert not visible[:3, 0].any() and visible[3, 0]
    expected_last = np.array([40, 40]) + (FRAMES - 1 - 3) * SHIFT
    assert np.linalg.norm(tracks[-1, 0] - expected_last) < 0.5


def test_make_tracker_and_input_checks():
    tracker = make_tracker(TrackConfig(backend="lk"))
    assert tracker.name == "lk"
    frames = _video(SHIFT)
    with pytest.raises(DataError, match="outside the video"):
        tracker.track(frames, np.array([[FRAMES, 1, 1]], dtype=np.float32))
    with pytest.raises(DataError, match="uint8"):
        tracker.track(frames.astype(np.float32), np.zeros((1, 3), dtype=np.float32))

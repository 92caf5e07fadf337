"""Trajectory overlays: golden pixels computed by hand, untouched background, shapes."""

import cv2
import numpy as np
import pytest

from lang2motion.config import OVERLAY_COLORS as COLORS
from lang2motion.config import OverlayConfig
from lang2motion.errors import ConfigError, DataError
from lang2motion.geometry import normalise
from lang2motion.render.overlay import overlay_track_row, render_overlays
from lang2motion.store import TrackRow

GRAY = 100
SIZE = 20
# opacity 0.25 over gray 100 with cyan (0, 255, 255):
#   R = 0.75 * 100 + 0.25 * 0   = 75
#   G = 0.75 * 100 + 0.25 * 255 = 138.75 -> 139
CYAN_OVER_GRAY = (75, 139, 139)


def _gray(t, h, w):
    return np.full((t, h, w, 3), GRAY, dtype=np.uint8)


def _one_point_moving_right():
    tracks = np.array([[[2.0, 10.0]], [[17.0, 10.0]]], dtype=np.float32)  # (T=2, N=1, 2)
    return tracks, np.ones((2, 1), dtype=bool)


def test_trail_pixels_have_the_hand_computed_blend_and_background_is_untouched():
    tracks, visible = _one_point_moving_right()
    out = render_overlays(_gray(2, SIZE, SIZE), tracks, visible, size=SIZE, color="cyan",
                          opacity=0.25, line_width=1)
    assert out.shape == (2, SIZE, SIZE, 3) and out.dtype == np.uint8
    # frame 0: a dot at the start (x=2, y=10) only
    assert tuple(out[0, 10, 2]) == CYAN_OVER_GRAY
    assert tuple(out[0, 10, 9]) == (GRAY, GRAY, GRAY)
    # frame 1: the segment (2,10)-(17,10) along row 10
    for x in (2, 9, 17):
        assert tuple(out[1, 10, x]) == CYAN_OVER_GRAY
    # far from the trail nothing changes, on both frames
    for t in (0, 1):
        assert tuple(out[t, 2, 2]) == (GRAY, GRAY, GRAY)
        assert tuple(out[t, 18, 10]) == (GRAY, GRAY, GRAY)
    assert (out[1, 10, 2:18] == CYAN_OVER_GRAY).all()
    assert (out[1, :10] == GRAY).all() and (out[1, 11:] == GRAY).all()


def test_crossing_trails_blend_once_not_twice():
    tracks = np.array([[[2.0, 10.0], [10.0, 2.0]], [[17.0, 10.0], [10.0, 17.0]]],
                      dtype=np.float32)
    out = render_overlays(_gray(2, SIZE, SIZE), tracks, np.ones((2, 2), bool), size=SIZE,
                          color="cyan", opacity=0.25, line_width=1)
    assert tuple(out[1, 10, 10]) == CYAN_OVER_GRAY


def test_positions_are_scaled_with_the_squashed_frame():
    # source 40 x 80 (H x W) -> 20 x 20: (x=40, y=20) lands at (10, 10)
    tracks = np.array([[[40.0, 20.0]]], dtype=np.float32)
    out = render_overlays(_gray(1, 40, 80), tracks, np.ones((1, 1), bool), size=SIZE,
                          color="red", opacity=1.0, line_width=1)
    assert tuple(out[0, 10, 10]) == COLORS["red"]
    assert int((out[0] != GRAY).any(axis=-1).sum()) == 1


def test_hidden_or_non_finite_points_draw_nothing():
    tracks, _ = _one_point_moving_right()
    hidden = render_overlays(_gray(2, SIZE, SIZE), tracks, np.zeros((2, 1), bool), size=SIZE,
                             color="cyan", opacity=1.0, line_width=2)
    assert (hidden == GRAY).all()
    nan_tracks = np.full_like(tracks, np.nan)
    out = render_overlays(_gray(2, SIZE, SIZE), nan_tracks, np.ones((2, 1), bool), size=SIZE,
                          color="cyan", opacity=1.0, line_width=2)
    assert (out == GRAY).all()


def test_opacity_zero_returns_the_resized_frames():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (3, 30, 50, 3), dtype=np.uint8)
    tracks = rng.uniform(0, 30, (3, 4, 2)).astype(np.float32)
    out = render_overlays(frames, tracks, np.ones((3, 4), bool), size=SIZE, color="yellow",
                          opacity=0.0, line_width=3)
    expected = np.stack([cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
                         for f in frames])
    np.testing.assert_array_equal(out, expected)


def test_unknown_colour_lists_the_known_ones():
    tracks, visible = _one_point_moving_right()
    with pytest.raises(ConfigError, match="cyan, blue, white, red, green, yellow, black"):
        render_overlays(_gray(2, SIZE, SIZE), tracks, visible, size=SIZE, color="magenta",
                        opacity=0.5, line_width=1)


def test_mismatched_shapes_are_data_errors():
    tracks, visible = _one_point_moving_right()
    with pytest.raises(DataError, match="tracks_px"):
        render_overlays(_gray(3, SIZE, SIZE), tracks, visible, size=SIZE, color="cyan",
                        opacity=0.5, line_width=1)
    with pytest.raises(DataError, match="uint8"):
        render_overlays(_gray(2, SIZE, SIZE).astype(np.float32), tracks, visible, size=SIZE,
                        color="cyan", opacity=0.5, line_width=1)


class _Frames:
    def __init__(self, h, w):
        self.h, self.w = h, w

    def read_frames(self, video_id, start, stop):
        return _gray(stop - start, self.h, self.w)


def _row(width, height):
    tracks_px, visible = _one_point_moving_right()
    return TrackRow(track_id="v0/1/00000", video_id="v0", anno_ids=("1",), start=0,
                    exp_ids=("0",), texts=("moving right",),
                    tracks=normalise(tracks_px, width, height), visible=visible, width=width,
                    height=height, tracker="lk")


def test_overlay_track_row_denormalises_with_the_row_size():
    cfg = OverlayConfig(color="cyan", opacity=0.25, size=SIZE, line_width=1)
    out = overlay_track_row(_row(SIZE, SIZE), _Frames(SIZE, SIZE), overlay=cfg)
    assert tuple(out[1, 10, 9]) == CYAN_OVER_GRAY


def test_overlay_track_row_names_the_row_when_frames_do_not_match():
    cfg = OverlayConfig(size=SIZE)
    with pytest.raises(DataError, match="v0/1/00000"):
        overlay_track_row(_row(SIZE, SIZE), _Frames(SIZE + 2, SIZE), overlay=cfg)

"""Trajectory animations: hand-computed trail and dot pixels, panel layout, GIF/MP4 writing."""

import imageio.v2 as imageio
import numpy as np
import pytest
from PIL import Image

from lang2motion.config import OVERLAY_COLORS as COLORS
from lang2motion.errors import ConfigError, DataError
from lang2motion.render.animate import (
    BACKDROP_RGB,
    CANVAS_RGB,
    DOT_OUTLINE_RGB,
    DOT_RADIUS,
    HEADER_HEIGHT,
    HEADER_PAD,
    HEADER_RGB,
    MASK_TINT_RGB,
    display_size,
    labelled,
    plain_canvas,
    side_by_side,
    still,
    strip,
    trail_animation,
)
from lang2motion.render.overlay import color_rgb, render_overlays
from lang2motion.render.video import write_animation, write_gif

GRAY = 100
# A 80 x 40 (W x H) source shown at 40 x 20: one point moves right along y = 20 (output row 10),
# x = 8, 40, 72 at t = 0, 1, 2, i.e. output columns 4, 20, 36.
SRC_W, SRC_H = 80, 40
OUT = (40, 20)
ROW = 10
XS = (4, 20, 36)
# GIF keeps up to 256 colours: flat test colours come back within a few levels.
GIF_TOLERANCE = 4
GIF_BUDGET_BYTES = 1_000_000


def _moving_right():
    return np.array([[[8.0, 20.0]], [[40.0, 20.0]], [[72.0, 20.0]]])  # (T=3, N=1, 2)


def _gray_background(h=SRC_H, w=SRC_W):
    return np.full((h, w, 3), GRAY, dtype=np.uint8)


@pytest.mark.parametrize(("width", "height", "longest", "expected"), [
    (854, 480, 320, (320, 180)),    # 480 * 320 / 854 = 179.9 -> 180
    (256, 192, 320, (320, 240)),
    (192, 256, 320, (240, 320)),    # portrait: the height is the longest side
    (641, 480, 320, (320, 240)),    # 239.6 -> 240
    (1000, 10, 100, (100, 2)),      # never below 2 pixels
    (100, 100, 63, (64, 64)),       # odd -> the nearest even
])
def test_display_size_keeps_the_aspect_with_even_sides(width, height, longest, expected):
    assert display_size(width, height, longest=longest) == expected


def test_display_size_rejects_bad_input():
    with pytest.raises(ConfigError, match="longest"):
        display_size(10, 10, longest=1)
    with pytest.raises(DataError, match="width and height"):
        display_size(0, 10, longest=10)


def test_trail_grows_along_the_path_with_a_dot_at_the_current_position():
    cyan = COLORS["cyan"]
    out = trail_animation(_gray_background(), _moving_right(), color="cyan", size=OUT,
                          line_width=1)
    assert out.shape == (3, OUT[1], OUT[0], 3) and out.dtype == np.uint8
    # the dot: filled with the trail colour, ringed with the outline colour
    for t, x in enumerate(XS):
        assert tuple(out[t, ROW, x]) == cyan
        assert tuple(out[t, ROW, x - DOT_RADIUS]) == DOT_OUTLINE_RGB
        assert tuple(out[t, ROW - DOT_RADIUS, x]) == DOT_OUTLINE_RGB
    # frame 0: nothing yet where the point goes later
    for x in (12, XS[1], XS[2]):
        assert tuple(out[0, ROW, x]) == (GRAY, GRAY, GRAY)
    # frame 1: the trail reaches x = 20; beyond the dot (17..23) the path is still empty
    assert tuple(out[1, ROW, 12]) == cyan
    assert tuple(out[1, ROW, 28]) == (GRAY, GRAY, GRAY)
    # last frame: the trail colour all along the path outside the dots
    for x in [*range(XS[0] + DOT_RADIUS + 1, XS[2] - DOT_RADIUS)]:
        assert tuple(out[2, ROW, x]) == cyan, x
    # away from the path and the dots the background is untouched, on every frame
    band = slice(ROW - DOT_RADIUS, ROW + DOT_RADIUS + 1)
    assert (out[:, :band.start] == GRAY).all() and (out[:, band.stop:] == GRAY).all()
    assert (out[:, band, :XS[0] - DOT_RADIUS] == GRAY).all()


def test_hidden_points_draw_neither_trail_nor_dot():
    tracks = np.concatenate([_moving_right(), _moving_right() + [0.0, -16.0]], axis=1)
    visible = np.array([[True, False]] * 3)
    out = trail_animation(_gray_background(), tracks, color="red", size=OUT, line_width=1,
                          visible=visible)
    alone = trail_animation(_gray_background(), tracks[:, :1], color="red", size=OUT,
                            line_width=1)
    np.testing.assert_array_equal(out, alone)


def test_trail_animation_rejects_an_unknown_colour():
    with pytest.raises(ConfigError, match="magenta"):
        trail_animation(_gray_background(), _moving_right(), color="magenta", size=OUT,
                        line_width=1)


def test_plain_canvas_tints_the_mask():
    mask = np.zeros((6, 8), bool)
    mask[2:4, 3:5] = True
    canvas = plain_canvas(8, 6, mask=mask)
    assert canvas.shape == (6, 8, 3) and canvas.dtype == np.uint8
    assert (canvas[mask] == MASK_TINT_RGB).all() and (canvas[~mask] == CANVAS_RGB).all()
    assert (plain_canvas(8, 6) == CANVAS_RGB).all()
    with pytest.raises(DataError, match="mask"):
        plain_canvas(8, 6, mask=mask.T)


def test_labelled_adds_exactly_the_header_and_keeps_the_frames():
    frames = np.random.default_rng(0).integers(0, 256, (4, 30, 64, 3), dtype=np.uint8)
    out = labelled(frames, "a dog runs to the left and then jumps over the bench twice")
    assert out.shape == (4, 30 + HEADER_HEIGHT, 64, 3)
    np.testing.assert_array_equal(out[:, HEADER_HEIGHT:], frames)
    header = out[0, :HEADER_HEIGHT]
    assert (header != HEADER_RGB).any()                     # some text was drawn
    assert (header[:, -HEADER_PAD:] == HEADER_RGB).all()     # ellipsised before the margin
    assert (out[:, :HEADER_HEIGHT] == header).all()          # same header on every frame
    assert (labelled(frames, "")[:, :HEADER_HEIGHT] == HEADER_RGB).all()


def test_side_by_side_places_panels_with_a_gap():
    a = np.full((3, 10, 7, 3), 10, np.uint8)
    b = np.full((3, 10, 5, 3), 20, np.uint8)
    out = side_by_side([a, b], gap=2)
    assert out.shape == (3, 10, 7 + 2 + 5, 3)
    assert (out[:, :, :7] == 10).all() and (out[:, :, 9:] == 20).all()
    assert (out[:, :, 7:9] == BACKDROP_RGB).all()


def test_side_by_side_needs_the_same_frames_and_height():
    a = np.zeros((3, 10, 7, 3), np.uint8)
    with pytest.raises(DataError, match="same T and h"):
        side_by_side([a, np.zeros((4, 10, 7, 3), np.uint8)], gap=0)
    with pytest.raises(DataError, match="same T and h"):
        side_by_side([a, np.zeros((3, 12, 7, 3), np.uint8)], gap=0)


def test_strip_is_a_grid_with_blank_empty_cells():
    images = [np.full((4, 6, 3), v, np.uint8) for v in (10, 20, 30)]
    out = strip(images, columns=2, gap=1)
    assert out.shape == (4 + 1 + 4, 6 + 1 + 6, 3)
    assert (out[:4, :6] == 10).all() and (out[:4, 7:] == 20).all() and (out[5:, :6] == 30).all()
    assert (out[5:, 7:] == BACKDROP_RGB).all() and (out[4] == BACKDROP_RGB).all()
    with pytest.raises(DataError, match="same size"):
        strip([images[0], np.zeros((5, 6, 3), np.uint8)], columns=2)


def test_still_is_the_final_frame():
    frames = np.arange(2 * 3 * 4 * 3, dtype=np.uint8).reshape(2, 3, 4, 3)
    np.testing.assert_array_equal(still(frames), frames[-1])


def _distinct_frames(t=5, h=32, w=48):
    frames = np.full((t, h, w, 3), (30, 120, 200), np.uint8)
    for i in range(t):
        frames[i, 8:16, 4 + 6 * i:10 + 6 * i] = (250, 250, 0)   # a square moving right
    return frames


def test_gif_round_trip_keeps_frames_size_timing_and_loops(tmp_path):
    path = tmp_path / "sub" / "anim.gif"
    frames = _distinct_frames()
    write_gif(path, frames, fps=10)
    back = np.stack(imageio.mimread(path))[..., :3]
    assert back.shape == frames.shape
    assert np.abs(back[0].astype(int) - frames[0].astype(int)).max() <= GIF_TOLERANCE
    assert np.abs(back.astype(int) - frames.astype(int)).max() <= GIF_TOLERANCE
    with Image.open(path) as gif:
        assert gif.info["loop"] == 0 and gif.info["duration"] == 100
    assert path.read_bytes()[:6] == b"GIF89a"
    assert [p.name for p in path.parent.iterdir()] == ["anim.gif"]  # no temporary left over


def test_gif_of_a_noisy_background_stays_compact(tmp_path):
    # worst case for size: a background no palette fits; one shared palette and delta frames
    # keep 30 frames of 320 x 256 under the budget (a full frame each would be over 2 MB)
    background = np.random.default_rng(0).integers(0, 256, (256, 320, 3), dtype=np.uint8)
    t = np.linspace(0.0, 1.0, 30)[:, None, None]
    grid = np.stack(np.meshgrid(np.linspace(100, 160, 6), np.linspace(90, 150, 6)), -1)
    tracks = grid.reshape(1, -1, 2) + t * np.array([120.0, 40.0])
    frames = trail_animation(background, tracks, color="cyan", size=(320, 256), line_width=2)
    write_gif(tmp_path / "noise.gif", frames, fps=10)
    assert (tmp_path / "noise.gif").stat().st_size < GIF_BUDGET_BYTES


def test_gif_keeps_the_trails_exact_colour_over_a_noisy_background(tmp_path):
    # the palette is fit on a subsample of a few frames: thin trails must still get their colour
    background = np.random.default_rng(1).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    t = np.linspace(0.0, 1.0, 12)[:, None, None]
    grid = np.stack(np.meshgrid(np.linspace(30, 60, 3), np.linspace(30, 60, 3)), -1)
    tracks = grid.reshape(1, -1, 2) + t * np.array([50.0, 20.0])
    frames = trail_animation(background, tracks, color="cyan", size=(256, 192), line_width=2)
    write_gif(tmp_path / "trails.gif", frames, fps=10)
    last = np.stack(imageio.mimread(tmp_path / "trails.gif"))[-1, ..., :3]
    trail = (frames[-1] == color_rgb("cyan")).all(axis=-1)
    assert trail.sum() > 100
    np.testing.assert_array_equal(last[trail], frames[-1][trail])


def test_gif_rejects_rates_browsers_slow_down(tmp_path):
    with pytest.raises(DataError, match="fps"):
        write_gif(tmp_path / "fast.gif", _distinct_frames(), fps=60)
    assert not list(tmp_path.iterdir())


def test_write_animation_picks_the_format_by_suffix(tmp_path):
    frames = _distinct_frames()
    write_animation(tmp_path / "a.GIF", frames, fps=10)
    write_animation(tmp_path / "a.mp4", frames, fps=10)
    assert (tmp_path / "a.GIF").read_bytes()[:6] == b"GIF89a"
    assert (tmp_path / "a.mp4").read_bytes()[4:8] == b"ftyp"
    assert len(imageio.mimread(tmp_path / "a.mp4", format="FFMPEG")) == len(frames)


@pytest.mark.parametrize("name", ["a.avi", "a"])
def test_write_animation_refuses_other_suffixes(tmp_path, name):
    with pytest.raises(ConfigError, match=r"suffix .*; accepted: \.gif, \.mp4"):
        write_animation(tmp_path / name, _distinct_frames(), fps=10)
    assert not list(tmp_path.iterdir())


def test_render_overlays_with_a_square_pair_equals_the_int_size():
    rng = np.random.default_rng(1)
    frames = rng.integers(0, 256, (3, 30, 50, 3), dtype=np.uint8)
    tracks = rng.uniform(0, 30, (3, 4, 2))
    visible = rng.random((3, 4)) > 0.2
    square = render_overlays(frames, tracks, visible, size=20, color="yellow", opacity=0.6,
                             line_width=2)
    pair = render_overlays(frames, tracks, visible, size=(20, 20), color="yellow", opacity=0.6,
                           line_width=2)
    np.testing.assert_array_equal(pair, square)


def test_render_overlays_with_a_pair_scales_each_axis():
    tracks = np.array([[[40.0, 20.0]]])  # source 80 x 40 -> 40 x 20: lands at (20, 10)
    out = render_overlays(_gray_background()[None], tracks, np.ones((1, 1), bool), size=OUT,
                          color="red", opacity=1.0, line_width=1)
    assert out.shape == (1, OUT[1], OUT[0], 3)
    assert tuple(out[0, 10, 20]) == COLORS["red"]
    assert int((out[0] != GRAY).any(axis=-1).sum()) == 1
    with pytest.raises(ConfigError, match="size"):
        render_overlays(_gray_background()[None], tracks, np.ones((1, 1), bool), size=(40, 0),
                        color="red", opacity=1.0, line_width=1)

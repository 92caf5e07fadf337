"""MP4 and contact-sheet writing: the files read back with the right frames and sizes."""

import imageio.v2 as imageio
import numpy as np
import pytest

from lang2motion.errors import DataError
from lang2motion.render.video import contact_sheet, write_mp4

# H.264 is lossy; a flat colour comes back within a few levels.
CODEC_TOLERANCE = 8


def _flat_frames(t, h, w, value):
    return np.full((t, h, w, 3), value, dtype=np.uint8)


def test_mp4_round_trip_keeps_frame_count_and_size(tmp_path):
    path = tmp_path / "sub" / "clip.mp4"
    frames = _flat_frames(7, 48, 64, 0)
    frames[:, :, :, 1] = 200
    write_mp4(path, frames, fps=10)
    back = np.stack(imageio.mimread(path, format="FFMPEG"))
    assert back.shape == (7, 48, 64, 3)
    assert np.abs(back.astype(int) - frames.astype(int)).max() <= CODEC_TOLERANCE
    assert [p.name for p in path.parent.iterdir()] == ["clip.mp4"]  # no temporary left over


def test_mp4_odd_sizes_are_padded_to_even_not_rescaled(tmp_path):
    path = tmp_path / "odd.mp4"
    write_mp4(path, _flat_frames(3, 31, 45, 128), fps=5)
    back = np.stack(imageio.mimread(path, format="FFMPEG"))
    assert back.shape == (3, 32, 46, 3)


def test_mp4_rejects_bad_frames(tmp_path):
    with pytest.raises(DataError, match="uint8"):
        write_mp4(tmp_path / "x.mp4", np.zeros((2, 8, 8, 3), np.float32), fps=5)
    assert not list(tmp_path.iterdir())


def test_contact_sheet_is_a_readable_png(tmp_path):
    path = tmp_path / "sheet.png"
    images = [np.full((32, 32, 3), v, np.uint8) for v in (0, 80, 160, 240)]
    contact_sheet(path, images, columns=3, labels=["a dog runs to the left", "b", "c", "d"])
    sheet = imageio.imread(path)
    assert sheet.ndim == 3 and sheet.shape[0] > 32 and sheet.shape[1] > 3 * 32
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_contact_sheet_label_count_must_match(tmp_path):
    with pytest.raises(DataError, match="2 labels for 1 images"):
        contact_sheet(tmp_path / "s.png", [np.zeros((4, 4, 3), np.uint8)], columns=1,
                      labels=["a", "b"])


def test_contact_sheet_tiles_take_the_images_shape(tmp_path) -> None:
    """Three 1:3 panels in one column: three image heights plus labels, about 1.2 times as tall
    as wide (square tiles made it 3.6 times, mostly blank)."""
    wide = np.full((100, 300, 3), 128, np.uint8)
    path = tmp_path / "sheet.png"
    contact_sheet(path, [wide] * 3, columns=1, labels=["a", "b", "c"])
    height, width = imageio.imread(path).shape[:2]
    assert height < 1.5 * width

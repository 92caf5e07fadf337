"""Frame and mask reading: PNG round trips, the mask threshold, and damaged JPEGs."""

import cv2
import numpy as np
import pytest

from lang2motion.errors import DataError
from lang2motion.images import MASK_THRESHOLD, read_mask, read_rgb, write_png

TRUNCATE_AT = (0.05, 0.3, 0.5, 0.8, 0.99)


def _textured_rgb(height=96, width=128, seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (5, 5), 0)


def _jpeg_bytes(image, params=()):
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), list(params))
    assert ok
    return encoded.tobytes()


def test_png_round_trip_mask_rgb_and_grey(tmp_path):
    mask = np.zeros((30, 40), dtype=bool)
    mask[5:20, 10:33] = True
    write_png(tmp_path / "m.png", mask)
    assert set(np.unique(cv2.imread(str(tmp_path / "m.png"), cv2.IMREAD_UNCHANGED))) == {0, 255}
    back = read_mask(tmp_path / "m.png", size=(30, 40))
    assert back.dtype == bool and back.shape == (30, 40)
    np.testing.assert_array_equal(back, mask)

    rgb = _textured_rgb(30, 40)
    write_png(tmp_path / "f.png", rgb)
    np.testing.assert_array_equal(read_rgb(tmp_path / "f.png"), rgb)   # RGB order kept

    grey = rgb[..., 0]
    write_png(tmp_path / "g.png", grey)
    np.testing.assert_array_equal(cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED), grey)
    assert not list(tmp_path.glob(".*tmp*"))                           # no temporary left


def test_write_png_refuses_other_arrays(tmp_path):
    with pytest.raises(DataError, match="shape"):
        write_png(tmp_path / "x.png", np.zeros((4, 4), dtype=np.float32))
    with pytest.raises(DataError, match="shape"):
        write_png(tmp_path / "x.png", np.zeros((4, 4, 4), dtype=np.uint8))
    assert not (tmp_path / "x.png").exists()


def test_threshold_is_strictly_above_127(tmp_path):
    assert MASK_THRESHOLD == 127
    grey = np.zeros((4, 5), dtype=np.uint8)
    grey[0, 0], grey[1, 1], grey[2, 2], grey[3, 3] = 127, 128, 255, 126
    write_png(tmp_path / "soft.png", grey)
    mask = read_mask(tmp_path / "soft.png")
    expected = np.zeros((4, 5), dtype=bool)
    expected[1, 1] = expected[2, 2] = True
    np.testing.assert_array_equal(mask, expected)


def test_colour_mask_uses_brightest_channel(tmp_path):
    rgb = np.zeros((6, 6, 3), dtype=np.uint8)
    rgb[1:3, 1:3] = (128, 0, 0)        # DAVIS palette red: grey level 38, but an object
    write_png(tmp_path / "c.png", rgb)
    mask = read_mask(tmp_path / "c.png")
    assert mask.sum() == 4 and mask[1:3, 1:3].all()


def test_mask_size_mismatch_names_both_sizes(tmp_path):
    write_png(tmp_path / "m.png", np.ones((30, 40), dtype=bool))
    with pytest.raises(DataError, match=r"m\.png.*30x40.*48x64"):
        read_mask(tmp_path / "m.png", size=(48, 64))


def test_empty_and_missing_masks(tmp_path):
    write_png(tmp_path / "empty.png", np.full((8, 8), MASK_THRESHOLD, dtype=np.uint8))
    with pytest.raises(DataError, match=r"empty\.png.*empty"):
        read_mask(tmp_path / "empty.png")
    with pytest.raises(DataError, match=r"nope\.png.*missing"):
        read_mask(tmp_path / "nope.png")
    (tmp_path / "junk.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match=r"junk\.png.*unreadable"):
        read_mask(tmp_path / "junk.png")


@pytest.mark.parametrize("params", [(), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
                                    (cv2.IMWRITE_JPEG_RST_INTERVAL, 2)],
                         ids=["baseline", "progressive", "restart-markers"])
def test_good_jpeg_equals_cv2_decode(tmp_path, params):
    data = _jpeg_bytes(_textured_rgb(), params)
    path = tmp_path / "frame.jpg"
    path.write_bytes(data)
    expected = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    image = read_rgb(path)
    assert image.dtype == np.uint8 and image.shape == (96, 128, 3)
    np.testing.assert_array_equal(image, expected)
    # zero padding after the end-of-image marker (some writers pad to a block) is fine
    path.write_bytes(data + bytes(64))
    np.testing.assert_array_equal(read_rgb(path), expected)


@pytest.mark.parametrize("params", [(), (cv2.IMWRITE_JPEG_PROGRESSIVE, 1)],
                         ids=["baseline", "progressive"])
def test_truncated_jpeg_detected_everywhere(tmp_path, params):
    data = _jpeg_bytes(_textured_rgb(), params)
    cuts = [int(len(data) * f) for f in TRUNCATE_AT] + [len(data) - 2, len(data) - 1]
    for cut in cuts:
        path = tmp_path / f"cut{cut}.jpg"
        path.write_bytes(data[:cut] + (bytes(32) if cut % 2 else b""))   # padded or not
        with pytest.raises(DataError, match=rf"cut{cut}\.jpg: truncated or corrupt JPEG"):
            read_rgb(path)


def test_truncated_jpeg_with_exif_thumbnail_end_marker(tmp_path):
    # An APP1 segment holding a thumbnail has its own FF D9: the segment walk must skip it.
    data = _jpeg_bytes(_textured_rgb())
    thumbnail = _jpeg_bytes(_textured_rgb(8, 8, seed=1))
    payload = b"Exif\x00\x00" + thumbnail
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    whole = data[:2] + app1 + data[2:]
    (tmp_path / "whole.jpg").write_bytes(whole)
    read_rgb(tmp_path / "whole.jpg")
    (tmp_path / "cut.jpg").write_bytes(whole[:len(app1) + len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.jpg: truncated or corrupt JPEG"):
        read_rgb(tmp_path / "cut.jpg")


def test_corrupt_jpeg_middle_detected(tmp_path):
    # The middle of the scan data overwritten by the start of another JPEG (SOI, APP0).
    data = bytearray(_jpeg_bytes(_textured_rgb()))
    middle = len(data) // 2
    data[middle:middle + 4] = b"\xff\xd8\xff\xe0"
    path = tmp_path / "corrupt.jpg"
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"corrupt\.jpg: truncated or corrupt JPEG.*invalid"):
        read_rgb(path)


def test_unreadable_files(tmp_path):
    with pytest.raises(DataError, match=r"missing\.jpg: missing"):
        read_rgb(tmp_path / "missing.jpg")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty\.jpg: empty"):
        read_rgb(tmp_path / "empty.jpg")
    (tmp_path / "text.jpg").write_bytes(b"hello, not a picture")
    with pytest.raises(DataError, match=r"text\.jpg: unreadable or corrupt"):
        read_rgb(tmp_path / "text.jpg")
    write_png(tmp_path / "f.png", _textured_rgb(20, 20))
    data = (tmp_path / "f.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=r"cut\.png: unreadable or corrupt"):
        read_rgb(tmp_path / "cut.png")

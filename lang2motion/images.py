"""Reading and writing frames and masks: the one place that decodes image files.

Pixel convention: integer (x, y) name pixel centres (OpenCV, CoTracker). Arrays are (H, W) for
masks and (H, W, 3) uint8 RGB for frames.

Legend: H height, W width.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from lang2motion.errors import DataError
from lang2motion.io import atomic_path

MASK_THRESHOLD = 127          # soft mask PNGs (0..255) are binarised at > 127
MASK_FLOAT_THRESHOLD = 0.5    # soft float masks (0..1) at > 0.5: the same midpoint
MASK_ON = 255                 # grey level of a mask pixel in a written mask PNG
# A mask file in colour holds a few flat colours (a palette mask's objects); a photograph holds
# thousands. More distinct colours than this and the file is refused as "not a mask".
MASK_MAX_COLOURS = 256
_ALPHA = 3                    # channel index of alpha in a 4-channel image (BGRA)
_BITS_16_TO_8 = 8

_JPEG_SOI = b"\xff\xd8"
_MARKER_PREFIX = 0xFF
_EOI = 0xD9
_SOS = 0xDA
_SEGMENT_LENGTH_BYTES = 2
# Inside entropy-coded data 0xFF is always followed by 0x00 (a stuffed data byte), 0xD0-0xD7
# (restart markers) or 0xFF (fill). Any other byte ends the scan: that marker must be EOI or a
# segment allowed between the scans of a progressive JPEG.
_IN_SCAN = np.zeros(256, dtype=bool)
_IN_SCAN[[0x00, 0xFF, *range(0xD0, 0xD8)]] = True
_BETWEEN_SCANS = frozenset([0xC4, 0xCC, 0xDA, 0xDB, 0xDC, 0xDD, 0xFE, *range(0xE0, 0xF0)])
_STANDALONE = frozenset([0x01, *range(0xD0, 0xD8)])   # markers without a length field


def _jpeg_damage(data: bytes) -> str | None:
    """Why the JPEG ``data`` (starting with SOI) is truncated or corrupt; None when it is whole.

    Walks the segments by their lengths (an EXIF thumbnail's own end marker is skipped) and the
    scans with one vectorised pass over their 0xFF bytes; bytes after the end marker are ignored.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n = len(buf)
    ff = np.flatnonzero(buf[:-1] == _MARKER_PREFIX)
    scan_ends = ff[~_IN_SCAN[buf[ff + 1]]]     # positions of 0xFF that start a real marker
    pos = len(_JPEG_SOI)
    while True:
        while pos + 1 < n and buf[pos] == _MARKER_PREFIX and buf[pos + 1] == _MARKER_PREFIX:
            pos += 1                            # fill bytes before a marker
        if pos + 1 >= n:
            return f"no end-of-image marker (file ends at byte {n} between segments)"
        if buf[pos] != _MARKER_PREFIX:
            return f"expected a marker at byte {pos}, found 0x{buf[pos]:02X}"
        marker = int(buf[pos + 1])
        if marker == _EOI:
            return None
        if marker in _STANDALONE:
            return f"unexpected marker 0xFF{marker:02X} outside scan data at byte {pos}"
        if pos + 2 + _SEGMENT_LENGTH_BYTES > n:
            return f"no end-of-image marker (file ends inside segment 0xFF{marker:02X})"
        length = (int(buf[pos + 2]) << 8) | int(buf[pos + 3])
        if length < _SEGMENT_LENGTH_BYTES:
            return f"segment 0xFF{marker:02X} at byte {pos} has invalid length {length}"
        pos += 2 + length
        if pos > n:
            return (f"no end-of-image marker (segment 0xFF{marker:02X} runs past the end of "
                    f"the file at byte {n})")
        if marker != _SOS:
            continue
        i = int(np.searchsorted(scan_ends, pos))
        if i == len(scan_ends):
            return f"no end-of-image marker (file ends inside the scan data at byte {n})"
        pos = int(scan_ends[i])
        after = int(buf[pos + 1])
        if after != _EOI and after not in _BETWEEN_SCANS:
            return f"invalid marker 0xFF{after:02X} inside the scan data at byte {pos}"


def read_rgb(path: str | os.PathLike[str]) -> np.ndarray:
    """An image file -> (H, W, 3) uint8 RGB (EXIF orientation applied, grey as 3 channels).

    DataError naming the path for a missing, empty or undecodable file, a truncated JPEG (some
    OpenCV builds fill a cut-off JPEG with grey silently) or one with a marker that cannot occur
    in scan data, and a damaged PNG (libpng checks CRCs). JPEG has no checksum: other damage
    inside the scan data decodes to a wrong image undetected.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing image file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: unreadable image file ({exc})") from exc
    if not data:
        raise DataError(f"{path}: empty image file")
    if data.startswith(_JPEG_SOI):
        damage = _jpeg_damage(data)
        if damage is not None:
            raise DataError(f"{path}: truncated or corrupt JPEG ({damage})")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise DataError(f"{path}: unreadable or corrupt image (OpenCV could not decode it)")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def binarise_mask(mask: object, *, name: str = "mask") -> np.ndarray:
    """A mask array -> (H, W) bool, the one rule for every caller: bool as given, integers
    > MASK_THRESHOLD, floats in [0, 1] > MASK_FLOAT_THRESHOLD; (H, W, 1) squeezed. Anything else
    is a DataError naming ``name``: a wrong mask must not become a silently wrong grid."""
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim != 2 or min(array.shape) < 1:
        raise DataError(f"{name}: a mask must be an (H, W) array of booleans, 0..255 grey "
                        f"levels or 0..1 floats, got shape {array.shape}"
                        + (" (a colour image? give the object's mask)" if array.ndim == 3
                           else ""))
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.integer):
        return array > MASK_THRESHOLD
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise DataError(f"{name}: a float mask must hold values in [0, 1], got NaN or inf")
        if array.min() < 0.0 or array.max() > 1.0:
            raise DataError(f"{name}: a float mask must hold values in [0, 1] (binarised at > "
                            f"{MASK_FLOAT_THRESHOLD}), got [{array.min()}, {array.max()}]")
        return array > MASK_FLOAT_THRESHOLD
    raise DataError(f"{name}: a mask must hold booleans, integers or floats, got {array.dtype}")


def _mask_levels(path: Path, image: np.ndarray) -> np.ndarray:
    """(H, W) 0..255 grey levels of a decoded mask file (see :func:`read_mask`)."""
    if image.dtype == np.uint16:
        image = (image >> _BITS_16_TO_8).astype(np.uint8)
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        alpha = image[..., _ALPHA]
        if alpha.min() != alpha.max():          # a cut-out: the object is where it is opaque
            return alpha
        image = image[..., :_ALPHA]
    if image.shape[2] == 1:
        return image[..., 0]
    grey = (image == image[..., :1]).all()
    if not grey:
        colours = len(np.unique(image.reshape(-1, image.shape[2]), axis=0))
        if colours > MASK_MAX_COLOURS:
            raise DataError(f"{path}: looks like a photograph ({colours} distinct colours), not "
                            "a mask: give a black-and-white (or single-colour) mask of the "
                            "object, or an RGBA cut-out whose alpha is the object")
    return image.max(axis=2)


def read_mask(path: str | os.PathLike[str], *, size: tuple[int, int] | None = None,
              allow_empty: bool = False) -> np.ndarray:
    """A mask image -> (H, W) bool: grey level > MASK_THRESHOLD.

    Colour counts by its brightest channel (a palette PNG's object is foreground), but more than
    MASK_MAX_COLOURS colours is a photograph, refused; a varying alpha is a cut-out whose alpha
    is the object; 16-bit is read at its top 8 bits. DataError for a missing or unreadable file,
    a size other than ``size`` (H, W), or an empty mask unless ``allow_empty``.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: missing mask file")
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError(f"{path}: unreadable or corrupt mask image")
    image = _mask_levels(path, image)
    height, width = image.shape
    if size is not None and (height, width) != tuple(size):
        raise DataError(f"{path}: mask size {height}x{width} (HxW) differs from the image size "
                        f"{size[0]}x{size[1]}")
    mask = image > MASK_THRESHOLD
    if not allow_empty and not mask.any():
        raise DataError(f"{path}: mask is empty (no pixel above {MASK_THRESHOLD})")
    return mask


def write_png(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write ``image`` (H, W) bool (as 0/255), (H, W) uint8 or (H, W, 3) uint8 RGB as PNG,
    atomically."""
    image = np.asarray(image)
    if image.dtype == bool and image.ndim == 2:
        pixels = image.astype(np.uint8) * np.uint8(MASK_ON)
    elif image.dtype == np.uint8 and image.ndim == 2:
        pixels = image
    elif image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3:
        pixels = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    else:
        raise DataError(f"{path}: cannot write an array of shape {image.shape} and dtype "
                        f"{image.dtype} as PNG (expected (H, W) bool/uint8 or (H, W, 3) uint8)")
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise DataError(f"{path}: PNG encoding failed for shape {image.shape}")
    with atomic_path(path) as tmp:
        tmp.write_bytes(encoded.tobytes())

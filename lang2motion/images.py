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

    Walks the marker segments by their lengths (so an EXIF thumbnail's own end marker inside
    APP1 is skipped) and each scan's entropy-coded data with one vectorised pass over its 0xFF
    bytes, down to the end-of-image marker. Anything after that marker (zero padding, appended
    data) is ignored: the image itself is complete. About 75 us for an 85 kB 854x480 frame
    (decoding it takes 1.5 ms).
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
    """An image file -> (H, W, 3) uint8 RGB, decoded with OpenCV from the bytes read once.

    EXIF orientation is applied (OpenCV's IMREAD_COLOR); grey images come back as 3 channels.
    Raises DataError naming the path for a missing, empty, unreadable or undecodable file.

    Damage that is detected:

    - JPEG (recognised by its FF D8 start, not by the suffix): a file truncated anywhere,
      including one cut just before its end-of-image marker (some OpenCV builds decode such a
      file silently, filling the missing part with grey), segment lengths running past the end,
      and a marker that cannot occur inside entropy-coded data (e.g. bytes of another JPEG
      written over the middle of the file).
    - PNG: truncation and any corruption (libpng checks every chunk's CRC; OpenCV returns
      nothing).

    Not detected: bytes changed inside a JPEG's entropy-coded data that happen to form no
    invalid marker -- most random corruption there. JPEG has no checksum; libjpeg then decodes
    a wrong image, only printing "Corrupt JPEG data: ..." to stderr, which this function does
    not capture. Measured on a DAVIS frame (random overwrites inside the scan data): the marker
    check catches about 1% of single-byte and 5% of 16-byte ones, libjpeg's warnings about 20%
    and 50%. No false alarm on 516 whole JPEGs (baseline, progressive, restart intervals, EXIF).
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
    """A mask array -> (H, W) bool, the one rule for every caller (CLI, API, files):

    bool as given; uint8 / integer grey levels > :data:`MASK_THRESHOLD` (127); floats in [0, 1]
    > :data:`MASK_FLOAT_THRESHOLD` (0.5, the same midpoint). (H, W, 1) is squeezed. Anything
    else (a colour image, a 1-D array, floats outside [0, 1], NaN) is a DataError naming
    ``name``: a wrong mask must not become a silently wrong grid.
    """
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

    A colour image counts by its brightest channel, so that a palette PNG's coloured object
    counts as foreground; one with more than :data:`MASK_MAX_COLOURS` colours is a photograph,
    refused. An RGBA image whose alpha varies is a cut-out: the object is its alpha (the colour
    of transparent pixels says nothing). 16-bit images are read at their top 8 bits.

    ``size``: the expected (H, W). Raises DataError for a missing or unreadable file, a size
    that differs from ``size`` (naming both) and, unless ``allow_empty`` (a per-frame mask of an
    object that may be absent), a mask without a single foreground pixel.
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
    """Write ``image`` as PNG, atomically.

    image: (H, W) bool (written as 0/255), (H, W) uint8 grey or (H, W, 3) uint8 RGB.
    """
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

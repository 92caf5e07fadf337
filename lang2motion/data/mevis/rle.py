"""COCO compressed RLE, the mask encoding of ``mask_dict.json``: encode, checked decode.

Legend: H height, W width.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from lang2motion.errors import DataError

# COCO compressed RLE: each count is 5-bit groups stored as chr(48 + group); bit 0x20 = "more
# groups follow", bit 0x10 of the last group = sign. Counts after the second are deltas.
_RLE_CHAR_OFFSET = 48
_RLE_CHAR_SPAN = 64
_RLE_MORE_BIT = 0x20
_RLE_SIGN_BIT = 0x10
_RLE_VALUE_MASK = 0x1F
_RLE_BITS = 5
_RLE_MAX_GROUPS = 7           # 35 bits: more than any count of a real image needs


def rle_counts(counts: str) -> np.ndarray:
    """Run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString``, vectorised).

    Raises ValueError on characters outside the alphabet, a truncated count or a negative run;
    pycocotools itself decodes such strings into garbage without complaint.
    """
    codes = np.frombuffer(counts.encode("ascii"), dtype=np.uint8).astype(np.int64)
    codes -= _RLE_CHAR_OFFSET
    if codes.size == 0:
        return np.zeros(0, dtype=np.int64)
    if codes.min() < 0 or codes.max() >= _RLE_CHAR_SPAN:
        raise ValueError("character outside the COCO RLE alphabet")
    more = (codes & _RLE_MORE_BIT) != 0
    if more[-1]:
        raise ValueError("string ends inside a count")
    ends = np.flatnonzero(~more)
    starts = np.concatenate([[0], ends[:-1] + 1])
    lengths = ends - starts + 1
    if lengths.max() > _RLE_MAX_GROUPS:
        raise ValueError("count too long")
    group_index = np.arange(codes.size) - np.repeat(starts, lengths)
    parts = (codes & _RLE_VALUE_MASK) << (_RLE_BITS * group_index)
    values = np.add.reduceat(parts, starts)
    negative = (codes[ends] & _RLE_SIGN_BIT) != 0
    values = values - (negative.astype(np.int64) << (_RLE_BITS * lengths))
    # counts[m] += counts[m - 2] for m > 2: two interleaved cumulative sums
    runs = values.copy()
    runs[1::2] = np.cumsum(values[1::2])
    runs[2::2] = np.cumsum(values[2::2])
    if (runs < 0).any():
        raise ValueError("negative run length")
    return runs


def encode_rle(mask: np.ndarray) -> dict[str, Any]:
    """(H, W) bool -> ``{"size": [H, W], "counts": str}`` (COCO compressed RLE, as in MeViS)."""
    rle = mask_utils.encode(np.asfortranarray(np.asarray(mask, dtype=np.uint8)))
    return {"size": [int(rle["size"][0]), int(rle["size"][1])],
            "counts": rle["counts"].decode("ascii")}


def check_rle(entry: Any, where: str) -> dict[str, Any]:
    """Validate the structure of one RLE dict; return it with bytes counts for pycocotools."""
    if not isinstance(entry, dict) or "size" not in entry or "counts" not in entry:
        raise DataError(f"{where}: expected null or an RLE dict with 'size' and 'counts'")
    size = entry["size"]
    if (not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and v > 0 for v in size)):
        raise DataError(f"{where}: RLE 'size' must be [H, W] with positive integers, got {size!r}")
    counts = entry["counts"]
    if isinstance(counts, str):
        return {"size": size, "counts": counts.encode("ascii", errors="replace")}
    if isinstance(counts, list):
        return {"size": size, "counts": counts}
    raise DataError(f"{where}: RLE 'counts' must be a string (or a list), got "
                    f"{type(counts).__name__}")


def _checked_runs(rle: dict[str, Any], where: str) -> tuple[np.ndarray, dict[str, Any]]:
    """The run lengths of a structurally checked RLE and the RLE pycocotools decodes; the runs
    must cover exactly H x W pixels (pycocotools decodes anything into garbage)."""
    height, width = rle["size"]
    try:
        if isinstance(rle["counts"], list):
            runs = np.asarray(rle["counts"], dtype=np.int64)
            if (runs < 0).any():
                raise ValueError("negative run length")
            rle = mask_utils.frPyObjects(rle, height, width)
        else:
            runs = rle_counts(rle["counts"].decode("ascii"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: undecodable RLE counts ({exc})") from None
    if int(runs.sum()) != height * width:
        raise DataError(f"{where}: RLE runs cover {int(runs.sum())} pixels, expected "
                        f"{height}x{width}={height * width}")
    return runs, rle


def rle_area(entry: Any, *, where: str) -> int:
    """Foreground pixels of one mask_dict entry (0 for None), checked but not decoded."""
    if entry is None:
        return 0
    runs, _ = _checked_runs(check_rle(entry, where), where)
    return int(runs[1::2].sum())          # runs alternate background, foreground, ...


def decode_rle(entry: Any, *, size: tuple[int, int], where: str) -> np.ndarray:
    """One mask_dict entry (RLE dict or None) -> (H, W) bool; None -> all False.

    ``size`` is the expected (H, W) (the frame size); ``where`` names the file/object/frame in
    errors.
    """
    if entry is None:
        return np.zeros(size, dtype=bool)
    rle = check_rle(entry, where)
    if tuple(rle["size"]) != tuple(size):
        raise DataError(f"{where}: RLE size {rle['size']} differs from the frame size "
                        f"{list(size)}")
    _, rle = _checked_runs(rle, where)
    return mask_utils.decode(rle).astype(bool)


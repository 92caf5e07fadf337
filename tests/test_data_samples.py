"""Sample windows and skip reasons on a hand-made split."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support.mevis import write_split

from lang2motion.data.mevis.layout import (
    REASON_BLANK_TEXT,
    REASON_NO_OBJECT,
    Expression,
    VideoRecord,
)
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.mevis.rle import encode_rle
from lang2motion.data.samples import (
    REASON_NEVER_VISIBLE,
    REASON_TOO_SHORT,
    Sample,
    list_samples,
    window_starts,
)

H, W = 16, 20
LONG, SHORT = "aaaaaaaaaaaa", "bbbbbbbbbbbb"


def _mask() -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[4:10, 5:12] = True
    return m


def _split(root: Path) -> MevisSplit:
    """LONG: 10 frames. Object 1 always present, 2 from frame 4, 3 only at odd frames, 4 has an
    all-zero RLE (not null) at frame 0 and is present from frame 1. SHORT: 3 frames."""
    m = _mask()
    long_masks = {
        "1": [m] * 10,
        "2": [None] * 4 + [m] * 6,
        "3": [m if t % 2 else None for t in range(10)],
        "4": [None] + [m] * 9,
    }
    long = VideoRecord(LONG, np.zeros((10, H, W, 3), np.uint8), long_masks, [
        Expression("0", "object one", (0,), ("1",)),
        Expression("1", "one and two", (0, 1), ("1", "2")),
        Expression("2", "blinking three", (2,), ("3",)),
        Expression("3", "nothing at all", (), ()),
        Expression("4", "four", (3,), ("4",)),
        Expression("5", "   ", (0,), ("1",)),           # blank: skipped and counted
    ])
    short = VideoRecord(SHORT, np.zeros((3, H, W, 3), np.uint8), {"9": [m] * 3},
                        [Expression("0", "too short", (0,), ("9",))])
    write_split(root, "train", [long, short])
    # an empty RLE that is not null: present in the file, yet the object is not visible
    path = root / "train" / "mask_dict.json"
    masks = json.loads(path.read_text())
    masks["4"][0] = encode_rle(np.zeros((H, W), dtype=bool))
    path.write_text(json.dumps(masks))
    return MevisSplit(root, "train")


def test_window_starts() -> None:
    assert window_starts(10, frames=4, window_stride=2) == [0, 2, 4, 6]
    assert window_starts(10, frames=10, window_stride=3) == [0]
    assert window_starts(3, frames=4, window_stride=1) == []


def test_windows_and_skip_reasons(tmp_path: Path) -> None:
    split = _split(tmp_path)
    index = list_samples(split, frames=4, window_stride=2, max_windows=0)
    got = [(s.video_id, s.exp_id, s.start) for s in index.samples]
    assert got == [(LONG, "0", 0), (LONG, "0", 2), (LONG, "0", 4), (LONG, "0", 6),
                   (LONG, "1", 4), (LONG, "1", 6),
                   (LONG, "4", 2), (LONG, "4", 4), (LONG, "4", 6)]
    assert all(s.frames == 4 for s in index.samples)
    reasons = {(item["video_id"], item["exp_id"]): item["reason"] for item in index.skipped}
    assert reasons == {(LONG, "2"): REASON_NEVER_VISIBLE, (LONG, "3"): REASON_NO_OBJECT,
                       (LONG, "5"): REASON_BLANK_TEXT, (SHORT, "0"): REASON_TOO_SHORT}
    assert index.summary() == {REASON_TOO_SHORT: 1, REASON_NEVER_VISIBLE: 1,
                               REASON_NO_OBJECT: 1, REASON_BLANK_TEXT: 1}
    skipped_text = {item["text"] for item in index.skipped}
    assert skipped_text == {"blinking three", "nothing at all", "too short", "   "}


def test_max_windows_and_max_videos(tmp_path: Path) -> None:
    split = _split(tmp_path)
    index = list_samples(split, frames=4, window_stride=2, max_windows=1, max_videos=1)
    assert [(s.exp_id, s.start) for s in index.samples] == [("0", 0), ("1", 4), ("4", 2)]
    assert {item["video_id"] for item in index.skipped} == {LONG}
    odd = list_samples(split, frames=4, window_stride=1, max_windows=2)
    assert [(s.exp_id, s.start) for s in odd.samples if s.exp_id == "2"] == [("2", 1), ("2", 3)]


def test_track_key_is_shared_by_rows_with_the_same_objects_and_window() -> None:
    a = Sample("v" * 12, "0", "x", ("12", "3"), 15, 30)
    b = Sample("v" * 12, "7", "y", ("3", "12"), 15, 30)
    assert a.track_key == b.track_key == "vvvvvvvvvvvv/12+3/00015"
    assert Sample("v" * 12, "0", "x", ("3",), 0, 30).track_key == "vvvvvvvvvvvv/3/00000"


def test_split_without_masks_cannot_give_windows(tmp_path: Path) -> None:
    split = _split(tmp_path)
    (split.split_dir / "mask_dict.json").unlink()
    with pytest.raises(ValueError, match="no mask_dict.json"):
        list_samples(MevisSplit(tmp_path, "train"), frames=4, window_stride=2, max_windows=0)

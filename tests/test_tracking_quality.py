"""Degenerate tracks are measured and named: static rows and points never visible again."""

from __future__ import annotations

import numpy as np
import pytest

from lang2motion.geometry import normalise
from lang2motion.store import TrackRow
from lang2motion.tracking.quality import (
    STATIC_PX,
    implausible,
    row_displacement_px,
    track_quality,
)

W, H, T, N = 256, 128, 5, 2


def _row(shift_px: float, visible_after: bool = True) -> TrackRow:
    """Two points; point 0 moves ``shift_px`` to the right by the last frame."""
    px = np.tile(np.array([[100.0, 50.0], [150.0, 60.0]]), (T, 1, 1))       # (T, N, 2)
    px[:, 0, 0] += np.linspace(0.0, shift_px, T)
    visible = np.ones((T, N), bool)
    if not visible_after:
        visible[1:] = False
    return TrackRow(track_id="v/1/00000", video_id="v", anno_ids=("1",), start=0, exp_ids=("e",),
                    texts=("t",), tracks=normalise(px, W, H), visible=visible, width=W,
                    height=H, tracker="lk")


def test_displacement_in_pixels_and_shares_by_hand() -> None:
    assert row_displacement_px(_row(1.3)) == pytest.approx(1.3, abs=1e-3)
    assert row_displacement_px(_row(12.0)) == pytest.approx(12.0, abs=1e-3)
    rows = [_row(1.3), _row(12.0), _row(30.0, visible_after=False), _row(0.0)]
    quality = track_quality(rows)
    # rows 0 and 3 move less than 2 px; row 2's two points are never visible after frame 0
    assert quality["static_share"] == pytest.approx(2 / 4)
    assert quality["invisible_share"] == pytest.approx(2 / 8)
    assert quality["static_px"] == STATIC_PX and quality["rows"] == 4 and quality["points"] == 8
    assert track_quality([])["static_share"] is None


def test_implausible_tracks_warn_in_one_line() -> None:
    broken = track_quality([_row(1.3, visible_after=False), _row(0.5, visible_after=False)])
    line = implausible(broken, split="valid_u", tracker="cotracker3")
    assert line is not None and "\n" not in line
    assert "tracker cotracker3, split valid_u" in line
    assert "100% of track rows move less than 2 px" in line
    assert "100% of points are invisible after the query frame" in line
    healthy = track_quality([_row(12.0), _row(20.0), _row(1.0)])
    assert implausible(healthy, split="train", tracker="lk") is None


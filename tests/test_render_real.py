"""Overlays on real footage: BADJA joint tracks over the DAVIS camel frames (854 x 480).

Skipped unless LANG2MOTION_REAL_DATA points at the shared real-data folder. The joints lie within
5 px of the DAVIS mask (SOURCES.md), so their trails must land on the camel, not beside it.
"""

import json
import os
from pathlib import Path

import cv2
import imageio.v2 as imageio
import numpy as np
import pytest

from lang2motion.config import OVERLAY_COLORS as COLORS
from lang2motion.render.overlay import render_overlays
from lang2motion.render.video import write_mp4

ANNOTATED = [8, 9, 10, 12, 13, 14, 15, 18, 19, 20, 22, 23, 24, 25, 28, 31, 32, 33, 35, 36]
BADJA_TO_480P = 480 / 1080
SIZE = 224
MASK_SLACK_PX = 5           # joints lie within 5 px of the mask at 480p; allow the same at SIZE
MIN_ON_MASK = 0.9           # fraction of trail pixels that must lie on the (slack) mask


@pytest.fixture(scope="module")
def camel():
    root = os.environ.get("LANG2MOTION_REAL_DATA")
    if not root:
        pytest.skip("LANG2MOTION_REAL_DATA is not set")
    root = Path(root)
    entries = json.loads((root / "badja" / "camel.json").read_text())
    names = [Path(e["image_path"]).stem for e in entries]
    frames = np.stack([cv2.imread(str(root / "davis/camel/frames" / f"{n}.jpg"))[..., ::-1]
                       for n in names])
    masks = np.stack([cv2.imread(str(root / "davis/camel/masks" / f"{n}.png"),
                                 cv2.IMREAD_GRAYSCALE) > 127 for n in names])
    joints = np.array([e["joints"] for e in entries], dtype=np.float32)[:, ANNOTATED]
    tracks = joints[..., ::-1] * BADJA_TO_480P                  # (row, col) 1080p -> (x, y) 480p
    visible = np.array([e["visibility"] for e in entries], dtype=bool)[:, ANNOTATED]
    return frames, masks, tracks, visible


def test_trails_on_real_frames_land_on_the_object(camel, tmp_path):
    frames, masks, tracks, visible = camel
    out = render_overlays(frames, tracks, visible, size=SIZE, color="cyan", opacity=1.0,
                          line_width=1)
    assert out.shape == (len(frames), SIZE, SIZE, 3)
    scale = np.array([SIZE / frames.shape[2], SIZE / frames.shape[1]])
    kernel = np.ones((2 * MASK_SLACK_PX + 1,) * 2, np.uint8)
    seen = np.zeros((SIZE, SIZE), bool)
    for t in range(len(frames)):
        # every visible joint is drawn where it is (within a pixel of its rounded position)
        for x, y in np.rint(tracks[t][visible[t]] * scale).astype(int):
            patch = out[t, max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
            assert (patch == COLORS["cyan"]).all(axis=-1).any(), (t, x, y)
        # the trails so far lie on the camel's masks so far
        small = cv2.resize(masks[t].astype(np.uint8), (SIZE, SIZE),
                           interpolation=cv2.INTER_NEAREST)
        seen |= cv2.dilate(small, kernel).astype(bool)
        trail = (out[t] == COLORS["cyan"]).all(axis=-1)
        assert trail.any()
        assert (trail & seen).sum() / trail.sum() >= MIN_ON_MASK

    path = tmp_path / "camel.mp4"
    write_mp4(path, out, fps=10)
    assert len(imageio.mimread(path, format="FFMPEG")) == len(frames)

"""A generated (or imported) trajectory and its JSON file: what `lang2motion` verbs write and read.

File schema (``lang2motion.trajectory/1``)::

    {"schema": "lang2motion.trajectory/1",
     "label": "a red ball bouncing to the right",      # the prompt, or what made it
     "source": {"kind": "text", ...},                  # text | image | overlay | edit | ...
     "width": 256, "height": 256,                      # the frame the pixels refer to
     "frames": 30, "points": 36,
     "tracks_px": [[[x, y], ...], ...],                # (T, N, 2) pixels, pixel centres at integers
     "tracks_normalised": [[[x, y], ...], ...],        # (T, N, 2) in [-1, 1] (paper eq. 3)
     "model": {"path": "models", "epoch": 50, "git_rev": "..."},
     "clip": {"model": "ViT-B-32", "pretrained": "none"}}

``tracks_normalised`` is authoritative; ``tracks_px`` is the same data for other tools.
Legend: T frames, N points, H/W frame size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.errors import DataError
from lang2motion.geometry import denormalise
from lang2motion.io import read_json, write_json_atomic
from lang2motion.store import check_coordinates

SCHEMA = "lang2motion.trajectory/1"
DECIMALS_NORMALISED = 5
DECIMALS_PX = 2


@dataclass
class Trajectory:
    """(T, N, 2) normalised tracks of N points in a W x H frame, with what made them."""

    tracks: np.ndarray                       # (T, N, 2) float32, normalised to [-1, 1]
    width: int
    height: int
    label: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)   # model, clip
    path: str = ""                           # the file it was read from (not written)

    @property
    def tracks_px(self) -> np.ndarray:       # (T, N, 2) float32 pixels
        return denormalise(self.tracks, self.width, self.height)

    @property
    def grid(self) -> np.ndarray:            # (N, 2) the initial positions, normalised
        return self.tracks[0]

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "label": self.label, "source": self.source,
                "width": self.width, "height": self.height,
                "frames": int(self.tracks.shape[0]), "points": int(self.tracks.shape[1]),
                "tracks_px": np.round(self.tracks_px, DECIMALS_PX).tolist(),
                "tracks_normalised": np.round(self.tracks, DECIMALS_NORMALISED).tolist(),
                **self.meta}


def write_trajectory(path: str | os.PathLike[str], trajectory: Trajectory) -> None:
    write_json_atomic(path, trajectory.to_json())


def read_trajectory(path: str | os.PathLike[str]) -> Trajectory:
    """DataError naming the file and the field when it is not a trajectory file."""
    path = Path(path)
    data = read_json(path, what="trajectory file")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DataError(f"{path}: not a lang2motion trajectory file (expected \"schema\": "
                        f"\"{SCHEMA}\"; write one with `lang2motion generate`)")
    try:
        tracks = np.asarray(data["tracks_normalised"], dtype=np.float32)
        width, height = int(data["width"]), int(data["height"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: missing or malformed field ({exc})") from None
    if tracks.ndim != 3 or tracks.shape[-1] != 2 or min(tracks.shape[:2]) < 1:
        raise DataError(f"{path}: tracks_normalised must be (T, N, 2), got {tracks.shape}")
    if width < 1 or height < 1:
        raise DataError(f"{path}: width and height must be positive, got {width}x{height}")
    check_coordinates(tracks[None], where=str(path), ids=[path.name])
    meta = {k: data[k] for k in ("model", "clip") if k in data}
    return Trajectory(tracks=tracks, width=width, height=height,
                      label=str(data.get("label", "")), source=dict(data.get("source") or {}),
                      meta=meta, path=str(path))

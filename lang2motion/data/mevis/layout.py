"""The MeViS layout (as released, github henghuiding/MeViS): file names, formats and records.

A split folder holds ``JPEGImages/<video_id>/<frame>.jpg``, ``meta_expressions.json`` (or
``meta_expressions_v2.json``) and, except for the online ``valid`` split, ``mask_dict.json``.
Legend: T frames, H height, W width.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

FRAMES_DIR = "JPEGImages"
MASK_DICT_NAME = "mask_dict.json"
META_NAMES = ("meta_expressions.json", "meta_expressions_v2.json")
FRAME_EXT = ".jpg"
FRAME_NAME_DIGITS = 5
JPEG_QUALITY = 95
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
JPEG_EXTS = (".jpg", ".jpeg")
VIDEO_ID_HEX = 12             # MeViS video ids are 12 hex characters
REASON_NO_OBJECT = "no object (empty anno_id)"
REASON_BLANK_TEXT = "blank caption"


@dataclass(frozen=True)
class Expression:
    exp_id: str
    text: str
    obj_ids: tuple[int, ...]
    anno_ids: tuple[str, ...]


@dataclass(frozen=True)
class Video:
    video_id: str
    frame_names: tuple[str, ...]
    expressions: tuple[Expression, ...]


@dataclass(frozen=True)
class VideoRecord:
    """One video to write with :class:`~lang2motion.data.mevis.writer.SplitWriter`.

    frames: (T, H, W, 3) uint8 RGB array, or T image files (JPEGs are copied byte for byte).
    masks: anno_id -> T entries, each a (H, W) bool mask or None (object absent). An empty mask
    is written as null, as in MeViS.
    """

    video_id: str
    frames: np.ndarray | Sequence[str | os.PathLike[str]]
    masks: Mapping[str, Sequence[np.ndarray | None]]
    expressions: Sequence[Expression]
    frame_names: Sequence[str] | None = None


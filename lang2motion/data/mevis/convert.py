"""Importing a clip (a folder of frames, per-frame mask PNGs, captions) into a MeViS-format split.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

from lang2motion.data.mevis.layout import (
    IMAGE_EXTS,
    MASK_DICT_NAME,
    VIDEO_ID_HEX,
    Expression,
    VideoRecord,
)
from lang2motion.data.mevis.maskindex import MaskDict
from lang2motion.data.mevis.writer import write_split
from lang2motion.errors import DataError
from lang2motion.images import read_mask, read_rgb


def _list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_EXTS)})")
    return files


def import_clip(frames_dir: str | os.PathLike[str], masks_dir: str | os.PathLike[str],
                captions: Sequence[str], *, out_root: str | os.PathLike[str], split: str,
                video_id: str | None = None, anno_id: str | None = None,
                max_frames: int = 0) -> str:
    """Add one clip (frames + per-frame 0/255 mask PNGs of one object + captions) to a split.

    Masks are matched to frames by file stem (``frames/00012.jpg`` <-> ``masks/00012.png``).
    ``max_frames`` > 0 keeps only the first frames. The video id defaults to 12 hex characters
    hashed from the frames folder and the captions; the anno id to one more than the largest in
    the split. Returns the video id.
    """
    frames_dir, masks_dir = Path(frames_dir), Path(masks_dir)
    if not captions or not all(isinstance(c, str) and c.strip() for c in captions):
        raise DataError(f"{frames_dir}: empty expression set (captions must be non-empty text)")
    frames = _list_images(frames_dir)
    if max_frames > 0:
        frames = frames[:max_frames]
    masks_by_stem = {p.stem: p for p in _list_images(masks_dir)}
    first = read_rgb(frames[0])
    size = (int(first.shape[0]), int(first.shape[1]))
    masks = []
    for frame in frames:
        if frame.stem not in masks_by_stem:
            raise DataError(f"{masks_dir / (frame.stem + '.png')}: missing mask for frame "
                            f"{frame.name}")
        masks.append(read_mask(masks_by_stem[frame.stem], size=size, allow_empty=True))

    split_dir = Path(out_root) / split
    existing_annos: list[int] = []
    if (split_dir / MASK_DICT_NAME).is_file():
        existing_annos = [int(k) for k in MaskDict(split_dir / MASK_DICT_NAME).offsets
                          if k.isdigit()]
    if anno_id is None:
        anno_id = str(max(existing_annos, default=-1) + 1)
    if video_id is None:
        digest = hashlib.sha1()
        digest.update(str(frames_dir.resolve()).encode())
        for caption in captions:
            digest.update(b"\0" + caption.encode())
        video_id = digest.hexdigest()[:VIDEO_ID_HEX]
    expressions = [Expression(str(i), caption.strip(), (0,), (anno_id,))
                   for i, caption in enumerate(captions)]
    record = VideoRecord(video_id=video_id, frames=frames, masks={anno_id: masks},
                         expressions=expressions)
    write_split(out_root, split, [record], append=True)
    return video_id


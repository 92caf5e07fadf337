"""Writing videos, masks and expressions in the MeViS layout (new splits, or appending).

Legend: T frames, H height, W width.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lang2motion.data.mevis.layout import (
    FRAME_EXT,
    FRAME_NAME_DIGITS,
    FRAMES_DIR,
    JPEG_EXTS,
    JPEG_QUALITY,
    MASK_DICT_NAME,
    META_NAMES,
    VideoRecord,
)
from lang2motion.data.mevis.maskindex import MaskDict
from lang2motion.data.mevis.reader import find_meta, read_json
from lang2motion.data.mevis.rle import encode_rle
from lang2motion.errors import DataError
from lang2motion.images import read_rgb
from lang2motion.io import atomic_path, write_bytes_atomic

TAIL_BYTES = 4096             # enough of the file's end to find its closing brace


def _encode_jpeg(rgb: np.ndarray, quality: int, where: str) -> bytes:
    ok, buf = cv2.imencode(FRAME_EXT, np.ascontiguousarray(rgb[:, :, ::-1]),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DataError(f"{where}: JPEG encoding failed")
    return buf.tobytes()


def _write_frames(record: VideoRecord, folder: Path, names: Sequence[str],
                  quality: int) -> tuple[int, int]:
    """Write the frames of one record; return their (H, W)."""
    frames = record.frames
    if isinstance(frames, np.ndarray):
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise DataError(f"video {record.video_id}: frames must be (T, H, W, 3) uint8, got "
                            f"{frames.shape} {frames.dtype}")
        for name, rgb in zip(names, frames, strict=True):
            write_bytes_atomic(folder / f"{name}{FRAME_EXT}",
                               _encode_jpeg(rgb, quality, f"video {record.video_id}"))
        return int(frames.shape[1]), int(frames.shape[2])
    size = None
    for name, src in zip(names, frames, strict=True):
        src = Path(src)
        rgb = read_rgb(src)          # checked: a truncated JPEG is refused, not copied
        if size is not None and rgb.shape[:2] != size:
            raise DataError(f"{src}: frame size {rgb.shape[:2]} differs from the first "
                            f"frame's {size}")
        size = rgb.shape[:2]
        if src.suffix.lower() in JPEG_EXTS:
            write_bytes_atomic(folder / f"{name}{FRAME_EXT}", src.read_bytes())
        else:
            write_bytes_atomic(folder / f"{name}{FRAME_EXT}", _encode_jpeg(rgb, quality, str(src)))
    assert size is not None, "a record has at least one frame"
    return int(size[0]), int(size[1])


def _record_masks(record: VideoRecord, count: int, size: tuple[int, int]) -> dict[str, list]:
    out: dict[str, list] = {}
    for anno_id, masks in record.masks.items():
        where = f"video {record.video_id} anno_id {anno_id}"
        if not str(anno_id).isdigit():
            raise DataError(f"{where}: MeViS anno ids are integers, got {anno_id!r}")
        if len(masks) != count:
            raise DataError(f"{where}: {len(masks)} masks for {count} frames")
        entries = []
        for t, mask in enumerate(masks):
            if mask is None:
                entries.append(None)
                continue
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != size:
                raise DataError(f"{where} frame {t}: mask shape {mask.shape} differs from the "
                                f"frame size {size}")
            entries.append(encode_rle(mask) if mask.any() else None)
        out[str(anno_id)] = entries
    return out


def _meta_entry(record: VideoRecord, names: Sequence[str]) -> dict[str, Any]:
    if not record.expressions:
        raise DataError(f"video {record.video_id}: empty expression set")
    exps: dict[str, Any] = {}
    for exp in record.expressions:
        for anno_id in exp.anno_ids:
            if anno_id not in record.masks:
                raise DataError(f"video {record.video_id} expression {exp.exp_id} "
                                f"({exp.text!r}): anno_id {anno_id} has no masks")
        if exp.exp_id in exps:
            raise DataError(f"video {record.video_id}: duplicate expression id {exp.exp_id!r}")
        exps[exp.exp_id] = {"exp": exp.text, "obj_id": list(exp.obj_ids),
                            "anno_id": [int(a) for a in exp.anno_ids]}
    return {"frames": list(names), "expressions": exps}


def _write_mask_dict(path: Path, entries: dict[str, list]) -> None:
    """Write (or append to) mask_dict.json; appending streams the old file, never parses it."""
    new_keys = sorted(entries, key=lambda k: (len(k), k))
    if not path.is_file():
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump({k: entries[k] for k in new_keys}, fh, separators=(",", ":"))
        return
    existing = MaskDict(path).offsets
    clash = sorted(set(existing) & set(entries))
    if clash:
        raise DataError(f"{path}: anno_id(s) {clash[:5]} already present")
    size = path.stat().st_size
    with open(path, "rb") as src:
        src.seek(max(0, size - TAIL_BYTES))
        tail = src.read()
    if not tail.rstrip().endswith(b"}"):
        raise DataError(f"{path}: does not end with '}}' (truncated file?)")
    closing = size - len(tail) + len(tail.rstrip()) - 1
    parts = [json.dumps(k) + ":" + json.dumps(entries[k], separators=(",", ":"))
             for k in new_keys]
    with atomic_path(path) as tmp:
        shutil.copyfile(path, tmp)
        with open(tmp, "r+b") as dst:
            dst.truncate(closing)
            dst.seek(closing)
            dst.write(((", " if existing else "") + ",".join(parts) + "}").encode("utf-8"))


class SplitWriter:
    """Writes videos into ``root/split`` in the MeViS layout: :meth:`add` writes a video's
    frames and keeps its masks and expressions, :meth:`close` writes ``mask_dict.json`` and the
    expressions file once (sorted keys: equal input, equal bytes). An existing split is
    appended to."""

    def __init__(self, root: str | os.PathLike[str], split: str):
        self.split_dir = Path(root) / split
        self.meta_path = self.split_dir / META_NAMES[0]
        self.meta: dict[str, Any] = {"videos": {}}
        if self.split_dir.is_dir():
            self.meta_path = find_meta(self.split_dir)
            self.meta = read_json(self.meta_path)
        self.entries: dict[str, list] = {}

    def add(self, record: VideoRecord) -> None:
        if record.video_id in self.meta["videos"]:
            raise DataError(f"{self.split_dir}: video {record.video_id} already present")
        count = len(record.frames)
        if count == 0:
            raise DataError(f"video {record.video_id}: no frames")
        names = list(record.frame_names or (f"{i:0{FRAME_NAME_DIGITS}d}" for i in range(count)))
        if len(names) != count:
            raise DataError(f"video {record.video_id}: {len(names)} frame names for {count} "
                            "frames")
        folder = self.split_dir / FRAMES_DIR / record.video_id
        size = _write_frames(record, folder, names, JPEG_QUALITY)
        masks = _record_masks(record, count, size)
        clash = sorted(set(masks) & set(self.entries))
        if clash:
            raise DataError(f"video {record.video_id}: anno_id(s) {clash} used by another video")
        self.entries.update(masks)
        self.meta["videos"][record.video_id] = _meta_entry(record, names)

    def close(self) -> Path:
        """Write the masks and the expressions (last: a split without them is incomplete)."""
        if not self.meta["videos"]:
            raise DataError(f"{self.split_dir}: no videos to write")
        _write_mask_dict(self.split_dir / MASK_DICT_NAME, self.entries)
        with atomic_path(self.meta_path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            json.dump(self.meta, fh, sort_keys=True, indent=1)
        return self.split_dir

"""Reading one MeViS(-format) split lazily: videos, expressions, frames and object masks.

Legend: T frames, H height, W width, K objects.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion import io
from lang2motion.data.mevis.layout import (
    FRAME_EXT,
    FRAMES_DIR,
    MASK_DICT_NAME,
    META_NAMES,
    REASON_BLANK_TEXT,
    REASON_NO_OBJECT,
    Expression,
    Video,
)
from lang2motion.data.mevis.maskindex import MaskDict
from lang2motion.data.mevis.rle import decode_rle, rle_area
from lang2motion.errors import DataError
from lang2motion.images import read_rgb

MASK_CACHE_SIZE = 64          # parsed mask lists kept per split (one list = one object's video)


def find_meta(split_dir: Path) -> Path:
    for name in META_NAMES:
        if (split_dir / name).is_file():
            return split_dir / name
    raise DataError(f"{split_dir}: no {' or '.join(META_NAMES)} (not a MeViS split folder)")


def read_json(path: Path) -> Any:
    """A MeViS annotation file (UTF-8 JSON)."""
    return io.read_json(path, what="MeViS annotation file")


def _parse_meta(meta_path: Path, skipped: list[dict[str, Any]]) -> dict[str, Video]:
    raw = read_json(meta_path)
    if not isinstance(raw, dict) or not isinstance(raw.get("videos"), dict):
        raise DataError(f"{meta_path}: expected {{'videos': {{video_id: ...}}}}")
    if not raw["videos"]:
        raise DataError(f"{meta_path}: no videos")
    videos: dict[str, Video] = {}
    for video_id, entry in raw["videos"].items():
        where = f"{meta_path}: video {video_id}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}: expected an object with 'frames' and 'expressions'")
        frames = entry.get("frames")
        if not isinstance(frames, list) or not frames:
            raise DataError(f"{where}: 'frames' must be a non-empty list of frame names")
        exps = entry.get("expressions")
        if not isinstance(exps, dict) or not exps:
            raise DataError(f"{where}: empty expression set")
        kept = []
        for exp_id, exp in exps.items():
            kept_exp = _parse_expression(str(exp_id), exp, f"{where} expression {exp_id}")
            reason = (REASON_BLANK_TEXT if not kept_exp.text.strip()
                      else None if kept_exp.anno_ids else REASON_NO_OBJECT)
            if reason is None:
                kept.append(kept_exp)
            else:     # counted in the prepare summary, never trained on
                skipped.append({"video_id": video_id, "exp_id": str(exp_id),
                                "text": kept_exp.text, "reason": reason})
        kept.sort(key=lambda e: (0, int(e.exp_id), "") if e.exp_id.isdigit() else (1, 0, e.exp_id))
        videos[video_id] = Video(video_id, tuple(str(f) for f in frames), tuple(kept))
    return videos


def _parse_expression(exp_id: str, exp: Any, where: str) -> Expression:
    if not isinstance(exp, dict) or not isinstance(exp.get("exp"), str):
        raise DataError(f"{where}: expected an object with 'exp' (text) and 'anno_id'")
    anno = exp.get("anno_id")
    if not isinstance(anno, list):
        raise DataError(f"{where}: 'anno_id' must be a list, got {anno!r}")
    obj = exp.get("obj_id", list(range(len(anno))))
    if not isinstance(obj, list):
        raise DataError(f"{where}: 'obj_id' must be a list, got {obj!r}")
    try:
        obj_ids = tuple(int(o) for o in obj)
    except (TypeError, ValueError):
        raise DataError(f"{where}: 'obj_id' must hold integers, got {obj!r}") from None
    return Expression(exp_id, exp["exp"], obj_ids, tuple(str(a) for a in anno))


class MevisSplit:
    """One split folder of a MeViS(-format) data set, read lazily.

    ``skipped`` lists expressions left out at load time (v2 expressions with an empty
    ``anno_id``), each ``{video_id, exp_id, text, reason}``.
    """

    def __init__(self, root: str | os.PathLike[str], split: str):
        self.root = Path(root)
        self.split = split
        self.split_dir = self.root / split
        if not self.split_dir.is_dir():
            raise DataError(f"{self.split_dir}: split folder not found")
        self.meta_path = find_meta(self.split_dir)
        self.mask_path = self.split_dir / MASK_DICT_NAME
        self.has_masks = self.mask_path.is_file()
        self.skipped: list[dict[str, Any]] = []
        self._videos = _parse_meta(self.meta_path, self.skipped)
        self._masks = MaskDict(self.mask_path) if self.has_masks else None
        # parsed mask lists, most recently used kept; lru_cache is safe to call from the
        # threads the stages read frames and masks with
        self._load_masks = (functools.lru_cache(maxsize=MASK_CACHE_SIZE)(self._masks.load)
                            if self._masks is not None else None)
        self._checked: set[str] = set()
        self._sizes: dict[str, tuple[int, int]] = {}

    # -- videos and expressions ---------------------------------------------------------------
    def video_ids(self) -> list[str]:
        return list(self._videos)

    def video(self, video_id: str) -> Video:
        try:
            video = self._videos[video_id]
        except KeyError:
            raise DataError(f"{self.meta_path}: no video {video_id!r}") from None
        if self._masks is not None and video_id not in self._checked:
            for exp in video.expressions:
                for anno_id in exp.anno_ids:
                    if anno_id not in self._masks:
                        raise DataError(f"{self.mask_path}: anno_id {anno_id} named by video "
                                        f"{video_id} expression {exp.exp_id} ({exp.text!r}) is "
                                        f"not in the file")
            self._checked.add(video_id)
        return video

    def __iter__(self) -> Iterator[Video]:
        for video_id in self._videos:
            yield self.video(video_id)

    def __len__(self) -> int:
        return len(self._videos)

    # -- frames --------------------------------------------------------------------------------
    def frame_path(self, video_id: str, frame_name: str) -> Path:
        return self.split_dir / FRAMES_DIR / video_id / f"{frame_name}{FRAME_EXT}"

    def frame_size(self, video_id: str) -> tuple[int, int]:
        """(H, W) of the video, from its first frame."""
        if video_id not in self._sizes:
            first = self.video(video_id).frame_names[0]
            image = read_rgb(self.frame_path(video_id, first))
            self._sizes[video_id] = (int(image.shape[0]), int(image.shape[1]))
        return self._sizes[video_id]

    def _window(self, video_id: str, start: int, stop: int | None) -> tuple[Video, int, int]:
        video = self.video(video_id)
        length = len(video.frame_names)
        stop = length if stop is None else stop
        if not 0 <= start < stop <= length:
            raise DataError(f"video {video_id}: frame window [{start}, {stop}) outside "
                            f"[0, {length})")
        return video, start, stop

    def read_frames(self, video_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames [start, stop) as (T, H, W, 3) uint8 RGB."""
        video, start, stop = self._window(video_id, start, stop)
        size = self.frame_size(video_id)
        out = np.empty((stop - start, *size, 3), dtype=np.uint8)
        for i, name in enumerate(video.frame_names[start:stop]):
            path = self.frame_path(video_id, name)
            image = read_rgb(path)    # truncated or corrupt JPEGs are named, not half-decoded
            if image.shape[:2] != size:
                raise DataError(f"{path}: frame size {image.shape[:2]} differs from the first "
                                f"frame's {size}")
            out[i] = image
        return out

    # -- masks ---------------------------------------------------------------------------------
    def _mask_list(self, video_id: str, anno_id: str) -> list[Any]:
        if self._load_masks is None:
            raise DataError(f"{self.split_dir}: split has no {MASK_DICT_NAME} (online "
                            f"evaluation split): masks of video {video_id} are unknown")
        entries = self._load_masks(anno_id)
        length = len(self.video(video_id).frame_names)
        if len(entries) != length:
            raise DataError(f"{self.mask_path}: anno_id {anno_id} has {len(entries)} masks but "
                            f"video {video_id} has {length} frames")
        return entries

    def object_masks(self, video_id: str, anno_ids: Sequence[str], start: int = 0,
                     stop: int | None = None) -> np.ndarray:
        """Union mask of the objects over frames [start, stop): (T, H, W) bool; null -> empty."""
        _, start, stop = self._window(video_id, start, stop)
        size = self.frame_size(video_id)
        out = np.zeros((stop - start, *size), dtype=bool)
        for anno_id in anno_ids:
            entries = self._mask_list(video_id, str(anno_id))
            for i in range(start, stop):
                where = f"{self.mask_path}: anno_id {anno_id} frame {i}"
                out[i - start] |= decode_rle(entries[i], size=size, where=where)
        return out

    def object_presence(self, video_id: str, anno_ids: Sequence[str]) -> np.ndarray:
        """(T_video, K) bool: object k has a non-null, non-empty mask at frame t. Every RLE is
        checked (a corrupt one is a DataError, not an absent object) but not decoded."""
        length = len(self.video(video_id).frame_names)
        out = np.zeros((length, len(anno_ids)), dtype=bool)
        for k, anno_id in enumerate(anno_ids):
            entries = self._mask_list(video_id, str(anno_id))
            for t, entry in enumerate(entries):
                where = f"{self.mask_path}: anno_id {anno_id} frame {t}"
                out[t, k] = rle_area(entry, where=where) > 0
        return out


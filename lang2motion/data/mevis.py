"""MeViS reader, writer and converter (the layout of ``reference/mevis-format.md``).

Legend: T frames, H height, W width, K objects.

A split folder holds ``JPEGImages/<video_id>/<frame>.jpg``, ``meta_expressions.json`` (or
``meta_expressions_v2.json``) and, except for the online ``valid`` split, ``mask_dict.json``.
The real ``train/mask_dict.json`` is 411 MB, so it is never parsed whole: one streaming scan
builds a byte-offset index ``anno_id -> (start, end)`` of every top-level value (cached per file
for the life of the process) and only the slices of the requested objects are parsed.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from lang2motion.errors import DataError
from lang2motion.io import atomic_path, write_bytes_atomic

FRAMES_DIR = "JPEGImages"
MASK_DICT_NAME = "mask_dict.json"
META_NAMES = ("meta_expressions.json", "meta_expressions_v2.json")
FRAME_EXT = ".jpg"
FRAME_NAME_DIGITS = 5
JPEG_QUALITY = 95
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
JPEG_EXTS = (".jpg", ".jpeg")
MASK_THRESHOLD = 127          # mask PNGs are 0/255; soft masks are cut at mid-grey
VIDEO_ID_HEX = 12             # MeViS video ids are 12 hex characters
MASK_CACHE_SIZE = 64          # parsed mask lists kept per split (one list = one object's video)
COPY_CHUNK_BYTES = 1 << 20    # streaming copy of mask_dict.json when appending
TAIL_BYTES = 4096             # enough of the file's end to find its closing brace
REASON_NO_OBJECT = "no object (empty anno_id)"

# COCO compressed RLE: each count is 5-bit groups stored as chr(48 + group); bit 0x20 = "more
# groups follow", bit 0x10 of the last group = sign. Counts after the second are deltas.
_RLE_CHAR_OFFSET = 48
_RLE_CHAR_SPAN = 64
_RLE_MORE_BIT = 0x20
_RLE_SIGN_BIT = 0x10
_RLE_VALUE_MASK = 0x1F
_RLE_BITS = 5
_RLE_MAX_GROUPS = 7           # 35 bits: more than any count of a real image needs

# One token of the JSON text for the offset scan: a whole string (group q = its closing quote;
# absent when the file ends inside it) or one structural character. Whitespace, numbers and
# literals are skipped: only depth and the top-level ',' and ':' matter.
_TOKEN_RE = re.compile(rb'(?P<s>"[^"\\]*(?:\\.[^"\\]*)*(?P<q>")?)|(?P<p>[\[\]{},:])', re.DOTALL)
_OPEN = (ord("{"), ord("["))
_CLOSE = (ord("}"), ord("]"))
_LBRACE = ord("{")
_COMMA = ord(",")
_COLON = ord(":")


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
    """One video to write with :func:`write_split`.

    frames: (T, H, W, 3) uint8 RGB array, or T image files (JPEGs are copied byte for byte).
    masks: anno_id -> T entries, each a (H, W) bool mask or None (object absent). An empty mask
    is written as null, as in MeViS.
    """

    video_id: str
    frames: np.ndarray | Sequence[str | os.PathLike[str]]
    masks: Mapping[str, Sequence[np.ndarray | None]]
    expressions: Sequence[Expression]
    frame_names: Sequence[str] | None = None


# ----------------------------------------------------------------------------------------------
# mask_dict.json: lazy byte-offset index


_INDEX_CACHE: dict[tuple[str, int, int], dict[str, tuple[int, int]]] = {}


def scan_top_level_offsets(path: str | os.PathLike[str]) -> dict[str, tuple[int, int]]:
    """Byte spans ``key -> (start, end)`` of every value of the top-level JSON object in ``path``.

    One streaming pass over a memory map (nothing is parsed but the keys), valid for any
    whitespace layout. ``json.loads(data[start:end])`` is the value of that key.
    """
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise DataError(f"{path}: empty file, expected a JSON object")
    offsets: dict[str, tuple[int, int]] = {}
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        depth = 0
        started = False
        closed = False
        expect_key = False
        key: str | None = None
        value_start = -1
        for m in _TOKEN_RE.finditer(buf):
            pos = m.start()
            if m.start("p") < 0:
                if m.start("q") < 0:
                    raise DataError(f"{path}: unterminated string at byte {pos} (truncated file?)")
                if depth == 1 and expect_key:
                    key = json.loads(buf[pos:m.end()])
                    expect_key = False
                continue
            char = buf[pos]
            if char in _OPEN:
                if depth == 0:
                    if started or char != _LBRACE:
                        raise DataError(f"{path}: not a single JSON object (byte {pos})")
                    started = True
                    expect_key = True
                depth += 1
            elif char in _CLOSE:
                if depth == 0:
                    raise DataError(f"{path}: unbalanced bracket at byte {pos}")
                if depth == 1:
                    if key is not None:
                        _add_offset(offsets, key, value_start, pos, path)
                        key = None
                    closed = True
                    break
                depth -= 1
            elif depth == 1 and char == _COLON:
                if key is None:
                    raise DataError(f"{path}: ':' without a key at byte {pos}")
                value_start = m.end()
            elif depth == 1 and char == _COMMA:
                if key is None:
                    raise DataError(f"{path}: ',' without a value at byte {pos}")
                _add_offset(offsets, key, value_start, pos, path)
                key = None
                expect_key = True
        if not closed:
            raise DataError(f"{path}: truncated JSON (the top-level object never closes)")
    return offsets


def _add_offset(offsets: dict[str, tuple[int, int]], key: str, start: int, end: int,
                path: Path) -> None:
    if start < 0:
        raise DataError(f"{path}: key {key!r} has no value")
    if key in offsets:
        raise DataError(f"{path}: duplicate key {key!r}")
    offsets[key] = (start, end)


class MaskDict:
    """Random access to one ``mask_dict.json`` without loading it whole."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._offsets: dict[str, tuple[int, int]] | None = None

    @property
    def offsets(self) -> dict[str, tuple[int, int]]:
        if self._offsets is None:
            stat = self.path.stat()
            cache_key = (str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)
            if cache_key not in _INDEX_CACHE:
                _INDEX_CACHE[cache_key] = scan_top_level_offsets(self.path)
            self._offsets = _INDEX_CACHE[cache_key]
        return self._offsets

    def __contains__(self, anno_id: str) -> bool:
        return anno_id in self.offsets

    def keys(self) -> list[str]:
        return list(self.offsets)

    def load(self, anno_id: str) -> list[Any]:
        """The raw per-frame list of one object (RLE dicts and None)."""
        try:
            start, end = self.offsets[anno_id]
        except KeyError:
            raise DataError(f"{self.path}: no object with anno_id {anno_id!r}") from None
        with open(self.path, "rb") as fh:
            fh.seek(start)
            raw = fh.read(end - start)
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{self.path}: anno_id {anno_id!r}: not valid JSON ({exc})") from None
        if not isinstance(value, list):
            raise DataError(f"{self.path}: anno_id {anno_id!r}: expected a list of per-frame "
                            f"masks, got {type(value).__name__}")
        return value


# ----------------------------------------------------------------------------------------------
# RLE helpers


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


def _check_rle(entry: Any, where: str) -> dict[str, Any]:
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


def decode_rle(entry: Any, *, size: tuple[int, int], where: str) -> np.ndarray:
    """One mask_dict entry (RLE dict or None) -> (H, W) bool; None -> all False.

    ``size`` is the expected (H, W) (the frame size); ``where`` names the file/object/frame in
    errors.
    """
    if entry is None:
        return np.zeros(size, dtype=bool)
    rle = _check_rle(entry, where)
    if tuple(rle["size"]) != tuple(size):
        raise DataError(f"{where}: RLE size {rle['size']} differs from the frame size "
                        f"{list(size)}")
    height, width = size
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
    return mask_utils.decode(rle).astype(bool)


# ----------------------------------------------------------------------------------------------
# Reader


def _find_meta(split_dir: Path) -> Path:
    for name in META_NAMES:
        if (split_dir / name).is_file():
            return split_dir / name
    raise DataError(f"{split_dir}: no {' or '.join(META_NAMES)} (not a MeViS split folder)")


def _read_json(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from None


def _parse_meta(meta_path: Path, skipped: list[dict[str, Any]]) -> dict[str, Video]:
    raw = _read_json(meta_path)
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
            if kept_exp.anno_ids:
                kept.append(kept_exp)
            else:
                skipped.append({"video_id": video_id, "exp_id": str(exp_id),
                                "text": kept_exp.text, "reason": REASON_NO_OBJECT})
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
        self.meta_path = _find_meta(self.split_dir)
        self.mask_path = self.split_dir / MASK_DICT_NAME
        self.has_masks = self.mask_path.is_file()
        self.skipped: list[dict[str, Any]] = []
        self._videos = _parse_meta(self.meta_path, self.skipped)
        self._masks = MaskDict(self.mask_path) if self.has_masks else None
        self._checked: set[str] = set()
        self._sizes: dict[str, tuple[int, int]] = {}
        self._mask_cache: OrderedDict[str, list[Any]] = OrderedDict()
        self._cache_lock = threading.Lock()     # stages read frames and masks from threads

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

    def _read_frame(self, path: Path) -> np.ndarray:
        if not path.is_file():
            raise DataError(f"{path}: missing frame file")
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise DataError(f"{path}: unreadable or corrupt image")
        return image

    def frame_size(self, video_id: str) -> tuple[int, int]:
        """(H, W) of the video, from its first frame."""
        if video_id not in self._sizes:
            first = self.video(video_id).frame_names[0]
            image = self._read_frame(self.frame_path(video_id, first))
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
            image = self._read_frame(path)
            if image.shape[:2] != size:
                raise DataError(f"{path}: frame size {image.shape[:2]} differs from the first "
                                f"frame's {size}")
            cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=out[i])  # far faster than a numpy flip
        return out

    # -- masks ---------------------------------------------------------------------------------
    def _mask_list(self, video_id: str, anno_id: str) -> list[Any]:
        if self._masks is None:
            raise DataError(f"{self.split_dir}: split has no {MASK_DICT_NAME} (online "
                            f"evaluation split): masks of video {video_id} are unknown")
        with self._cache_lock:
            entries = self._mask_cache.get(anno_id)
        if entries is None:
            entries = self._masks.load(anno_id)
            with self._cache_lock:
                self._mask_cache[anno_id] = entries
                if len(self._mask_cache) > MASK_CACHE_SIZE:
                    self._mask_cache.popitem(last=False)
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
        """(T_video, K) bool: object k has a non-null, non-empty mask at frame t (no decoding)."""
        length = len(self.video(video_id).frame_names)
        out = np.zeros((length, len(anno_ids)), dtype=bool)
        for k, anno_id in enumerate(anno_ids):
            entries = self._mask_list(video_id, str(anno_id))
            present = [t for t, e in enumerate(entries) if e is not None]
            rles = [_check_rle(entries[t], f"{self.mask_path}: anno_id {anno_id} frame {t}")
                    for t in present]
            if rles:
                areas = mask_utils.area(rles)
                out[np.asarray(present)[np.asarray(areas) > 0], k] = True
        return out


# ----------------------------------------------------------------------------------------------
# Writer


def default_frame_names(count: int) -> list[str]:
    return [f"{i:0{FRAME_NAME_DIGITS}d}" for i in range(count)]


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
        if not src.is_file():
            raise DataError(f"{src}: missing frame file")
        bgr = cv2.imread(str(src), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{src}: unreadable or corrupt image")
        if size is not None and bgr.shape[:2] != size:
            raise DataError(f"{src}: frame size {bgr.shape[:2]} differs from the first "
                            f"frame's {size}")
        size = bgr.shape[:2]
        if src.suffix.lower() in JPEG_EXTS:
            write_bytes_atomic(folder / f"{name}{FRAME_EXT}", src.read_bytes())
        else:
            write_bytes_atomic(folder / f"{name}{FRAME_EXT}",
                               _encode_jpeg(bgr[:, :, ::-1], quality, str(src)))
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


def _write_mask_dict(path: Path, entries: dict[str, list], *, append: bool) -> None:
    """Write (or append to) mask_dict.json; appending streams the old file, never parses it."""
    new_keys = sorted(entries, key=lambda k: (len(k), k))
    if not (append and path.is_file()):
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
    with atomic_path(path) as tmp, open(path, "rb") as src, open(tmp, "wb") as dst:
        remaining = closing
        while remaining > 0:
            chunk = src.read(min(remaining, COPY_CHUNK_BYTES))
            dst.write(chunk)
            remaining -= len(chunk)
        parts = [json.dumps(k) + ":" + json.dumps(entries[k], separators=(",", ":"))
                 for k in new_keys]
        dst.write(((", " if existing else "") + ",".join(parts) + "}").encode("utf-8"))


def write_split(root: str | os.PathLike[str], split: str, videos: Sequence[VideoRecord], *,
                append: bool = False, jpeg_quality: int = JPEG_QUALITY) -> Path:
    """Write videos in the MeViS layout under ``root/split``; return the split folder.

    Frames go to ``JPEGImages/<video_id>/<name>.jpg``, masks to ``mask_dict.json`` (COCO
    compressed RLE strings, null where absent), expressions to ``meta_expressions.json`` (written
    last: a split without it is incomplete). Without ``append`` the split must not exist yet.
    JSON is written with sorted keys so equal input gives byte-identical files.
    """
    split_dir = Path(root) / split
    meta_path = split_dir / META_NAMES[0]
    meta: dict[str, Any] = {"videos": {}}
    if append and split_dir.is_dir():
        meta = _read_json(_find_meta(split_dir))
        meta_path = _find_meta(split_dir)
    elif any(split_dir.glob("meta_expressions*.json")):
        raise DataError(f"{split_dir}: split already exists (delete it, or append)")
    if not videos:
        raise DataError(f"{split_dir}: no videos to write")
    entries: dict[str, list] = {}
    for record in videos:
        if record.video_id in meta["videos"]:
            raise DataError(f"{split_dir}: video {record.video_id} already present")
        count = len(record.frames)
        if count == 0:
            raise DataError(f"video {record.video_id}: no frames")
        names = list(record.frame_names or default_frame_names(count))
        if len(names) != count:
            raise DataError(f"video {record.video_id}: {len(names)} frame names for {count} "
                            "frames")
        folder = split_dir / FRAMES_DIR / record.video_id
        size = _write_frames(record, folder, names, jpeg_quality)
        masks = _record_masks(record, count, size)
        clash = sorted(set(masks) & set(entries))
        if clash:
            raise DataError(f"video {record.video_id}: anno_id(s) {clash} used by another video")
        entries.update(masks)
        meta["videos"][record.video_id] = _meta_entry(record, names)
    _write_mask_dict(split_dir / MASK_DICT_NAME, entries, append=append)
    with atomic_path(meta_path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(meta, fh, sort_keys=True, indent=1)
    return split_dir


# ----------------------------------------------------------------------------------------------
# Converter


def _list_images(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(IMAGE_EXTS)})")
    return files


def _read_mask_png(path: Path, size: tuple[int, int]) -> np.ndarray:
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise DataError(f"{path}: unreadable or corrupt mask image")
    if mask.shape != size:
        raise DataError(f"{path}: mask size {mask.shape} differs from the frame size {size}")
    return mask > MASK_THRESHOLD


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
    first = cv2.imread(str(frames[0]), cv2.IMREAD_COLOR)
    if first is None:
        raise DataError(f"{frames[0]}: unreadable or corrupt image")
    size = (int(first.shape[0]), int(first.shape[1]))
    masks = []
    for frame in frames:
        if frame.stem not in masks_by_stem:
            raise DataError(f"{masks_dir / (frame.stem + '.png')}: missing mask for frame "
                            f"{frame.name}")
        masks.append(_read_mask_png(masks_by_stem[frame.stem], size))

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


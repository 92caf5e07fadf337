"""The manifest of a folder of clips (``clips.jsonl`` or ``clips.csv``): reading and checking it.

One line (JSONL) or row (CSV) per (clip, object, caption(s)); the keys (``KEYS``) and their
meaning are README's 'Train on your own videos' table. A region (one of ``REGION_KEYS``) is in
pixels of the original frames; CSV gives clicks as ``x,y;x,y``.

Paths are relative to the manifest's folder; ``~``, ``$VAR`` / ``${VAR}`` and, as in a shell,
``${VAR:-default}`` are expanded (the example uses ``${LANG2MOTION_REAL_DATA:-...}``). A relative
path in a variable that starts the path is relative to the working directory, as in a shell.

Everything that can be checked without decoding a video is checked here, and the first problem
is refused in one paragraph naming the manifest line: invalid JSON, missing CSV columns, unknown
keys, an empty caption, a missing video or mask file, a split other than train / valid, a
duplicate (clip, object, caption), no train or no valid clip.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lang2motion.errors import DataError

MANIFEST_NAMES = ("clips.jsonl", "clips.csv")
SPLITS = ("train", "valid")
REGION_KEYS = ("mask", "masks", "box", "points")
REQUIRED_CSV_COLUMNS = ("video", "caption")
KEYS = ("video", "caption", "captions", *REGION_KEYS, "split", "start_frame", "start_time",
        "object", "fps")
CSV_COLUMNS = tuple(k for k in KEYS if k != "captions")
BOX_NUMBERS = 4
_VARIABLE = re.compile(r"\$(?:\{(\w+)(?::-([^}]*))?\}|(\w+))")   # $VAR ${VAR} ${VAR:-default}


@dataclass(frozen=True)
class Region:
    """Where the object is: ``kind`` mask | masks (paths) | box (x0, y0, x1, y1) | points."""

    kind: str
    path: Path | None = None
    box: tuple[float, float, float, float] | None = None
    points: tuple[tuple[float, float], ...] | None = None

    def describe(self) -> str:
        if self.path is not None:
            return f"{self.kind} {self.path}"
        return f"box {self.box}" if self.box is not None else f"points {self.points}"


@dataclass(frozen=True)
class ClipLine:
    """One checked manifest line."""

    line: int                      # 1-based line number in the manifest file
    video: Path                    # absolute
    captions: tuple[str, ...]
    region: Region | None          # None: given on another line of the same object
    split: str                     # train | valid
    start_frame: int | None
    start_time: float | None
    object: str | None
    fps: float | None              # frame folders only

    @property
    def clip_key(self) -> tuple[str, int | None, float | None]:
        """Lines with this key are one clip: the same source, cut at the same start."""
        return (str(self.video), self.start_frame, self.start_time)

    @property
    def object_key(self) -> str:
        """The object within its clip: the ``object`` id, else the region itself."""
        if self.object is not None:
            return f"object {self.object}"
        assert self.region is not None, "a line without object id has a region"
        return self.region.describe()


@dataclass(frozen=True)
class Manifest:
    path: Path
    lines: tuple[ClipLine, ...]

    def where(self, line: int) -> str:
        return f"{self.path}, line {line}"


def find_manifest(root: str | os.PathLike[str]) -> Path:
    """The manifest file: ``root`` itself, or the one clips.jsonl / clips.csv inside it."""
    root = Path(root)
    if root.is_file():
        return root
    if not root.is_dir():
        raise DataError(f"{root}: no such folder or manifest file (data.folder.root names a "
                        f"folder holding {' or '.join(MANIFEST_NAMES)}, or the manifest)")
    found = [root / name for name in MANIFEST_NAMES if (root / name).is_file()]
    if len(found) != 1:
        what = "both " + " and ".join(MANIFEST_NAMES) if found else "none of " + ", ".join(
            MANIFEST_NAMES)
        raise DataError(f"{root}: expected exactly one manifest, found {what}; see README "
                        "'Train on your own videos' for the schema")
    return found[0]


def _path(value: Any, key: str, base: Path, where: str) -> Path:
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"{where}: {key} must be a non-empty path, got {value!r}")
    unset: list[str] = []

    def expand(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        setting = os.environ.get(name)
        if not setting:
            if match.group(2) is not None:
                return match.group(2)
            unset.append(name)
            return match.group(0)
        return os.path.abspath(setting) if match.start() == 0 else setting

    expanded = os.path.expanduser(_VARIABLE.sub(expand, value.strip()))
    if unset:
        raise DataError(f"{where}: {key} {value!r} uses the environment variable "
                        f"${unset[0]}, which is not set")
    path = Path(expanded)
    return (path if path.is_absolute() else base / path).resolve()


def _numbers(value: Any, count: int, key: str, where: str) -> tuple[float, ...]:
    if isinstance(value, str):
        value = value.split(",")
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != count or not all(math.isfinite(v) for v in numbers):
        form = "x0,y0,x1,y1" if count == BOX_NUMBERS else "x,y"
        raise DataError(f"{where}: {key} must be {form} ({count} pixel coordinates), got "
                        f"{value!r}")
    return numbers


def _region(item: dict[str, Any], base: Path, where: str) -> Region | None:
    given = [k for k in REGION_KEYS if item.get(k) not in (None, "")]
    if len(given) > 1:
        raise DataError(f"{where}: give one of {', '.join(REGION_KEYS)} for the object, got "
                        f"{', '.join(given)}")
    if not given:
        return None
    key, value = given[0], item[given[0]]
    if key in ("mask", "masks"):
        path = _path(value, key, base, where)
        exists = path.is_file() if key == "mask" else path.is_dir()
        if not exists:
            raise DataError(f"{where}: {key} {path} not found"
                            + ("" if key == "mask" else " (a folder of per-frame mask PNGs)"))
        return Region(key, path=path)
    if key == "box":
        x0, y0, x1, y1 = _numbers(value, BOX_NUMBERS, "box", where)
        return Region("box", box=(x0, y0, x1, y1))
    clicks = value.split(";") if isinstance(value, str) else value
    if isinstance(clicks, (list, tuple)) and clicks and all(
            isinstance(c, (int, float)) for c in clicks):
        clicks = [clicks]               # one click given as [x, y]
    if not isinstance(clicks, (list, tuple)) or not clicks:
        raise DataError(f"{where}: points must be one or more clicks x,y, got {value!r}")
    points = tuple(_numbers(c, 2, "points", where) for c in clicks)
    return Region("points", points=tuple((x, y) for x, y in points))


def _captions(item: dict[str, Any], where: str) -> tuple[str, ...]:
    if "caption" in item and "captions" in item:
        raise DataError(f"{where}: give caption or captions, not both")
    raw = item.get("captions", item.get("caption"))
    if raw is None:
        raise DataError(f"{where}: no caption (give caption, or captions as a list)")
    raw = [raw] if isinstance(raw, str) else raw
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: captions must be a non-empty list of sentences, got {raw!r}")
    out = []
    for caption in raw:
        if not isinstance(caption, str) or not caption.strip():
            raise DataError(f"{where}: empty caption {caption!r}; every caption must be a "
                            "sentence describing the object's motion")
        out.append(" ".join(caption.split()))
    return tuple(out)


def _number(item: dict[str, Any], key: str, where: str, *, integer: bool) -> Any:
    value = item.get(key)
    if value in (None, ""):
        return None
    try:
        number = int(value) if integer else float(value)
        if integer and isinstance(value, float) and value != number:
            raise ValueError
    except (TypeError, ValueError):
        number = None
    if isinstance(value, bool) or number is None or not math.isfinite(number) or number < 0:
        raise DataError(f"{where}: {key} must be a {'whole ' if integer else ''}number >= 0, "
                        f"got {value!r}")
    return number


def _line(item: Any, line: int, base: Path, where: str) -> ClipLine:
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a JSON object {{\"video\": ..., \"caption\": ..., "
                        f"...}}, got {type(item).__name__}")
    unknown = sorted(set(item) - set(KEYS))
    if unknown:
        raise DataError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    if item.get("video") in (None, ""):
        raise DataError(f"{where}: no video (a video file or a folder of frames)")
    video = _path(item["video"], "video", base, where)
    if not video.exists():
        raise DataError(f"{where}: video {video} not found")
    captions = _captions(item, where)
    split = item.get("split") or "train"
    if split not in SPLITS:
        raise DataError(f"{where}: split must be {' or '.join(SPLITS)}, got {split!r}")
    start_frame = _number(item, "start_frame", where, integer=True)
    start_time = _number(item, "start_time", where, integer=False)
    if start_frame is not None and start_time is not None:
        raise DataError(f"{where}: give start_frame or start_time, not both")
    fps = _number(item, "fps", where, integer=False)
    if fps is not None and (fps <= 0 or not video.is_dir()):
        raise DataError(f"{where}: fps ({item['fps']!r}) is the frame rate of a folder of "
                        "frames (> 0); a video file's own timestamps are used")
    obj = item.get("object")
    obj = None if obj in (None, "") else str(obj)
    region = _region(item, base, where)
    if region is None and obj is None:
        raise DataError(f"{where}: no object region: give one of {', '.join(REGION_KEYS)} (or "
                        "an object id whose region another line of the clip gives)")
    return ClipLine(line=line, video=video, captions=captions, region=region, split=split,
                    start_frame=start_frame, start_time=start_time, object=obj, fps=fps)


def _jsonl_items(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        try:
            yield number, json.loads(raw)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {number}: not valid JSON ({exc.msg} at column "
                            f"{exc.colno}); each line holds one object like {{\"video\": "
                            f"\"dog.mp4\", \"caption\": \"a dog running left\", \"box\": "
                            f"\"10,20,200,180\"}}") from None


def _csv_items(path: Path, text: str) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_CSV_COLUMNS if c not in columns]
    if missing:
        raise DataError(f"{path}, line 1: missing column(s) {', '.join(missing)} in the header "
                        f"{columns}; columns: {', '.join(CSV_COLUMNS)} (video and caption "
                        "required, and one of mask, masks, box, points)")
    unknown = [c for c in columns if c not in CSV_COLUMNS]
    if unknown:
        raise DataError(f"{path}, line 1: unknown column(s) {', '.join(unknown)}; columns: "
                        f"{', '.join(CSV_COLUMNS)}")
    reader.fieldnames = columns
    for row in reader:
        if None in row:
            raise DataError(f"{path}, line {reader.line_num}: more cells than the "
                            f"{len(columns)} columns of the header (quote boxes: "
                            "\"x0,y0,x1,y1\")")
        if not any((v or "").strip() for v in row.values()):
            continue
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items()
                                if (v or "").strip()}


def _check_consistency(manifest: Manifest) -> None:
    seen: dict[tuple[Any, ...], int] = {}
    objects: dict[tuple[Any, ...], ClipLine] = {}
    for item in manifest.lines:
        key = (item.clip_key, item.object_key)
        first = objects.setdefault(key, item)
        if first.split != item.split:
            raise DataError(f"{manifest.where(item.line)}: {item.object_key} of {item.video} is "
                            f"in {item.split}, but in {first.split} on line {first.line}; one "
                            "object's captions belong to one split")
        if item.region is not None:
            if first.region is None:
                objects[key] = item
            elif first.region != item.region:
                raise DataError(f"{manifest.where(item.line)}: {item.object_key} of {item.video}"
                                f" has region {item.region.describe()}, but "
                                f"{first.region.describe()} on line {first.line}")
        for caption in item.captions:
            dup = (*key, caption.lower())
            if dup in seen:
                raise DataError(f"{manifest.where(item.line)}: duplicate (clip, object, caption)"
                                f" ({item.video}, {item.object_key}, {caption!r}), already on "
                                f"line {seen[dup]}")
            seen[dup] = item.line
    for item in objects.values():
        if item.region is None:
            raise DataError(f"{manifest.where(item.line)}: {item.object_key} of {item.video} "
                            f"has no region on any line; give one of {', '.join(REGION_KEYS)}")
    for split in SPLITS:
        if not any(item.split == split for item in manifest.lines):
            raise DataError(f"{manifest.path}: no {split} clips; mark some lines "
                            f"\"split\": \"{split}\" (training needs train clips, evaluation "
                            "valid clips)")


def read_manifest(root: str | os.PathLike[str]) -> Manifest:
    """Read and check the manifest of ``root`` (a folder or the manifest file)."""
    path = find_manifest(root).resolve()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: unreadable manifest ({exc})") from None
    items = _csv_items(path, text) if path.suffix.lower() == ".csv" else _jsonl_items(path, text)
    lines = tuple(_line(item, number, path.parent, f"{path}, line {number}")
                  for number, item in items)
    if not lines:
        raise DataError(f"{path}: the manifest lists no clips")
    manifest = Manifest(path=path, lines=lines)
    _check_consistency(manifest)
    return manifest

"""Random access to a ``mask_dict.json`` without parsing it whole.

The real ``train/mask_dict.json`` is 411 MB, so it is never parsed whole: one streaming scan builds
a byte-offset index ``anno_id -> (start, end)`` of every top-level value (cached per file for the
life of the process) and only the slices of the requested objects are parsed.
"""

from __future__ import annotations

import functools
import json
import mmap
import os
import re
from pathlib import Path
from typing import Any

from lang2motion.errors import DataError

# One token of the JSON text for the offset scan: a whole string (group q = its closing quote;
# absent when the file ends inside it) or one structural character. Whitespace, numbers and
# literals are skipped: only depth and the top-level ',' and ':' matter.
_TOKEN_RE = re.compile(rb'(?P<s>"[^"\\]*(?:\\.[^"\\]*)*(?P<q>")?)|(?P<p>[\[\]{},:])', re.DOTALL)
_OPEN = (ord("{"), ord("["))
_CLOSE = (ord("}"), ord("]"))
_LBRACE = ord("{")
_COMMA = ord(",")
_COLON = ord(":")


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
                    try:
                        key = json.loads(buf[pos:m.end()])
                    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                        raise DataError(f"{path}: unreadable key at byte {pos} ({exc}); the "
                                        "file must be UTF-8 JSON") from None
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


@functools.cache
def _cached_index(path: str, size: int, mtime_ns: int) -> dict[str, tuple[int, int]]:
    """The index of a file version (size and mtime), computed once per process."""
    return scan_top_level_offsets(path)


class MaskDict:
    """Random access to one ``mask_dict.json`` without loading it whole."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._offsets: dict[str, tuple[int, int]] | None = None

    @property
    def offsets(self) -> dict[str, tuple[int, int]]:
        if self._offsets is None:
            stat = self.path.stat()
            self._offsets = _cached_index(str(self.path.resolve()), stat.st_size, stat.st_mtime_ns)
        return self._offsets

    def __contains__(self, anno_id: str) -> bool:
        return anno_id in self.offsets

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
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{self.path}: anno_id {anno_id!r}: not valid JSON ({exc})") from None
        if not isinstance(value, list):
            raise DataError(f"{self.path}: anno_id {anno_id!r}: expected a list of per-frame "
                            f"masks, got {type(value).__name__}")
        return value


"""Atomic writes: files and whole folders are written under a temporary name, then renamed.

An interrupted or failed stage never leaves a half-written file or folder under the final name:
the reader sees the previous complete version or none. Staging names start with a dot so they
stay out of globs; leftovers of a killed run are removed by the next run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lang2motion.errors import DataError, Lang2MotionError

STAGING_PREFIX = ".staging-"   # <parent>/.staging-<name>.<random>/ while a folder is written
TRASH_PREFIX = ".stale-"       # <parent>/.stale-<name>/ the old folder during the swap


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    The temporary name keeps the final suffix so that writers that infer the format from the
    extension (imageio, cv2, pyarrow) still work. On error the temporary file is removed.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{final.suffix}",
                                    dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        # mkstemp creates 0600 files, and some writers (safetensors) replace the file with
        # their own 0600 one: give the final file the permissions a plain open() would, after
        # the writer is done.
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def remove_leftovers(path: str | os.PathLike[str]) -> None:
    """Delete the staging and trash folders an interrupted write of ``path`` left beside it."""
    final = Path(path)
    if not final.parent.is_dir():
        return
    for item in final.parent.iterdir():
        if item.is_dir() and (item.name.startswith(f"{STAGING_PREFIX}{final.name}.")
                              or item.name == f"{TRASH_PREFIX}{final.name}"):
            shutil.rmtree(item, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield an empty staging folder beside ``path``; on success it replaces ``path`` whole (at
    every moment ``path`` is the old or the new whole); on error ``path`` is left as it was."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(final)
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{final.name}.", dir=final.parent))
    os.chmod(staging, 0o777 & ~_umask())   # mkdtemp makes 0700 folders
    trash = final.with_name(f"{TRASH_PREFIX}{final.name}")   # remove_leftovers removed any
    try:
        yield staging
        if final.exists():
            os.replace(final, trash)
        os.replace(staging, final)
        shutil.rmtree(trash, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike[str], obj: Any, *, indent: int | None = 2) -> None:
    write_text_atomic(path, json.dumps(obj, indent=indent, sort_keys=False) + "\n")


def read_text(path: str | os.PathLike[str], *, what: str,
              error: type[Lang2MotionError] = DataError, label: str | None = None) -> str:
    """The UTF-8 text of a file; ``error`` naming the file (as ``label``, e.g. ``--prompts p.txt``)
    and ``what`` it should be when it is missing, a folder, unreadable or not UTF-8."""
    path = Path(path)
    name = label or str(path)
    try:
        # utf-8-sig: a byte-order mark (Windows editors write one) is not part of the text; it
        # would hide the '#' of a first-line comment or the '{' of a JSON file
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise error(f"{name}: {what} not found") from None
    except IsADirectoryError:
        raise error(f"{name}: is a folder; expected a {what}") from None
    except OSError as exc:
        raise error(f"{name}: cannot read {what} ({exc})") from None
    except UnicodeDecodeError as exc:
        raise error(f"{name}: {what} is not UTF-8 text ({exc})") from None


def read_json(path: str | os.PathLike[str], *, what: str,
              error: type[Lang2MotionError] = DataError) -> Any:
    """A JSON file read with :func:`read_text`; ``error`` when it is not valid JSON."""
    text = read_text(path, what=what, error=error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: {what} is not valid JSON ({exc})") from None

"""Writing a verb's results: a trajectory file, an animation, a still and the mask, as one group.

Every result gets a stable name from what made it (``<words>-<hash>``: two prompts that differ only
in punctuation get different files, the same prompt always the same file) and is never written
over unless asked (``--overwrite``). A group's files are written into a staging folder and moved
into place together, so a failed or killed run leaves a whole group or none of it.

Legend: T frames, N points, H/W frame size.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lang2motion.config import OVERLAY_COLORS
from lang2motion.errors import ConfigError, DataError
from lang2motion.images import write_png
from lang2motion.io import STAGING_PREFIX
from lang2motion.render.animate import display_size, plain_canvas, still, trail_animation
from lang2motion.render.video import write_animation
from lang2motion.trajectory import Trajectory, write_trajectory

ANIMATION_FORMATS = ("gif", "mp4")
NAME_WORDS_CHARS = 48      # readable part of a file name
NAME_HASH_CHARS = 8        # the part that tells apart prompts differing only in punctuation
DISPLAY_LONGEST = 512      # pixels of the animation's longer side
LINE_WIDTH = 2
FPS = 10


@dataclass(frozen=True)
class Style:
    """How a trajectory is drawn: colour (a Table 7 name), format (gif | mp4), frame rate."""

    color: str = "cyan"
    format: str = "gif"
    fps: int = FPS

    def check(self) -> None:
        if self.color not in OVERLAY_COLORS:
            raise ConfigError(f"--color must be one of {', '.join(OVERLAY_COLORS)}, got "
                              f"{self.color!r}")
        if self.format not in ANIMATION_FORMATS:
            raise ConfigError(f"--format must be one of {', '.join(ANIMATION_FORMATS)}, got "
                              f"{self.format!r}")
        if self.fps < 1:
            raise ConfigError(f"--fps must be >= 1, got {self.fps}")


def stem(label: str, *, kind: str) -> str:
    """``<words>-<hash>``: readable, stable, and distinct for distinct labels."""
    words = "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())
    digest = hashlib.sha256(f"{kind}\0{label}".encode()).hexdigest()[:NAME_HASH_CHARS]
    return f"{words[:NAME_WORDS_CHARS].strip('_') or kind}-{digest}"


def group_paths(out_dir: Path, name: str, style: Style, *, with_mask: bool) -> dict[str, Path]:
    """The files of one result: trajectory JSON, animation, still PNG (and mask PNG)."""
    paths = {"trajectory": out_dir / f"{name}.json",
             "animation": out_dir / f"{name}.{style.format}",
             "still": out_dir / f"{name}.png"}
    if with_mask:
        paths["mask"] = out_dir / f"{name}.mask.png"
    return paths


def output_error(out_dir: Path, exc: OSError) -> DataError:
    """An OSError while writing results, as one paragraph naming the folder and the cause."""
    reason = exc.strerror or str(exc)
    hint = {errno.ENOSPC: "free some space or write elsewhere (--out)",
            errno.EDQUOT: "free some space or write elsewhere (--out)",
            errno.EACCES: "choose a folder you can write to (--out)",
            errno.EPERM: "choose a folder you can write to (--out)",
            errno.EROFS: "choose a folder on a writable disk (--out)"}.get(
        exc.errno or 0, "check the folder (--out)")
    where = exc.filename or out_dir
    return DataError(f"--out {out_dir}: cannot write results ({reason}: {where}); {hint}. "
                     "Nothing of this result was kept")


def check_free(groups: list[dict[str, Path]], *, overwrite: bool) -> None:
    """ConfigError naming the first file that exists, unless ``overwrite``, or an output folder
    that is a file: checked before anything is written."""
    for folder in {p.parent for group in groups for p in group.values()}:
        blocking = next((f for f in (folder, *folder.parents) if f.exists()), None)
        if blocking is not None and not blocking.is_dir():
            raise ConfigError(f"--out {folder}: {blocking} is a file, not a folder")
    if overwrite:
        return
    taken = [p for group in groups for p in group.values() if p.exists()]
    if taken:
        raise ConfigError(f"{taken[0]} already exists ({len(taken)} file(s) of this run do); "
                          "pass --overwrite to replace them, or --out another folder")


def animate(trajectory: Trajectory, *, style: Style, background: np.ndarray | None = None,
            mask: np.ndarray | None = None) -> np.ndarray:   # (T, h, w, 3) uint8
    """The trajectory's trails growing over ``background`` (H, W, 3), or over a plain canvas
    with the object's ``mask`` (H, W) tinted."""
    if background is None:
        background = plain_canvas(trajectory.width, trajectory.height, mask=mask)
    size = display_size(trajectory.width, trajectory.height, longest=DISPLAY_LONGEST)
    return trail_animation(background, trajectory.tracks_px, color=style.color, size=size,
                           line_width=LINE_WIDTH)


def write_group(paths: dict[str, Path], writers: dict[str, Callable[[Path], None]]) -> None:
    """Run ``writers[key](temporary path)`` for every file, then move them all into place."""
    out_dir = next(iter(paths.values())).parent
    staging = None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
        staged = {}
        for key, final in paths.items():
            staged[key] = staging / final.name
            writers[key](staged[key])
        for key, final in paths.items():
            os.replace(staged[key], final)
    except OSError as exc:
        # a read-only folder, a full disk, a quota: one paragraph, nothing half-written
        raise output_error(out_dir, exc) from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def write_result(out_dir: Path, name: str, trajectory: Trajectory, *, style: Style,
                 background: np.ndarray | None = None,
                 mask: np.ndarray | None = None) -> dict[str, Path]:
    """The trajectory file, its animation and still (and the mask used) as one group."""
    paths = group_paths(out_dir, name, style, with_mask=mask is not None)
    frames = animate(trajectory, style=style, background=background, mask=mask)
    writers: dict[str, Callable[[Path], None]] = {
        "trajectory": lambda p: write_trajectory(p, trajectory),
        "animation": lambda p: write_animation(p, frames, fps=style.fps),
        "still": lambda p: write_png(p, still(frames)),
    }
    if mask is not None:
        writers["mask"] = lambda p: write_png(p, mask)
    write_group(paths, writers)
    return paths

"""Writing a verb's results (trajectory file, animation, still, mask) as one group: named
``<words>-<hash>`` from what made them (prompts differing only in punctuation get different
files), never written over unless ``--overwrite``, staged and moved into place together so a
failed or killed run leaves a whole group or none of it. Legend: T frames, H/W frame size."""

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

from lang2motion.errors import ConfigError, DataError
from lang2motion.images import write_png
from lang2motion.io import STAGING_PREFIX
from lang2motion.render.animate import display_size, plain_canvas, still, trail_animation
from lang2motion.render.video import write_animation
from lang2motion.trajectory import Trajectory, write_trajectory

NAME_WORDS_CHARS = 48      # readable part of a file name
NAME_HASH_CHARS = 8        # the part that tells apart prompts differing only in punctuation
DISPLAY_LONGEST = 512      # pixels of the animation's longer side
LINE_WIDTH = 2
FPS = 10


@dataclass(frozen=True)
class Style:
    """How a trajectory is drawn (the CLI's --color and --format choices)."""

    color: str = "cyan"      # an OVERLAY_COLORS name (paper Table 7)
    format: str = "gif"      # gif | mp4
    fps: int = FPS


def stem(label: str, *, kind: str) -> str:
    words = "_".join("".join(c if c.isalnum() else " " for c in label.lower()).split())
    digest = hashlib.sha256(f"{kind}\0{label}".encode()).hexdigest()[:NAME_HASH_CHARS]
    return f"{words[:NAME_WORDS_CHARS].strip('_') or kind}-{digest}"


def group_paths(out_dir: Path, name: str, style: Style, *, with_mask: bool) -> dict[str, Path]:
    paths = {"trajectory": out_dir / f"{name}.json",
             "animation": out_dir / f"{name}.{style.format}",
             "still": out_dir / f"{name}.png"}
    if with_mask:
        paths["mask"] = out_dir / f"{name}.mask.png"
    return paths


def check_free(groups: list[dict[str, Path]], *, overwrite: bool) -> None:
    """Before anything is written: ConfigError for an output folder that is a file, or (unless
    ``overwrite``) naming the first file that exists."""
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
    """The trails growing over ``background`` (H, W, 3), or a plain canvas with ``mask`` (H, W)
    tinted."""
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
    except OSError as exc:       # a read-only folder, a full disk, a quota
        hint = {errno.ENOSPC: "free some space or write elsewhere",
                errno.EDQUOT: "free some space or write elsewhere",
                errno.EACCES: "choose a folder you can write to",
                errno.EPERM: "choose a folder you can write to",
                errno.EROFS: "choose a folder on a writable disk"}.get(exc.errno or 0,
                                                                       "check the folder")
        raise DataError(f"--out {out_dir}: cannot write results ({exc.strerror or exc}: "
                        f"{exc.filename or out_dir}); {hint} (--out). Nothing of this result "
                        "was kept") from exc
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)


def write_result(out_dir: Path, name: str, trajectory: Trajectory, *, style: Style,
                 background: np.ndarray | None = None,
                 mask: np.ndarray | None = None) -> dict[str, Path]:
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

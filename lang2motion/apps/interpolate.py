"""`lang2motion interpolate A B --steps K`: decode along the slerp between two prompts or
trajectory files; writes each step's trajectory, a strip of their trails and an animation of all
steps side by side, as one group."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.apps.outputs import Style, animate, check_free, stem, write_group
from lang2motion.errors import ConfigError, DataError
from lang2motion.images import write_png
from lang2motion.render.animate import labelled, side_by_side, still, strip
from lang2motion.render.video import write_animation
from lang2motion.trained_model import DEFAULT_CANVAS, Lang2MotionModel, check_steps
from lang2motion.trajectory import Trajectory, read_trajectory, write_trajectory

PANEL_GAP = 4
STRIP_COLUMNS_MAX = 8


def endpoint(text: str) -> str | Trajectory:
    """A trajectory file when ``text`` ends in .json (never the prompt "runs/ball.json"), else
    a prompt."""
    path = Path(text)
    if path.suffix.lower() == ".json":
        if not path.is_file():
            raise DataError(f"{path}: no such trajectory file (an interpolation end ending in "
                            ".json is read as a trajectory file, not as a prompt)")
        return read_trajectory(path)
    if not text.strip():
        raise ConfigError("an interpolation end is empty: give a prompt or a trajectory file")
    return text


def interpolate_and_write(model: Lang2MotionModel, a: str, b: str, *, steps: int,
                          mask: np.ndarray | None, out_dir: str | os.PathLike[str], style: Style,
                          overwrite: bool) -> dict[str, Any]:
    steps = check_steps(steps)
    ends = [endpoint(a), endpoint(b)]
    names = [e.label if isinstance(e, Trajectory) else e for e in ends]
    name = f"interpolate-{stem(' -> '.join(names), kind='interpolate')}"
    out_dir = Path(out_dir)
    paths = {f"step{k:02d}": out_dir / f"{name}.step{k:02d}.json" for k in range(steps)}
    paths.update(strip=out_dir / f"{name}.strip.png",
                 animation=out_dir / f"{name}.{style.format}")
    check_free([paths], overwrite=overwrite)
    # without a mask: a disc in the first trajectory's frame, else on the default canvas
    size = (ends[0].width, ends[0].height) if isinstance(ends[0], Trajectory) else DEFAULT_CANVAS
    trajectories = model.interpolate(ends[0], ends[1], steps=steps, mask=mask, size=size)
    panels = [labelled(animate(t, style=style), t.label) for t in trajectories]
    movie = side_by_side(panels, gap=PANEL_GAP)
    writers = {f"step{k:02d}": (lambda p, t=t: write_trajectory(p, t))
               for k, t in enumerate(trajectories)}
    writers["strip"] = lambda p: write_png(p, strip([still(x) for x in panels],
                                                     columns=min(steps, STRIP_COLUMNS_MAX)))
    writers["animation"] = lambda p: write_animation(p, movie, fps=style.fps)
    write_group(paths, writers)
    return {"from": names[0], "to": names[1], "steps": steps,
            **{k: str(v) for k, v in paths.items()}}

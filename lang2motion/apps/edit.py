"""`lang2motion edit TRAJECTORY --from A --to B`: MotionCLIP's latent arithmetic
(:meth:`Lang2MotionModel.edit`) on a trajectory file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from lang2motion.apps.outputs import Style, check_free, group_paths, stem, write_result
from lang2motion.errors import ConfigError
from lang2motion.images import read_rgb
from lang2motion.trained_model import Lang2MotionModel
from lang2motion.trajectory import read_trajectory


def edit_and_write(model: Lang2MotionModel, trajectory_path: str, *, source_text: str,
                   target_text: str, image: str | None, out_dir: str | os.PathLike[str],
                   style: Style, overwrite: bool) -> dict[str, Any]:
    """``image``: the frame the overlays are drawn on."""
    if not source_text.strip() or not target_text.strip():
        raise ConfigError("--from and --to must both be non-empty prompts")
    trajectory = read_trajectory(trajectory_path)
    picture = read_rgb(image) if image else None
    name = "edit-" + stem(f"{Path(trajectory_path).stem}: {source_text} -> {target_text}",
                          kind="edit")
    out_dir = Path(out_dir)
    check_free([group_paths(out_dir, name, style, with_mask=False)], overwrite=overwrite)
    edited = model.edit(trajectory, source_text, target_text, frames=picture)
    paths = write_result(out_dir, name, edited, style=style, background=picture)
    return {"label": edited.label, **{k: str(v) for k, v in paths.items()}}

"""`lang2motion generate`: trajectories from prompts (or, paper Table 8, the CLIP embedding of an
image or the time-pooled one of a trajectory's overlays), from a grid inside the object region
(:mod:`lang2motion.regions`, else a centred disc). :func:`plan` checks every option and output
name before the model loads. `lang2motion edit` decodes an edited trajectory's latent and
writes it the same way. Legend: D latent, H/W frame size."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lang2motion.apps.outputs import Style, check_free, group_paths, stem, write_result
from lang2motion.errors import ConfigError, DataError
from lang2motion.images import read_rgb
from lang2motion.io import read_text
from lang2motion.regions import parse_box, parse_point, resolve_region
from lang2motion.trained_model import Lang2MotionModel, check_canvas, check_prompts, default_mask
from lang2motion.trajectory import Trajectory, read_trajectory


@dataclass
class Request:
    """A checked generate call: what to decode, from where, and where each result goes."""

    labels: list[str]                 # one per result: the prompt, or what the latent is of
    kind: str                         # text | image | overlay
    mask: np.ndarray                  # (H, W) bool: where the grid goes
    region: str                       # how the mask was made
    image: np.ndarray | None          # (H, W, 3) uint8, drawn behind the trails
    overlay_of: Trajectory | None     # from_overlay: the trajectory whose overlays condition
    names: list[str]                  # file stems, one per label
    out_dir: Path
    style: Style


def read_prompts(prompts: list[str], prompts_file: str | None) -> list[str]:
    out = list(prompts)
    if prompts_file:
        lines = read_text(prompts_file, what="prompts file",
                          error=ConfigError, label=f"--prompts {prompts_file}").splitlines()
        found = [line.strip() for line in lines
                 if line.strip() and not line.strip().startswith("#")]
        if not found:
            raise ConfigError(f"--prompts {prompts_file}: no prompt in it ({len(lines)} line(s), "
                              "all blank or '#' comments); write one prompt per line")
        out += found
    return out


def plan(*, prompts: list[str], image: str | None, mask: str | None, box: str | None,
         points: list[str], sam_checkpoint: str | None, size: tuple[int, int],
         out_dir: str | os.PathLike[str], style: Style, overwrite: bool, from_image: bool,
         from_overlay: str | None, device: str, grid_points: int = 1,
         sam_kind: str | None = None) -> Request:
    """``grid_points``: the model's, which the region must be able to hold."""
    size = check_canvas(size, option="--size")
    if from_image and from_overlay:
        raise ConfigError("--from-image and --from-overlay are two different conditions: "
                          "give one")
    if (from_image or from_overlay) and prompts:
        raise ConfigError("prompts and --from-image / --from-overlay exclude each other: the "
                          "latent comes from the image or the overlay instead of text")
    if from_image and not image:
        raise ConfigError("--from-image needs --image: the CLIP image embedding of that frame is "
                          "the latent")
    if not (from_image or from_overlay):
        if not prompts:
            raise ConfigError("give at least one prompt (or --prompts FILE, --from-image, "
                              "--from-overlay)")
        check_prompts(prompts)
    picture = read_rgb(image) if image else None
    overlay_of = read_trajectory(from_overlay) if from_overlay else None
    canvas = (picture.shape[1], picture.shape[0]) if picture is not None else (
        (overlay_of.width, overlay_of.height) if overlay_of is not None else size)
    if mask or box or points:
        # a mask file alone sets the frame size; with an image (or an overlay) it must match it
        given = picture is not None or overlay_of is not None or not mask
        region_mask, region = resolve_region(
            size=(canvas[1], canvas[0]) if given else None, image=picture, mask_path=mask,
            box=parse_box(box) if box else None,
            points=[parse_point(p) for p in points] or None,
            sam_checkpoint=sam_checkpoint, device=device, sam_kind=sam_kind)
    else:
        region_mask, region = default_mask(*canvas), "a centred disc (no --mask, --box, --point)"
    if int(region_mask.sum()) < grid_points:
        raise DataError(f"the object region ({region}) has {int(region_mask.sum())} pixel(s), "
                        f"fewer than the model's {grid_points} grid points: give a larger mask "
                        "or box")
    canvas = (region_mask.shape[1], region_mask.shape[0])
    if overlay_of is not None and (overlay_of.width, overlay_of.height) != canvas:
        raise DataError(f"--from-overlay {from_overlay}: its frame is "
                        f"{overlay_of.width}x{overlay_of.height} but the image is "
                        f"{canvas[0]}x{canvas[1]}")
    if from_image:
        kind, labels = "image", [f"image {Path(image).name}"]
    elif overlay_of is not None:
        kind, labels = "overlay", [f"overlay of {overlay_of.label or Path(from_overlay).stem}"]
    else:
        kind, labels = "text", list(prompts)
    names = [stem(label, kind=kind) for label in labels]
    twice = next((label for i, label in enumerate(labels) if label in labels[:i]), None)
    if twice is not None:
        raise ConfigError(f"the prompt {twice!r} is given twice (its files would be the same): "
                          "give each prompt once")
    out_dir = Path(out_dir)
    check_free([group_paths(out_dir, n, style, with_mask=True) for n in names],
               overwrite=overwrite)
    return Request(labels=labels, kind=kind, mask=region_mask, region=region, image=picture,
                   overlay_of=overlay_of, names=names, out_dir=out_dir, style=style)


def generate_and_write(model: Lang2MotionModel, request: Request) -> list[dict[str, Any]]:
    if request.kind == "image":
        latents = model.image_embeddings(request.image[None])                   # (1, D)
    elif request.kind == "overlay":
        latents = model.overlay_embedding(request.overlay_of, frames=request.image)[None]
    else:
        latents = model.text_embeddings(request.labels)                         # (B, D)
    trajectories = model.decode(latents, mask=request.mask,
                                labels=request.labels,
                                source={"kind": request.kind, "region": request.region})
    written = []
    for name, trajectory in zip(request.names, trajectories, strict=True):
        paths = write_result(request.out_dir, name, trajectory, style=request.style,
                             background=request.image, mask=request.mask)
        written.append({"label": trajectory.label, **{k: str(v) for k, v in paths.items()}})
    return written


def edit_and_write(model: Lang2MotionModel, trajectory_path: str, *, source_text: str,
                   target_text: str, image: str | None, out_dir: str | os.PathLike[str],
                   style: Style, overwrite: bool) -> dict[str, Any]:
    """`lang2motion edit`: MotionCLIP's latent arithmetic (:meth:`Lang2MotionModel.edit`) on a
    trajectory file; ``image``: the frame its overlays are drawn on."""
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

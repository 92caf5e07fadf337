"""The `lang2motion` command: use a trained model.

    lang2motion generate "a red ball bouncing to the right" --mask first_frame_mask.png
    lang2motion info

Verbs are thin: they parse arguments and call lang2motion.apps.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from lang2motion.errors import Lang2MotionError

DEFAULT_MODEL_DIR = "models"
DEFAULT_OUT_DIR = "generated"
ANIMATION_BACKGROUND = 255       # white canvas behind generated trails
ANIMATION_FPS = 10


def _slug(text: str, limit: int = 60) -> str:
    keep = "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")
    return "_".join(filter(None, keep.split("_")))[:limit] or "prompt"


def cmd_generate(args: argparse.Namespace) -> None:
    from lang2motion.apps.generate import default_mask, generate, read_mask
    from lang2motion.config import GridConfig, OverlayConfig
    from lang2motion.embed.clip import load_clip
    from lang2motion.io import write_json_atomic
    from lang2motion.model.checkpoint import load_model
    from lang2motion.render.overlay import render_overlays
    from lang2motion.render.video import write_mp4
    from lang2motion.tracking.grid import place_grid

    # bad input first: fail before the slow model loads
    if args.mask:
        mask = read_mask(args.mask)
    else:
        mask = default_mask(*args.size)
    height, width = mask.shape
    model, meta = load_model(args.model, device=args.device if args.device != "auto" else "cpu")
    clip_info = meta.get("clip") or {}
    clip_model = args.clip_model or clip_info.get("model")
    pretrained = args.clip_pretrained or clip_info.get("pretrained")
    if not clip_model:
        raise Lang2MotionError(f"{args.model}: the checkpoint does not say which CLIP it was "
                               "trained with; pass --clip-model and --clip-pretrained")
    clip = load_clip(model=clip_model, pretrained=pretrained, device=args.device)
    if clip.dim != model.cfg.latent:
        raise Lang2MotionError(f"CLIP {clip_model} embeds to {clip.dim} but the model's latent "
                               f"is {model.cfg.latent}")
    grid_cfg = GridConfig(**(meta.get("grid") or {}))
    size = math.isqrt(model.cfg.points)
    grid_px = place_grid(mask, size=size, erode_iterations=grid_cfg.erode_iterations,
                         margin=grid_cfg.margin)
    results = generate(args.texts, model=model, clip=clip, grid_px=grid_px, width=width,
                       height=height)
    out = Path(args.out)
    overlay = OverlayConfig()
    for result in results:
        stem = out / _slug(result.text)
        write_json_atomic(stem.with_suffix(".json"), {
            "text": result.text, "width": width, "height": height,
            "frames": int(result.tracks.shape[0]), "points": int(result.tracks.shape[1]),
            "tracks_normalised": np.round(result.tracks, 5).tolist(),
            "tracks_px": np.round(result.tracks_px, 2).tolist(),
            "model": str(args.model), "clip": {"model": clip_model, "pretrained": pretrained}})
        canvas = np.full((result.tracks.shape[0], height, width, 3), ANIMATION_BACKGROUND,
                         np.uint8)
        canvas[:, mask] = (ANIMATION_BACKGROUND * 0.85)  # show the object's first-frame mask
        frames = render_overlays(canvas, result.tracks_px,
                                 np.ones(result.tracks.shape[:2], bool), size=overlay.size,
                                 color=args.color, opacity=1.0, line_width=overlay.line_width)
        write_mp4(stem.with_suffix(".mp4"), frames, fps=ANIMATION_FPS)
        print(f"{result.text!r}: {stem}.json, {stem}.mp4")
    if clip.random:
        print("note: CLIP has random weights (clip.pretrained: none): the prompt's wording carries "
              "no language knowledge into this model", file=sys.stderr)


def cmd_info(args: argparse.Namespace) -> None:
    from lang2motion.model.checkpoint import read_model_meta
    meta = read_model_meta(args.model)
    print(json.dumps({k: meta[k] for k in meta if k != "save_id"}, indent=2))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lang2motion", description="Generate 2D point trajectories from text with a "
        "trained Lang2Motion model (train one with `dvc repro`).")
    sub = parser.add_subparsers(dest="verb", required=True)
    gen = sub.add_parser("generate", help="text -> trajectory (.json) and animation (.mp4)",
                         description="Decode each prompt from an initial grid placed inside a "
                         "mask. Writes <out>/<prompt>.json (tracks in pixels and in [-1, 1]) "
                         "and <out>/<prompt>.mp4.")
    gen.add_argument("texts", nargs="+", help="one or more prompts")
    gen.add_argument("--mask", help="first-frame object mask (PNG, >127 = object); default: a "
                     "centred disc on a --size canvas")
    gen.add_argument("--size", nargs=2, type=int, default=[256, 256], metavar=("W", "H"),
                     help="canvas size when no mask is given (default 256 256)")
    gen.add_argument("--model", default=DEFAULT_MODEL_DIR, help="checkpoint folder (models/)")
    gen.add_argument("--out", default=DEFAULT_OUT_DIR, help="output folder (generated/)")
    gen.add_argument("--color", default="cyan", help="trail colour of the animation")
    gen.add_argument("--clip-model", help="override the CLIP recorded in the checkpoint")
    gen.add_argument("--clip-pretrained", help="override the CLIP weights recorded there")
    gen.add_argument("--device", default="auto", help="auto | cpu | cuda")
    gen.set_defaults(func=cmd_generate)
    info = sub.add_parser("info", help="print a checkpoint's config, params and metrics")
    info.add_argument("--model", default=DEFAULT_MODEL_DIR)
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except Lang2MotionError as exc:
        print(f"lang2motion: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

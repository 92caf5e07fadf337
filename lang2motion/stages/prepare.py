"""The prepare stage: make ``<out_dir>/<split>/`` readable as MeViS splits, and summarise them.

``data.source``: ``synth`` generates the synthetic set; ``mevis`` finds (or downloads) MeViS and
writes ``<split>/SOURCE.json`` manifests pointing at it in place; ``folder`` imports a user's
clips. ``out_dir`` is replaced whole (a killed run leaves the previous output, never a mix).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from lang2motion.config import DataConfig, as_dict
from lang2motion.data.download import ensure_mevis
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.samples import list_samples
from lang2motion.data.splits import MANIFEST_NAME, manifest
from lang2motion.data.synth.generate import generate_synthetic
from lang2motion.errors import ConfigError
from lang2motion.io import atomic_dir, write_json_atomic

SECONDS_DECIMALS = 2


def _split_summary(split: MevisSplit, cfg: DataConfig, *, max_videos: int,
                   shown_as: Path) -> dict[str, Any]:
    """Counts of one split and every expression that yields no sample, with the reason."""
    index = list_samples(split, frames=cfg.frames, window_stride=cfg.window_stride,
                         max_windows=cfg.max_windows, max_videos=max_videos)
    video_ids = split.video_ids()[:max_videos] if max_videos > 0 else split.video_ids()
    videos = [split.video(v) for v in video_ids]
    return {"split_dir": str(shown_as), "has_masks": split.has_masks,
            "videos": len(videos),
            "expressions": sum(len(v.expressions) for v in videos),
            "frames": sum(len(v.frame_names) for v in videos),
            "samples": len(index.samples),
            "track_groups": len({s.track_key for s in index.samples}),
            "skipped_by_reason": index.summary(), "skipped": index.skipped}


def _prepare_synth(cfg: DataConfig, staging: Path, out_dir: Path
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    synth = cfg.synth
    began = time.perf_counter()
    generated = generate_synthetic(staging, train_split=cfg.train_split,
                                   splits={cfg.train_split: synth.train_videos,
                                                    cfg.valid_split: synth.valid_videos},
                                   video_frames=synth.video_frames, height=synth.height,
                                   width=synth.width, seed=synth.seed)
    generated["seconds"] = round(time.perf_counter() - began, SECONDS_DECIMALS)
    splits = {split: _split_summary(MevisSplit(staging, split), cfg, max_videos=0,
                                    shown_as=out_dir / split) for split in cfg.splits}
    return generated, splits


def _prepare_mevis(cfg: DataConfig, staging: Path, out_dir: Path
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    root = Path(cfg.mevis.root).resolve()
    if root == out_dir.resolve() or out_dir.resolve() in root.parents:
        raise ConfigError(f"data.mevis.root ({cfg.mevis.root}) lies inside the prepare stage's "
                          f"output folder {out_dir}, which is replaced on every run; keep MeViS "
                          "elsewhere (the default is data/mevis)")
    root = ensure_mevis(root, cfg.splits, download=cfg.mevis.download)
    splits = {}
    for split in cfg.splits:   # open and index every split before writing anything
        opened = MevisSplit(root, split)
        splits[split] = _split_summary(opened, cfg, max_videos=cfg.mevis.max_videos,
                                       shown_as=opened.split_dir)
    for split in cfg.splits:
        write_json_atomic(staging / split / MANIFEST_NAME, manifest(root, split))
    return {"root": str(root)}, splits


def _prepare_folder(cfg: DataConfig, staging: Path, out_dir: Path
                    ) -> tuple[dict[str, Any], dict[str, Any]]:
    from lang2motion.data.folder.importer import import_manifest  # only this source needs it

    folder = cfg.folder
    imported = import_manifest(folder.root, out_root=staging,
                               split_names={"train": cfg.train_split, "valid": cfg.valid_split},
                               frames=cfg.frames, fps=folder.fps, max_side=folder.max_side,
                               sam_checkpoint=folder.sam_checkpoint)
    splits = {split: _split_summary(MevisSplit(staging, split), cfg, max_videos=0,
                                    shown_as=out_dir / split) for split in cfg.splits}
    return imported, splits


PREPARE = {"synth": _prepare_synth, "mevis": _prepare_mevis, "folder": _prepare_folder}


def run_stage(*, data: DataConfig, out_dir: str | os.PathLike[str],
        summary_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Prepare both splits under ``out_dir``; return (and write) the summary: per split the
    videos, expressions, frames and samples, and every skipped expression with the reason."""
    cfg = data
    out_dir = Path(out_dir)
    prepare = PREPARE[cfg.source]
    with atomic_dir(out_dir) as staging:
        generated, splits = prepare(cfg, staging, out_dir)
    summary = {"source": cfg.source, "data": as_dict(cfg), "generated": generated,
               "splits": splits}
    if summary_path is not None:
        write_json_atomic(summary_path, summary)
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """One line per split: what was prepared and what was skipped."""
    lines = []
    for name, split in summary["splits"].items():
        skipped = {k: v for k, v in split["skipped_by_reason"].items() if v}
        lines.append(f"{name}: {split['videos']} videos, {split['expressions']} expressions, "
                     f"{split['frames']} frames, {split['samples']} samples; "
                     f"skipped: {skipped or 'none'}")
    clips = summary["generated"].get("skipped_clips")
    if clips:
        lines.append(f"{len(clips)} clip(s) of {summary['generated']['manifest']} skipped: "
                     + "; ".join(f"lines {c['lines']}: {c['reason']} ({c['detail']})"
                                 for c in clips))
    return lines

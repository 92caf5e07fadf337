"""The prepare stage: make ``<out_dir>/<split>/`` readable as MeViS splits, and summarise them.

``data.source: synth`` generates the synthetic set into ``out_dir``; ``mevis`` finds (or
downloads) MeViS and writes ``<out_dir>/<split>/SOURCE.json``, a manifest pointing at the data
in place. Downstream stages open a split with :func:`resolve_split`, which follows either.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from lang2motion.config import DataConfig, as_dict
from lang2motion.data.download import ensure_mevis
from lang2motion.data.mevis import MevisSplit
from lang2motion.data.samples import list_samples
from lang2motion.data.synth import generate_synthetic
from lang2motion.errors import DataError
from lang2motion.io import write_json_atomic

MANIFEST_NAME = "SOURCE.json"
STAGING_PREFIX = ".prepare-"
TRASH_PREFIX = ".stale-"
SECONDS_DECIMALS = 2


def resolve_split(raw_dir: str | os.PathLike[str], split: str) -> MevisSplit:
    """Open ``raw_dir/split``: the MeViS split its manifest points at, or the split itself."""
    split_dir = Path(raw_dir) / split
    manifest = split_dir / MANIFEST_NAME
    if manifest.is_file():
        try:
            info = json.loads(manifest.read_text(encoding="utf-8"))
            root = Path(info["root"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise DataError(f"{manifest}: not a valid manifest ({exc})") from None
        return MevisSplit(root, info.get("split", split))
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: split not prepared (run the prepare stage)")
    return MevisSplit(raw_dir, split)


def _replace_dir(src: Path, dst: Path) -> None:
    """Move folder ``src`` over ``dst``: at every moment ``dst`` is the old or the new whole."""
    trash = dst.with_name(f"{TRASH_PREFIX}{dst.name}")
    if trash.exists():
        shutil.rmtree(trash)
    if dst.exists():
        os.replace(dst, trash)
    os.replace(src, dst)
    if trash.exists():
        shutil.rmtree(trash)


def _clean_leftovers(out_dir: Path) -> None:
    """Remove staging and trash folders an interrupted run left behind."""
    for item in out_dir.iterdir():
        if item.is_dir() and item.name.startswith((STAGING_PREFIX, TRASH_PREFIX)):
            shutil.rmtree(item)


def _prepare_synth(cfg: DataConfig, out_dir: Path) -> dict[str, Any]:
    synth = cfg.synth
    counts = {cfg.train_split: synth.train_videos, cfg.valid_split: synth.valid_videos}
    if len(counts) != len(cfg.splits):
        raise DataError(f"data.train_split and data.valid_split are both {cfg.train_split!r}")
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
    began = time.perf_counter()
    try:
        summary = generate_synthetic(staging, splits=counts, video_frames=synth.video_frames,
                                     height=synth.height, width=synth.width, seed=synth.seed)
        for split in counts:
            _replace_dir(staging / split, out_dir / split)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    summary["seconds"] = round(time.perf_counter() - began, SECONDS_DECIMALS)
    return summary


def _prepare_mevis(cfg: DataConfig, out_dir: Path) -> dict[str, Any]:
    root = ensure_mevis(cfg.mevis.root, cfg.splits, download=cfg.mevis.download).resolve()
    for split in cfg.splits:
        staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out_dir))
        write_json_atomic(staging / MANIFEST_NAME,
                          {"source": "mevis", "root": str(root), "split": split})
        _replace_dir(staging, out_dir / split)
    return {"root": str(root)}


def _split_summary(split: MevisSplit, cfg: DataConfig, max_videos: int) -> dict[str, Any]:
    index = list_samples(split, frames=cfg.frames, window_stride=cfg.window_stride,
                         max_windows=cfg.max_windows, max_videos=max_videos)
    video_ids = split.video_ids()[:max_videos] if max_videos > 0 else split.video_ids()
    videos = [split.video(v) for v in video_ids]
    return {"split_dir": str(split.split_dir), "has_masks": split.has_masks,
            "videos": len(videos),
            "expressions": sum(len(v.expressions) for v in videos),
            "frames": sum(len(v.frame_names) for v in videos),
            "samples": len(index.samples),
            "track_groups": len({s.track_key for s in index.samples}),
            "skipped_by_reason": index.summary(), "skipped": index.skipped}


def prepare_data(cfg: DataConfig, out_dir: str | os.PathLike[str], *,
                 summary_path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Prepare both splits of ``cfg`` under ``out_dir``; return (and write) the summary.

    The summary holds, per split, the number of videos, expressions, frames and samples and
    every expression that yields no sample with the reason.
    """
    cfg.validate()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _clean_leftovers(out_dir)
    if cfg.source == "synth":
        source = _prepare_synth(cfg, out_dir)
        max_videos = 0
    else:
        source = _prepare_mevis(cfg, out_dir)
        max_videos = cfg.mevis.max_videos
    summary = {"source": cfg.source, "data": as_dict(cfg), "generated": source, "splits": {}}
    for split in cfg.splits:
        summary["splits"][split] = _split_summary(resolve_split(out_dir, split), cfg, max_videos)
    if summary_path is not None:
        write_json_atomic(summary_path, summary)
    return summary

"""The track stage: point tracks of every (video, object set, window) of both splits.

Writes ``<out_dir>/<split>.parquet`` (the tracks table of :mod:`lang2motion.store`), swapped in
whole, and a JSON summary. Sharded (:mod:`lang2motion.sharding`): shard i tracks its block of each
split's videos (weighted by frames read); the parts concatenated in shard order are the
single-process rows.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from pathlib import Path
from typing import Any

from lang2motion.config import DataConfig, GridConfig, TrackConfig, as_dict
from lang2motion.data.samples import SampleIndex, list_samples
from lang2motion.data.splits import resolve_split
from lang2motion.distributed import World, rank_device
from lang2motion.errors import DataError
from lang2motion.io import atomic_dir, write_json_atomic
from lang2motion.runtime import machine_facts, resolve_device
from lang2motion.sharding import Role, Shard, execute, fingerprint, shard_figures
from lang2motion.sharding import summary_lines as sharded_summary_lines
from lang2motion.store import read_tracks, tracks_path, write_tracks
from lang2motion.tracking.quality import implausible, track_quality
from lang2motion.tracking.track_split import (
    make_tracker,
    merge_summaries,
    track_split,
    video_work,
)

log = logging.getLogger(__name__)
STAGE = "track"


def rank_tracker_config(track: TrackConfig, world: World) -> TrackConfig:
    """``track`` with this rank's own GPU under torchrun (cuda -> cuda:LOCAL_RANK)."""
    if not world.distributed or track.backend != "cotracker3":
        return track
    device = rank_device(resolve_device(track.device, param="track.device"), world)
    return dataclasses.replace(track, device=str(device))


def run_stage(*, data: DataConfig, grid: GridConfig, track: TrackConfig,
        raw_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
        summary_path: str | os.PathLike[str], role: Role | None = None
        ) -> dict[str, Any] | None:
    """Track both splits of ``raw_dir`` (``role``'s share of them; default: all, one process);
    return (and write) the summary, or what :func:`lang2motion.sharding.execute` returns for a
    process that does not merge."""
    role = role or Role()
    splits = {name: resolve_split(raw_dir, name) for name in data.splits}
    indexes: dict[str, SampleIndex] = {
        name: list_samples(split, frames=data.frames, window_stride=data.window_stride,
                           max_windows=data.max_windows, max_videos=data.max_videos)
        for name, split in splits.items()}
    work = {name: video_work(index, data.frames) for name, index in indexes.items()}
    # what shapes the rows: not the device, nor the number of processes
    shaped_by = {"data": {"splits": data.splits, "frames": data.frames,
                          "window_stride": data.window_stride, "max_windows": data.max_windows,
                          "max_videos": data.max_videos},
                 "grid": as_dict(grid), "track": {"backend": track.backend,
                                                  "checkpoint": track.checkpoint},
                 "work": work}

    def compute(shard: Shard, folder: Path) -> dict[str, Any]:
        # built once per process: CoTracker3 loads its weights once
        tracker = make_tracker(rank_tracker_config(track, role.world))
        summaries = {}
        for name, split in splits.items():
            videos = shard.share([frames for _, frames in work[name]])
            rows, summaries[name] = track_split(split, indexes[name], tracker=tracker, grid=grid,
                                                frames=data.frames, videos=videos)
            summaries[name]["share"] = [videos.start, videos.stop]
            write_tracks(tracks_path(folder, name), rows, frames=data.frames,
                         points=grid.size ** 2)
        return {"splits": summaries}

    def assemble(folders: list[Path], parts: list[dict[str, Any]]) -> dict[str, Any]:
        summary: dict[str, Any] = {"track": as_dict(track), "grid": as_dict(grid),
                                   "machine": machine_facts(), "splits": {}}
        with atomic_dir(out_dir) as staging:
            for name in data.splits:
                rows = [row for folder in folders for row in read_tracks(tracks_path(folder, name))]
                split_summary = merge_summaries([p["summary"]["splits"][name] for p in parts])
                if not rows:
                    raise DataError(f"{raw_dir}/{name}: no sample could be tracked (skipped: "
                                    f"{split_summary['rows_skipped']}, index: "
                                    f"{split_summary['index_skipped']})")
                write_tracks(tracks_path(staging, name), rows, frames=data.frames,
                             points=grid.size ** 2)
                split_summary["quality"] = track_quality(rows)     # degenerate tracks, measured
                if warning := implausible(split_summary["quality"], split=name,
                                          tracker=track.backend):
                    log.warning("%s", warning)   # one line on stderr
                summary["splits"][name] = split_summary
        summary.update(shard_figures(parts))
        for entry, part in zip(summary["shards"], parts, strict=True):
            entry.update({name: {key: split[key] for key in ("share", "videos", "frames_read",
                                                             "track_rows", "seconds")}
                          for name, split in part["summary"]["splits"].items()})
        return summary

    summary = execute(role, stage=STAGE, out=out_dir, fingerprint=fingerprint(shaped_by),
                      compute=compute, assemble=assemble)
    if summary is not None and "splits" in summary:
        write_json_atomic(summary_path, summary)
    return summary


def _quality_text(quality: dict[str, Any] | None) -> str:
    if not quality or quality.get("static_share") is None:
        return ""
    return (f"; {quality['static_share']:.1%} static (< {quality['static_px']:g} px), "
            f"{quality['invisible_share']:.1%} of points invisible after the query frame")


def summary_lines(summary: dict[str, Any] | None) -> list[str]:
    return sharded_summary_lines(summary, lambda summary: [
        f"{name}: {split['track_rows']} track rows for {split['samples_tracked']} samples, "
        f"skipped {split['rows_skipped'] or 'none'}{_quality_text(split.get('quality'))}"
        for name, split in summary["splits"].items()])

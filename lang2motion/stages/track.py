"""The track stage: point tracks of every (video, object set, window) of both splits.

Writes ``<out_dir>/<split>.parquet`` (the tracks table of :mod:`lang2motion.store`) per split,
built in a staging folder swapped in whole at the end, and a JSON summary (rows, skips by reason,
timing).
"""

from __future__ import annotations

import os
from typing import Any

from lang2motion.config import DataConfig, GridConfig, TrackConfig, as_dict
from lang2motion.data.samples import list_samples
from lang2motion.data.splits import resolve_split
from lang2motion.errors import DataError
from lang2motion.io import atomic_dir, write_json_atomic
from lang2motion.store import tracks_path, write_tracks
from lang2motion.tracking.track_split import make_tracker, track_split


def run(*, data: DataConfig, grid: GridConfig, track: TrackConfig,
        raw_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
        summary_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Track both splits of ``raw_dir``; return (and write) the summary."""
    tracker = make_tracker(track)      # built once: CoTracker3 loads its weights once
    summary: dict[str, Any] = {"track": as_dict(track), "grid": as_dict(grid), "splits": {}}
    with atomic_dir(out_dir) as staging:
        for split_name in data.splits:
            split = resolve_split(raw_dir, split_name)
            index = list_samples(split, frames=data.frames, window_stride=data.window_stride,
                                 max_windows=data.max_windows, max_videos=data.max_videos)
            rows, split_summary = track_split(split, index, tracker=tracker, grid=grid,
                                              frames=data.frames)
            if not rows:
                raise DataError(f"{raw_dir}/{split_name}: no sample could be tracked (skipped: "
                                f"{split_summary['rows_skipped']}, index: "
                                f"{split_summary['index_skipped']})")
            write_tracks(tracks_path(staging, split_name), rows, frames=data.frames,
                         points=grid.size ** 2)
            summary["splits"][split_name] = split_summary
    write_json_atomic(summary_path, summary)
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    return [f"{name}: {split['track_rows']} track rows for {split['samples_tracked']} samples, "
            f"skipped {split['rows_skipped'] or 'none'}"
            for name, split in summary["splits"].items()]

"""DVC stage `track`: point tracks for every (video, object set, window) of both splits.

Reads params sections data, grid and track; writes ``<out>/<split>.parquet`` (the tracks table of
lang2motion/store.py) per split and a JSON summary (rows, skips by reason, timing).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lang2motion.config import as_dict, load_params
from lang2motion.data.prepare import resolve_split
from lang2motion.data.samples import list_samples
from lang2motion.errors import DataError
from lang2motion.io import write_json_atomic
from lang2motion.store import write_tracks
from lang2motion.tracking.base import make_tracker
from lang2motion.tracking.track_split import track_split


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/raw", help="folder of MeViS-layout splits")
    parser.add_argument("--out", default="data/tracks", help="folder for <split>.parquet")
    parser.add_argument("--summary", default="reports/track_summary.json")
    args = parser.parse_args(argv)

    params = load_params(args.params, "data", "grid", "track")
    data, grid, track = params["data"], params["grid"], params["track"]
    tracker = make_tracker(track)      # built once: CoTracker3 loads its weights once
    summary = {"track": as_dict(track), "grid": as_dict(grid), "splits": {}}
    for split_name in data.splits:
        split = resolve_split(args.raw, split_name)
        index = list_samples(split, frames=data.frames, window_stride=data.window_stride,
                             max_windows=data.max_windows, max_videos=data.mevis.max_videos)
        rows, split_summary = track_split(split, index, tracker=tracker, grid=grid,
                                          frames=data.frames)
        if not rows:
            raise DataError(f"{args.raw}/{split_name}: no sample could be tracked (skipped: "
                            f"{split_summary['rows_skipped']}, index: "
                            f"{split_summary['index_skipped']})")
        write_tracks(Path(args.out) / f"{split_name}.parquet", rows, frames=data.frames,
                     points=grid.size ** 2)
        summary["splits"][split_name] = split_summary
        print(f"{split_name}: {len(rows)} track rows for {split_summary['samples_tracked']} "
              f"samples, skipped {split_summary['rows_skipped'] or 'none'}")
    write_json_atomic(args.summary, summary)


if __name__ == "__main__":
    main()

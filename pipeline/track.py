"""DVC stage `track`: point tracks of every (video, object set, window) of both splits.

Body: lang2motion.stages.track.run_stage; parameters: the data, grid, track and dist sections.
dist.nproc > 1 re-runs this script as that many processes under torchrun (each tracks a share of
the videos, rank 0 merges); `torchrun --nproc-per-node K pipeline/track.py ...` does the same by
hand, and --shard/--merge serve a SLURM array (docs/scaling.md). The output is the same for all.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, print_summary, run_with_error_contract
from lang2motion.sharding import stage_role
from lang2motion.stages import track

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "out": ("data/tracks", "folder for <split>.parquet"),
         "summary": ("reports/track_summary.json", "JSON summary: rows, skips, timing")}


def main(argv: list[str] | None = None) -> int | None:
    args, params = parse_stage_args(__doc__, argv, stage="track", paths=PATHS, sharded=True)
    role, status = stage_role(__file__, argv, args, params)   # dist.nproc > 1: torchrun
    if status is not None:
        return status
    print_summary(track.summary_lines(track.run_stage(
        **params, raw_dir=args.raw, out_dir=args.out, summary_path=args.summary, role=role)))
    return None


if __name__ == "__main__":
    sys.exit(run_with_error_contract("track", main))

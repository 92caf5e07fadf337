"""DVC stage `track`: point tracks of every (video, object set, window) of both splits.

Body: lang2motion.stages.track.run_stage; parameters: the data, grid, track and dist sections.
dist.nproc > 1 re-runs this script as that many processes under torchrun (each tracks a share of
the videos, rank 0 merges); `torchrun --nproc-per-node K pipeline/track.py ...` does the same by
hand, and --shard/--merge serve a SLURM array (docs/scaling.md). The output is the same for all.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lang2motion.entry import run_with_error_contract
from lang2motion.sharding import Role, run_sharded_script
from lang2motion.stages import track

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "out": ("data/tracks", "folder for <split>.parquet"),
         "summary": ("reports/track_summary.json", "JSON summary: rows, skips, timing")}


def run_share(args: argparse.Namespace, params: dict[str, Any], role: Role) -> list[str]:
    """This process's share of the stage (or the merge, or all of it), as summary lines."""
    return track.summary_lines(track.run_stage(
        **params, raw_dir=args.raw, out_dir=args.out, summary_path=args.summary, role=role))


def main(argv: list[str] | None = None) -> int | None:
    return run_sharded_script(__doc__, __file__, argv, stage="track", paths=PATHS, body=run_share)


if __name__ == "__main__":
    sys.exit(run_with_error_contract("track", main))

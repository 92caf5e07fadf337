"""DVC stage `render`: trajectory overlays of every track row as MP4s a person can watch.

Body: lang2motion.stages.render.run_stage; parameters: the data, overlay and dist sections.
dist.nproc > 1 re-runs this script as that many processes under torchrun (each renders a share of
the rows, rank 0 merges); `torchrun --nproc-per-node K pipeline/render.py ...` does the same by
hand, and --shard/--merge serve a SLURM array (docs/scaling.md). The output is the same for all.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, print_summary, run_with_error_contract
from lang2motion.sharding import stage_role
from lang2motion.stages import render

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "tracks": ("data/tracks", "folder of <split>.parquet"),
         "out": ("data/overlays", "folder for <split>/*.mp4"),
         "sheet": ("reports/overlays.png", "contact sheet PNG")}


def main(argv: list[str] | None = None) -> int | None:
    args, params = parse_stage_args(__doc__, argv, stage="render", paths=PATHS, sharded=True)
    role, status = stage_role(__file__, argv, args, params)   # dist.nproc > 1: torchrun
    if status is not None:
        return status
    print_summary(render.summary_lines(render.run_stage(
        **params, raw_dir=args.raw, tracks_dir=args.tracks, out_dir=args.out,
        sheet_path=args.sheet, role=role)))
    return None


if __name__ == "__main__":
    sys.exit(run_with_error_contract("render", main))

"""DVC stage `render`: trajectory overlays of every track row as MP4s a person can watch.

Body: lang2motion.stages.render.run_stage; parameters: the data, overlay and dist sections.
dist.nproc > 1 re-runs this script as that many processes under torchrun (each renders a share of
the rows, rank 0 merges); `torchrun --nproc-per-node K pipeline/render.py ...` does the same by
hand, and --shard/--merge serve a SLURM array (docs/scaling.md). The output is the same for all.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lang2motion.entry import run_with_error_contract
from lang2motion.sharding import Role, run_sharded_script
from lang2motion.stages import render

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "tracks": ("data/tracks", "folder of <split>.parquet"),
         "out": ("data/overlays", "folder for <split>/*.mp4"),
         "sheet": ("reports/overlays.png", "contact sheet PNG")}


def run_share(args: argparse.Namespace, params: dict[str, Any], role: Role) -> list[str]:
    """This process's share of the stage (or the merge, or all of it), as summary lines."""
    return render.summary_lines(render.run_stage(
        **params, raw_dir=args.raw, tracks_dir=args.tracks, out_dir=args.out,
        sheet_path=args.sheet, role=role))


def main(argv: list[str] | None = None) -> int | None:
    return run_sharded_script(__doc__, __file__, argv, stage="render", paths=PATHS, body=run_share)


if __name__ == "__main__":
    sys.exit(run_with_error_contract("render", main))

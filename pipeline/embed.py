"""DVC stage `embed`: CLIP text and overlay-image features of every sample, as Parquet shards.

Body: lang2motion.stages.embed.run_stage; parameters: the data, overlay, clip and dist sections.
dist.nproc > 1 re-runs this script as that many processes under torchrun (each embeds a share of
the track rows on its own GPU, rank 0 merges); `torchrun --nproc-per-node K pipeline/embed.py ...`
does the same by hand, and --shard/--merge serve a SLURM array (docs/scaling.md).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from lang2motion.entry import run_with_error_contract
from lang2motion.sharding import Role, run_sharded_script
from lang2motion.stages import embed

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "tracks": ("data/tracks", "folder of <split>.parquet"),
         "out": ("data/features", "folder for <split>/part-NNNNN.parquet shards"),
         "summary": ("reports/embed_summary.json", "JSON summary: which CLIP, how fast")}


def run_share(args: argparse.Namespace, params: dict[str, Any], role: Role) -> list[str]:
    """This process's share of the stage (or the merge, or all of it), as summary lines."""
    return embed.summary_lines(embed.run_stage(
        **params, raw_dir=args.raw, tracks_dir=args.tracks, out_dir=args.out,
        summary_path=args.summary, role=role))


def main(argv: list[str] | None = None) -> int | None:
    return run_sharded_script(__doc__, __file__, argv, stage="embed", paths=PATHS, body=run_share)


if __name__ == "__main__":
    sys.exit(run_with_error_contract("embed", main))

"""DVC stage `embed`: CLIP text and overlay-image features of every sample, as Parquet shards.

Body: lang2motion.stages.embed.run; parameters: the data, overlay and clip sections.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, report, run
from lang2motion.stages import embed

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "tracks": ("data/tracks", "folder of <split>.parquet"),
         "out": ("data/features", "folder for <split>/part-NNNNN.parquet shards"),
         "summary": ("reports/embed_summary.json", "JSON summary: which CLIP, how fast")}


def main(argv: list[str] | None = None) -> None:
    args, params = parse_stage_args(__doc__, argv, sections=("data", "overlay", "clip"),
                                    paths=PATHS)
    report(embed.summary_lines(embed.run(**params, raw_dir=args.raw, tracks_dir=args.tracks,
                                         out_dir=args.out, summary_path=args.summary)))


if __name__ == "__main__":
    sys.exit(run("embed", main))

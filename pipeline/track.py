"""DVC stage `track`: point tracks of every (video, object set, window) of both splits.

Body: lang2motion.stages.track.run; parameters: the data, grid and track sections.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, report, run
from lang2motion.stages import track

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "out": ("data/tracks", "folder for <split>.parquet"),
         "summary": ("reports/track_summary.json", "JSON summary: rows, skips, timing")}


def main(argv: list[str] | None = None) -> None:
    args, params = parse_stage_args(__doc__, argv, sections=("data", "grid", "track"),
                                    paths=PATHS)
    report(track.summary_lines(track.run(**params, raw_dir=args.raw, out_dir=args.out,
                                         summary_path=args.summary)))


if __name__ == "__main__":
    sys.exit(run("track", main))

"""DVC stage `render`: trajectory overlays of every track row as MP4s a person can watch.

Body: lang2motion.stages.render.run; parameters: the data and overlay sections.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, report, run
from lang2motion.stages import render

PATHS = {"raw": ("data/raw", "folder of MeViS-layout splits"),
         "tracks": ("data/tracks", "folder of <split>.parquet"),
         "out": ("data/overlays", "folder for <split>/*.mp4"),
         "sheet": ("reports/overlays.png", "contact sheet PNG")}


def main(argv: list[str] | None = None) -> None:
    args, params = parse_stage_args(__doc__, argv, sections=("data", "overlay"), paths=PATHS)
    report(render.summary_lines(render.run(**params, raw_dir=args.raw, tracks_dir=args.tracks,
                                           out_dir=args.out, sheet_path=args.sheet)))


if __name__ == "__main__":
    sys.exit(run("render", main))

"""DVC stage `prepare`: MeViS-layout splits under data/raw (synthetic, or MeViS in place).

Body: lang2motion.stages.prepare.run_stage; parameters: the data section.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, print_summary, run_with_error_contract
from lang2motion.stages import prepare

PATHS = {"out": ("data/raw", "folder for the <split>/ folders"),
         "summary": ("reports/prepare_summary.json", "JSON summary with every skip and reason")}


def main(argv: list[str] | None = None) -> None:
    args, params = parse_stage_args(__doc__, argv, stage="prepare", paths=PATHS)
    print_summary(prepare.summary_lines(prepare.run_stage(**params, out_dir=args.out,
                                                          summary_path=args.summary)))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("prepare", main))

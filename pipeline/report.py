"""DVC stage `report`: reports/report.md from the evaluation's metrics, tables, plots and gallery,
and the experiments `lang2motion report` read from `dvc exp show` (reports/experiments.json).

Body: lang2motion.stages.report.run_stage; parameters: the report section (and params.yaml as a
whole, for the parameters that differ from the defaults).
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, print_summary, run_with_error_contract
from lang2motion.stages import report

PATHS = {"metrics": ("reports/metrics.json", "the evaluation's headline metrics"),
         "eval": ("reports/eval", "the evaluation's folder: tables.json, plots/, gallery.json"),
         "summaries": ("reports", "folder of prepare_summary.json, track_summary.json, "
                                  "embed_summary.json and train_metrics.json"),
         "experiments": ("reports/experiments.json",
                         "the committed runs `dvc exp show` lists (written by make report)"),
         "out": ("reports/report.md", "the report")}


def main(argv: list[str] | None = None) -> None:
    args, params = parse_stage_args(__doc__, argv, stage="report", paths=PATHS)
    print_summary(report.summary_lines(report.run_stage(
        **params, params_path=args.params, metrics_path=args.metrics, eval_dir=args.eval,
        summaries_dir=args.summaries, experiments_path=args.experiments, out_path=args.out)))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("report", main))

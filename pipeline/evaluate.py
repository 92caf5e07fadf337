"""DVC stage `evaluate`: the trained model on the valid split; metrics, tables, plots, gallery.

Body: lang2motion.stages.evaluate.run_stage; parameters: the data, track and eval sections.
"""

from __future__ import annotations

import sys

from lang2motion.entry import parse_stage_args, print_summary, run_with_error_contract
from lang2motion.stages import evaluate

PATHS = {"model": ("models", "checkpoint folder"),
         "features": ("data/features", "folder of <split>/ feature shards"),
         "raw": ("data/raw", "folder of MeViS-layout splits (the valid split's frames)"),
         "metrics": ("reports/metrics.json", "headline metrics (DVC metrics)"),
         "out": ("reports/eval", "tables, per-sample results, plots and gallery")}


def main(argv: list[str] | None = None) -> None:
    args, params = parse_stage_args(__doc__, argv, stage="evaluate", paths=PATHS)
    print_summary(evaluate.summary_lines(evaluate.run_stage(
        data=params["data"], track=params["track"], eval_cfg=params["eval"],
        model_dir=args.model, features_dir=args.features, raw_dir=args.raw,
        metrics_path=args.metrics, out_dir=args.out)))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("evaluate", main))

"""DVC stage `train`: the Lang2Motion auto-encoder on the CLIP feature shards.

Body: lang2motion.stages.train.run_stage; parameters: the data, grid, overlay, model, loss and train
sections.
"""

from __future__ import annotations

import sys

from lang2motion.entry import (
    parse_stage_args,
    print_summary,
    relaunch_under_torchrun,
    run_with_error_contract,
)
from lang2motion.stages import train

PATHS = {"features": ("data/features", "folder of <split>/ feature shards"),
         "out": ("models", "model checkpoint folder (resumable state in <out>/last/)"),
         "metrics": ("reports/train_metrics.json", "the last epoch's valid metrics"),
         "live": ("dvclive", "dvclive log folder")}


def main(argv: list[str] | None = None) -> int | None:
    args, params = parse_stage_args(
        __doc__, argv, stage="train", paths=PATHS)
    nproc = params["train"].nproc      # > 1: DDP, this script run again by torchrun

    def check() -> None:
        train.check(**{k: params[k] for k in ("data", "grid", "model", "loss", "train")},
                    features_dir=args.features, nproc=nproc)

    status = relaunch_under_torchrun(__file__, argv, nproc=nproc, param="train.nproc",
                                     check=check)
    if status is not None:
        return status
    print_summary(train.summary_lines(train.run_stage(
        **params, features_dir=args.features, out_dir=args.out, metrics_path=args.metrics,
        live_dir=args.live)))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("train", main))

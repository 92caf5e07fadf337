"""DVC stage `train`: the Lang2Motion auto-encoder on the CLIP feature shards.

Reads params sections data (split names), grid (N = grid.size ** 2), model, loss and train;
reads ``<features>/<split>/part-*.parquet`` for the train and valid splits; writes the model and
a resumable state under ``<out>`` (see lang2motion/train.py), dvclive logs under ``dvclive/``
and the last epoch's valid metrics to ``<metrics>``.
"""

from __future__ import annotations

import argparse
import logging
import warnings
from pathlib import Path

from scmrepo.exceptions import SCMError  # a dvclive dependency: its git errors

from dvclive import Live
from lang2motion.config import as_dict, load_params
from lang2motion.errors import DataError
from lang2motion.io import write_json_atomic
from lang2motion.store import load_feature_tensors
from lang2motion.train import train

FINAL_METRICS = ("recon_ade", "text_ade", "r1", "chance_r1", "n_trajectories")


def open_live() -> Live | None:
    """dvclive.Live, or None with a warning where dvclive cannot run (e.g. a git repository
    with no commit yet, where Live() raises)."""
    try:
        return Live("dvclive", save_dvc_exp=False, dvcyaml=None)
    except SCMError as exc:
        warnings.warn(f"dvclive logging disabled: {type(exc).__name__}: {exc}", stacklevel=2)
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--features", default="data/features", help="folder of <split>/ shards")
    parser.add_argument("--out", default="models", help="model checkpoint folder")
    parser.add_argument("--metrics", default="reports/train_metrics.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    params = load_params(args.params, "data", "grid", "model", "loss", "train")
    data, grid = params["data"], params["grid"]
    splits = {name: load_feature_tensors(Path(args.features) / split)
              for name, split in zip(("train", "valid"), data.splits)}
    for name, split in zip(splits, data.splits):
        points = splits[name].tracks.shape[2]
        if points != grid.size ** 2:
            raise DataError(f"{args.features}/{split}: tracks have {points} points but "
                            f"grid.size = {grid.size} means {grid.size ** 2}; re-run the "
                            f"track and embed stages")
    if splits["train"].clip_model != splits["valid"].clip_model:
        raise DataError(f"{args.features}: train features come from CLIP "
                        f"{splits['train'].clip_model}, valid from {splits['valid'].clip_model}; "
                        f"re-run the embed stage")
    live = open_live()
    try:
        result = train(train_data=splits["train"], valid_data=splits["valid"],
                       model_params=params["model"], loss=params["loss"],
                       train_cfg=params["train"], out_dir=Path(args.out), live=live,
                       extra_meta={"data": {"train_split": data.train_split,
                                            "valid_split": data.valid_split},
                                   "grid": as_dict(grid),
                                   # the text encoder `lang2motion generate` must use
                                   "clip": {"model": splits["train"].clip_model,
                                            "pretrained": splits["train"].clip_pretrained}})
    finally:
        if live is not None:
            live.end()
    valid = result.get("valid", {})
    fit = result.get("train", {})
    write_json_atomic(args.metrics, {"epoch": result.get("epoch", 0),
                                     **{k: valid[k] for k in FINAL_METRICS if k in valid},
                                     "train_r1": fit.get("r1"),
                                     "train_chance_r1": fit.get("chance_r1")})
    print(f"trained {result.get('epoch', 0)} epochs: " + ", ".join(
        f"{k} {valid[k]:.4g}" for k in FINAL_METRICS if k in valid))


if __name__ == "__main__":
    main()

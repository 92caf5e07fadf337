"""The train stage: the Lang2Motion auto-encoder on the CLIP feature shards.

Reads the train and valid feature shards, checks that they match the grid and come from one CLIP,
trains (see :mod:`lang2motion.train`: resumable, deterministic on CPU), logs every epoch to
dvclive and writes the last epoch's valid metrics as JSON.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from lang2motion.config import (
    DataConfig,
    GridConfig,
    LossConfig,
    ModelParams,
    OverlayConfig,
    TrainConfig,
    as_dict,
    values_read_by,
)
from lang2motion.distributed import World, barrier, current_world, process_group, rank_device
from lang2motion.errors import ConfigError, DataError
from lang2motion.io import write_json_atomic
from lang2motion.loader import InMemorySplit, StreamedSplit, open_split
from lang2motion.runtime import resolve_device
from lang2motion.store import FeatureTensors, load_feature_tensors
from lang2motion.train import check_setup, split_shape, train

DVCLIVE_DIR = "dvclive"
FINAL_METRICS = ("recon_ade", "text_ade", "r1", "chance_r1", "n_trajectories")


def open_live(directory: str | os.PathLike[str] = DVCLIVE_DIR) -> Any | None:
    """dvclive.Live, or None with a warning where dvclive cannot run (e.g. a git repository
    with no commit yet, where Live() raises)."""
    from scmrepo.exceptions import SCMError  # a dvclive dependency: its git errors

    from dvclive import Live

    try:
        return Live(str(directory), save_dvc_exp=False, dvcyaml=None)
    except SCMError as exc:
        warnings.warn(f"dvclive logging disabled: {type(exc).__name__}: {exc}", stacklevel=2)
        return None


def check_splits(splits: dict[str, InMemorySplit | StreamedSplit | FeatureTensors], *,
                 grid: GridConfig, features_dir: Path) -> None:
    """Features must have grid.size ** 2 points and come from one CLIP model."""
    for name, split in splits.items():
        points = (split.row_tracks.shape[2] if isinstance(split, FeatureTensors)
                  else split.meta["points"])
        if points != grid.size ** 2:
            raise DataError(f"{features_dir}/{name}: tracks have {points} points but grid.size "
                            f"= {grid.size} means {grid.size ** 2}; re-run the track and embed "
                            "stages (dvc repro)")
    models = {name: (s.clip_model, s.clip_pretrained) for name, s in splits.items()}
    if len(set(models.values())) > 1:
        raise DataError(f"{features_dir}: the splits come from different CLIP models {models}; "
                        "re-run the embed stage")


def open_splits(*, data: DataConfig, grid: GridConfig, model: ModelParams, loss: LossConfig,
                train: TrainConfig, features_dir: Path, world: World
                ) -> tuple[InMemorySplit | StreamedSplit, FeatureTensors]:
    """The training split (in memory or streamed, on this rank's device) and the valid split,
    checked together before anything is written."""
    device = rank_device(resolve_device(train.device, param="train.device"), world)
    train_name, valid_name = data.splits
    valid_data = load_feature_tensors(features_dir / valid_name)
    train_split = open_split(features_dir / train_name, device=device,
                             use_overlay=model.use_overlay, stream_above_mb=train.stream_above_mb,
                             window=train.stream_window)
    check_splits({train_name: train_split, valid_name: valid_data}, grid=grid,
                 features_dir=features_dir)
    check_setup(train_shape=split_shape(train_split), valid_data=valid_data, model_params=model,
                train_cfg=train, loss=loss, world=world)
    return train_split, valid_data


def check(*, data: DataConfig, grid: GridConfig, model: ModelParams, loss: LossConfig,
          train: TrainConfig, features_dir: str | os.PathLike[str], nproc: int) -> None:
    """What a launch of ``nproc`` processes would check first, checked once here (so a bad
    input gives one message, not one per rank)."""
    device = resolve_device(train.device, param="train.device")
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise ConfigError(f"train.nproc = {nproc} but this node has {torch.cuda.device_count()} "
                          "CUDA device(s): one process per GPU; lower train.nproc")
    open_splits(data=data, grid=grid, model=model, loss=loss,
                train=replace(train, device="cpu"), features_dir=Path(features_dir),
                world=World(rank=0, size=nproc))


def run_stage(*, data: DataConfig, grid: GridConfig, overlay: OverlayConfig, model: ModelParams,
        loss: LossConfig, train: TrainConfig, features_dir: str | os.PathLike[str],
        out_dir: str | os.PathLike[str], metrics_path: str | os.PathLike[str],
        live_dir: str | os.PathLike[str] = DVCLIVE_DIR) -> dict[str, Any]:
    """Train on ``features_dir/<train split>``, validate on the valid split; return the metrics.

    In a distributed run (torchrun) every rank trains its slice of each batch; rank 0 alone logs
    and writes the model, the metrics and the training log."""
    world = current_world()
    train_split, valid_data = open_splits(     # checked before dvclive starts a fresh log
        data=data, grid=grid, model=model, loss=loss, train=train,
        features_dir=Path(features_dir), world=world)
    device = rank_device(resolve_device(train.device, param="train.device"), world)
    with process_group(world, device):
        live = open_live(live_dir) if world.is_main else None
        try:
            result = _train(train_split=train_split, valid_data=valid_data, model_params=model,
                            loss=loss, train_cfg=train, out_dir=Path(out_dir), live=live,
                            world=world,
                            extra_meta={"data": {"train_split": data.train_split,
                                                 "valid_split": data.valid_split},
                                        "grid": as_dict(grid),
                                        # how the embed stage drew the overlays it encoded
                                        "overlay": values_read_by("embed", "overlay", overlay),
                                        # the text encoder `lang2motion generate` must use
                                        "clip": {"model": train_split.clip_model,
                                                 "pretrained": train_split.clip_pretrained}})
        finally:
            if live is not None:
                live.end()
        barrier(world)     # the others wait until rank 0 has written the model
    if not world.is_main:
        return {}
    valid, fit = result.get("valid", {}), result.get("train", {})
    metrics = {"epoch": result.get("epoch", 0), "steps": result.get("steps", 0),
               **{k: valid[k] for k in FINAL_METRICS if k in valid},
               "train_r1": fit.get("r1"), "train_chance_r1": fit.get("chance_r1")}
    write_json_atomic(metrics_path, metrics)
    return metrics


_train = train   # the stage's own ``train`` argument (the params section) shadows the function


def summary_lines(metrics: dict[str, Any]) -> list[str]:
    if not metrics:
        return []          # a rank other than 0 reports nothing
    return [f"trained {metrics.get('epoch', 0)} epochs ({metrics.get('steps', 0)} optimiser "
            "steps): " + ", ".join(
        f"{k} {metrics[k]:.4g}" for k in FINAL_METRICS if metrics.get(k) is not None)]

"""The training loop: AdamW on the Lang2Motion losses, resumable, deterministic on CPU, on one
process or many (DistributedDataParallel under torchrun).

Each epoch's order is a pure function of (seed, epoch), so a resumed run sees exactly the batches
an uninterrupted one would. With W processes each global batch is cut into W disjoint slices and
each rank's loss is weighted by its share, so DDP's gradient average is the global batch's: the
learning dynamics do not depend on W. Rank 0 alone evaluates, logs and writes ``out_dir/model.*``
(model/checkpoint.py) and ``out_dir/last/`` (the state to resume from) every
``checkpoint_every`` epochs; a re-run with the same parameters, data and code resumes from it.
Legend: B batch, S samples, T frames, N points, D feature.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lang2motion.codedeps import files_signature, module_files
from lang2motion.config import LossConfig, ModelConfig, ModelParams, TrainConfig, as_dict, flagged
from lang2motion.distributed import World, current_world, rank_device
from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.inline import BatchSource, inline_metrics, inline_reference
from lang2motion.loader import InMemorySplit, StreamedSplit
from lang2motion.model.autoencoder import Lang2Motion
from lang2motion.model.checkpoint import (
    load_train_state,
    read_train_state_meta,
    save_model,
    save_train_state,
)
from lang2motion.model.losses import TERMS, compute_losses
from lang2motion.runtime import autocast, machine_facts, resolve_device, resolve_precision
from lang2motion.schedule import planned_epochs, step_schedule, steps_per_epoch
from lang2motion.store import FeatureTensors

log = logging.getLogger(__name__)

LAST_DIR = "last"
# Reading the running loss forces a GPU sync; do it every few steps only.
PROGRESS_EVERY = 10
# The train parameters that may change between a run and its resumption without invalidating
# it (declared in lang2motion/config.py); those setting the length only while no schedule
# depends on the total number of steps.
RESUMABLE_CHANGES = frozenset(key.removeprefix("train.") for key in flagged("resumable"))
LENGTH_KEYS = ("epochs", "min_steps")   # together they set the number of steps
# A streamed training split is too large to score whole every epoch: the training-split R@1 and
# the baselines read against the valid metrics use its first this many samples.
STREAMED_REFERENCE_SAMPLES = 4096

TrainSplit = InMemorySplit | StreamedSplit


def check_features(data: FeatureTensors, *, name: str) -> None:
    """Raise DataError when a split is empty, mis-shaped or holds non-finite values."""
    if len(data) == 0:
        raise DataError(f"{name} split: no samples")
    if data.row_tracks.ndim != 4 or data.row_tracks.shape[-1] != 2:
        raise DataError(f"{name} split: tracks must be (R, T, N, 2), got "
                        f"{data.row_tracks.shape}")
    r, t = data.row_tracks.shape[:2]
    s, d = len(data), data.text_emb.shape[-1]
    expected = {"text_emb": (s, d), "row_image_emb": (r, t, d), "row_image_emb_pooled": (r, d),
                "row": (s,)}
    for key, shape in expected.items():
        if getattr(data, key).shape != shape:
            raise DataError(f"{name} split: {key} has shape {getattr(data, key).shape}, "
                            f"expected {shape} (R, T, D) from tracks {data.row_tracks.shape}")
    if s and (data.row.min() < 0 or data.row.max() >= r):
        raise DataError(f"{name} split: sample rows index outside the {r} trajectories")
    for key, ids in (("row_tracks", None), ("text_emb", data.sample_ids),
                     ("row_image_emb", None), ("row_image_emb_pooled", None)):
        values = getattr(data, key)
        bad = ~np.isfinite(values).reshape(len(values), -1).all(axis=1)
        if bad.any():
            first = int(bad.argmax())
            what = (f"sample {ids[first]}" if ids is not None
                    else f"track row {data.track_ids[int(np.argmax(data.row == first))]}")
            raise DataError(f"{name} split: {key.removeprefix('row_')} of {what} holds NaN or "
                            f"infinite values ({int(bad.sum())} affected)")
    if len(data.track_ids) != s:
        raise DataError(f"{name} split: {len(data.track_ids)} track ids for {s} samples")


class Objective(torch.nn.Module):
    """The model and its losses as one module: DDP synchronises gradients for what runs inside
    a wrapped module's forward, and compute_losses calls encode and decode, not forward."""

    def __init__(self, model: Lang2Motion, loss: LossConfig):
        super().__init__()
        self.model, self.loss = model, loss

    def forward(self, batch: dict[str, torch.Tensor], sampling: float) -> dict[str, torch.Tensor]:
        return compute_losses(self.model, batch, self.loss, sampling=sampling)


def train_step(objective: torch.nn.Module, optimizer: torch.optim.Optimizer,
               batch: dict[str, torch.Tensor], *, device: torch.device, lr: float | None = None,
               sampling: float = 0.0, grad_clip: float = 0.0, precision: str = "auto-cuda",
               weight: float = 1.0) -> dict[str, torch.Tensor]:
    """One optimisation step of an :class:`Objective` (DDP-wrapped in a distributed run)
    (``lr`` None: the optimizer's; ``grad_clip`` 0: off; ``precision``: see
    ``runtime.autocast``); returns the detached, unweighted loss terms. ``weight`` scales the
    loss before backward (the rank's share of the global batch times the number of ranks)."""
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    with autocast(device, precision=precision):
        losses = objective(batch, sampling)
    optimizer.zero_grad(set_to_none=True)
    (losses["total"] * weight).backward()
    if grad_clip > 0.0:
        torch.nn.utils.clip_grad_norm_(objective.parameters(), grad_clip)
    optimizer.step()
    return {k: v.detach() for k, v in losses.items()}


@torch.no_grad()
def mean_losses(model: Lang2Motion, data: BatchSource, loss: LossConfig,
                *, batch_size: int, device: torch.device,
                precision: str = "auto-cuda") -> dict[str, float]:
    """Teacher-forced loss terms averaged over a whole split, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    sums = {k: torch.zeros((), device=device) for k in (*TERMS, "total")}
    for index in torch.arange(data.samples).split(batch_size):
        batch = data.batch(index)
        with autocast(device, precision=precision):
            losses = compute_losses(model, batch, loss)
        for k, v in losses.items():
            sums[k] += v.float() * batch["tracks"].shape[0]
    model.train(was_training)
    return {k: (v / data.samples).item() for k, v in sums.items()}


def git_revision() -> str:
    """``git rev-parse HEAD`` of the working directory, or "unknown"."""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip() or "unknown"
    return "unknown"


def code_signature() -> str:
    """sha256 over this module and every package file it imports (as dvc.yaml's code deps): a
    resumable state saved by other code is stale."""
    return files_signature(module_files(__name__))


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    cuda = {"cuda": torch.cuda.get_rng_state(device)} if device.type == "cuda" else {}
    return {"torch": torch.get_rng_state(), **cuda}


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def log_epoch(live: Any, metrics: dict[str, Any]) -> None:
    """One epoch's train and valid metrics to dvclive (not its speed: a timing differs on every
    rerun)."""
    for split in ("train", "valid"):
        for key, value in metrics[split].items():
            live.log_metric(f"{split}/{key}", value)
    live.next_step()


def check_setup(*, train_shape: tuple[int, int, int], valid_data: FeatureTensors,
                model_params: ModelParams, train_cfg: TrainConfig, loss: LossConfig,
                world: World | None = None) -> tuple[ModelConfig, torch.device]:
    """The model the training split's (T, N, D) implies and this rank's device, checked with the
    valid split before anything is written (callers open their logs after this)."""
    check_features(valid_data, name="valid")
    frames, points, dim = train_shape
    if (frames, points) != valid_data.row_tracks.shape[1:3] or dim != valid_data.text_emb.shape[1]:
        raise DataError(f"train (T, N, D) = {train_shape} and valid "
                        f"{(*valid_data.row_tracks.shape[1:3], valid_data.text_emb.shape[1])} "
                        "disagree on T, N or D")
    world = world or current_world()
    if world.distributed and loss.contrastive:
        raise ConfigError(f"loss.contrastive = {loss.contrastive} with {world.size} processes: "
                          "the batch InfoNCE would only see each rank's slice of the batch, so "
                          "it is not implemented under DDP; set loss.contrastive=0 or "
                          "train.nproc=1")
    cfg = ModelConfig.from_params(model_params, points=points, frames=frames, clip_dim=dim)
    return cfg, rank_device(resolve_device(train_cfg.device, param="train.device"), world)


def split_shape(split: TrainSplit) -> tuple[int, int, int]:
    """(T, N, D) of a training split."""
    return split.meta["frames"], split.meta["points"], split.meta["dim"]


def train(*, train_split: TrainSplit, valid_data: FeatureTensors, model_params: ModelParams,
          loss: LossConfig, train_cfg: TrainConfig, out_dir: Path, live: Any | None,
          extra_meta: dict[str, Any], world: World | None = None,
          on_step: Callable[[int, dict[str, float]], None] | None = None) -> dict[str, Any]:
    """Train a Lang2Motion model; returns {"epoch", "train": {term: mean}, "valid": {...}}.

    ``live``: a ``dvclive.Live`` (rank 0) or None. ``extra_meta`` goes into model.json. ``world``
    (default: from the environment) needs its process group initialised. ``on_step(step,
    losses)`` receives each step's loss terms of the whole global batch (all ranks reduced).
    """
    out_dir = Path(out_dir)
    world = world or current_world()
    if isinstance(train_split, InMemorySplit):
        check_features(train_split.data, name="train")
    cfg, device = check_setup(train_shape=split_shape(train_split), valid_data=valid_data,
                              model_params=model_params, train_cfg=train_cfg, loss=loss,
                              world=world)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        # Every op we use has a deterministic CPU kernel; on CUDA this would also need
        # CUBLAS_WORKSPACE_CONFIG and cost speed, so GPU runs are reproducible only roughly.
        torch.use_deterministic_algorithms(True)
    try:
        return _train(train_split=train_split, valid_data=valid_data, cfg=cfg, loss=loss,
                      train_cfg=train_cfg, out_dir=out_dir, live=live, extra_meta=extra_meta,
                      device=device, world=world, on_step=on_step,
                      params={"model": as_dict(model_params), "loss": as_dict(loss),
                              "train": as_dict(train_cfg)})
    finally:
        torch.use_deterministic_algorithms(deterministic_before)


def _all_reduce_sum(tensors: list[torch.Tensor], world: World) -> list[torch.Tensor]:
    """The element-wise sums over every rank (one collective); the tensors themselves alone."""
    if not world.distributed:
        return tensors
    import torch.distributed as dist

    flat = torch.stack([t.float().reshape(()) for t in tensors])
    dist.all_reduce(flat)
    return list(flat.unbind())


def _train(*, train_split: TrainSplit, valid_data: FeatureTensors, cfg: ModelConfig,
           loss: LossConfig, train_cfg: TrainConfig, out_dir: Path, live: Any | None,
           extra_meta: dict[str, Any], device: torch.device, world: World,
           on_step: Callable[[int, dict[str, float]], None] | None,
           params: dict[str, Any]) -> dict[str, Any]:
    torch.manual_seed(train_cfg.seed)
    # train.min_steps raises the epochs of a small data set; train_cfg.epochs is then the real one
    epochs = planned_epochs(epochs=train_cfg.epochs, min_steps=train_cfg.min_steps,
                            samples=train_split.samples, batch_size=train_cfg.batch_size)
    if epochs != train_cfg.epochs:
        if world.is_main:
            log.warning("train.epochs %d raised to %d to reach train.min_steps %d on %d samples",
                        train_cfg.epochs, epochs, train_cfg.min_steps, train_split.samples)
        train_cfg = dataclasses.replace(train_cfg, epochs=epochs)
    precision = resolve_precision(train_cfg.precision, device)
    if world.is_main:
        log.info("training on %s at %s, %d process(es), %s training data", device, precision,
                 world.size, "streamed" if train_split.streamed else "in-memory")
    model = Lang2Motion(cfg).to(device)
    objective: torch.nn.Module = Objective(model, loss)
    if world.distributed:
        from torch.nn.parallel import DistributedDataParallel

        # DDP broadcasts rank 0's initial weights; every rank then applies the same averaged
        # gradients, so the replicas stay equal
        objective = DistributedDataParallel(
            objective, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=not cfg.use_overlay)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train_cfg.lr,
                                  weight_decay=train_cfg.weight_decay)
    valid_split = InMemorySplit(valid_data, device=device, use_overlay=cfg.use_overlay)
    signature = {
        "model_config": cfg.to_dict(), "loss": params["loss"],
        "train": {k: v for k, v in params["train"].items() if k not in (
            RESUMABLE_CHANGES - set(LENGTH_KEYS)
            if train_cfg.schedule != "constant" or train_cfg.sampling > 0.0
            else RESUMABLE_CHANGES)},
        "train_data": train_split.signature(), "valid_data": valid_split.signature(),
        "code": code_signature(),
    }
    start_epoch, metrics, history = 0, {}, []
    last_dir = out_dir / LAST_DIR
    saved = read_train_state_meta(last_dir)
    if saved is not None:
        old = saved.get("signature", {})
        differs = [k for k in sorted({*old, *signature}) if old.get(k) != signature.get(k)]
        if int(saved["epoch"]) >= train_cfg.epochs:
            # Resuming is for interrupted (or extended) runs. A finished run that is run again
            # was re-run on purpose (DVC re-runs a stage only when its inputs changed, or when
            # forced): train it again; more epochs than asked for cannot be undone either.
            differs.append(f"the saved run already finished ({saved['epoch']} epochs trained, "
                           f"{train_cfg.epochs} asked for)")
        if differs:
            if world.is_main:
                log.warning("%s: not resuming (%s); starting fresh", last_dir, ", ".join(differs))
        else:
            saved, rng = load_train_state(last_dir, model=model, optimizer=optimizer)
            _set_rng_state(rng, device)
            start_epoch, metrics = int(saved["epoch"]), saved.get("metrics", {})
            history = list(saved.get("history", []))[:start_epoch]
            if world.is_main:
                log.warning("%s: resuming after epoch %d of %d", last_dir, start_epoch,
                            train_cfg.epochs)
    # what the training split is scored on (its R@1) and what the baselines use: the whole
    # split in memory, the first STREAMED_REFERENCE_SAMPLES of a streamed one
    fit_data = (train_split.data if isinstance(train_split, InMemorySplit)
                else train_split.head(STREAMED_REFERENCE_SAMPLES))
    fit_split = (train_split if isinstance(train_split, InMemorySplit)
                 else InMemorySplit(fit_data, device=device, use_overlay=cfg.use_overlay))
    # baselines, slices and motion-kind references of the valid split: computed once
    reference = inline_reference(valid_data, fit_data) if world.is_main else None
    samples = train_split.samples
    steps = steps_per_epoch(samples, train_cfg.batch_size)
    meta = {"params": params, "git_rev": git_revision(), "machine": machine_facts(device),
            "world_size": world.size, **extra_meta}
    if live is not None:
        # dvclive starts a fresh log; replaying the saved epochs makes a resumed run's plots
        # hold every epoch, as an uninterrupted run's do
        for past in history:
            log_epoch(live, past)
    bar = tqdm(total=(train_cfg.epochs - start_epoch) * steps, desc="train", unit="step",
               dynamic_ncols=True, disable=not world.is_main)
    for epoch in range(start_epoch, train_cfg.epochs):
        model.train()
        started = time.perf_counter()
        sums = {k: torch.zeros((), device=device) for k in (*TERMS, "total")}
        order = train_split.order(seed=train_cfg.seed, epoch=epoch)
        seen = 0
        for step, global_index in enumerate(order.split(train_cfg.batch_size)):
            lr, share = step_schedule(train_cfg, step=epoch * steps + step,
                                      total_steps=train_cfg.epochs * steps, steps_per_epoch=steps)
            # this rank's disjoint slice of the global batch; a rank left without samples (a
            # last batch smaller than the world) takes one with weight 0, so that every rank
            # still joins DDP's gradient average
            local = global_index.tensor_split(world.size)[world.rank]
            count = len(local)
            if count == 0:
                local = global_index[:1]
            weight = count * world.size / len(global_index)
            losses = train_step(objective, optimizer, train_split.batch(local), device=device,
                                lr=lr, sampling=share, grad_clip=train_cfg.grad_clip,
                                precision=precision, weight=weight)
            seen += len(global_index)
            for k, v in losses.items():
                sums[k] += v.float() * count
            if on_step is not None:
                totals = _all_reduce_sum([v.float() * count for v in losses.values()], world)
                on_step(epoch * steps + step, {k: (v / len(global_index)).item()
                                               for k, v in zip(losses, totals, strict=True)})
            bar.update()
            if world.is_main and (step % PROGRESS_EVERY == 0 or step == steps - 1):
                # this rank's running mean, steadier to read than one batch's loss
                bar.set_postfix(epoch=epoch + 1,
                                loss=f"{sums['total'].item() * world.size / seen:.4f}")
        seconds = time.perf_counter() - started
        totals = _all_reduce_sum(list(sums.values()), world)
        train_means = {k: (v / samples).item() for k, v in zip(sums, totals, strict=True)}
        train_means.update({"lr": lr, "sampling": share})     # at the epoch's last step
        done = epoch + 1
        if not world.is_main:
            continue      # rank 0 evaluates and writes; the others go on to the next epoch
        valid = {f"loss_{k}": v for k, v in mean_losses(
            model, valid_split, loss, batch_size=train_cfg.batch_size, device=device,
            precision=precision).items()}
        with autocast(device, precision=precision):
            valid.update(inline_metrics(model, valid_split, valid_data.track_ids,
                                        batch_size=train_cfg.batch_size, reference=reference))
            # retrieval on the training split itself: separates "cannot align at all" from
            # "aligns what it saw but does not generalise" when valid R@1 stays at chance
            fit = inline_metrics(model, fit_split, fit_data.track_ids,
                                 batch_size=train_cfg.batch_size, ade=False)
        train_means.update({"r1": fit["r1"], "chance_r1": fit["chance_r1"]})
        # the throughput is a timing: kept in the model's metadata, not logged as a DVC metric
        metrics = {"epoch": done, "steps": done * steps, "train": train_means, "valid": valid,
                   "speed": {"samples_per_s": samples / seconds}}
        history.append(metrics)
        if live is not None:
            log_epoch(live, metrics)
        if done % train_cfg.checkpoint_every == 0 or done == train_cfg.epochs:
            epoch_meta = {**meta, "epoch": done, "steps": done * steps, "metrics": metrics}
            save_model(out_dir, model, epoch_meta)
            save_train_state(last_dir, model=model, optimizer=optimizer, epoch=done,
                             rng=_rng_state(device),
                             meta={"signature": signature, "metrics": metrics,
                                   "history": history})
    bar.close()
    if train_cfg.epochs == 0 and world.is_main:
        # nothing trained: still leave the (untrained) model that later stages expect
        save_model(out_dir, model, {**meta, "epoch": start_epoch, "steps": 0, "metrics": metrics})
    return metrics

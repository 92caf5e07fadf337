"""The training loop: AdamW on the six Lang2Motion losses, resumable, deterministic on CPU.

The whole data set lives on the training device as tensors; each epoch draws its order from a
torch.Generator seeded from (seed, epoch), so a resumed run sees exactly the batches an
uninterrupted one would. Every ``checkpoint_every`` epochs the run writes

- ``out_dir/model.safetensors`` + ``model.json``: the model so far (see model/checkpoint.py),
- ``out_dir/last/``: weights, optimizer state, epoch and RNG state to resume from.

Re-running with the same parameters and data resumes from ``last/``; anything else starts
fresh (and says why). Legend: B batch, S samples, T frames, N points, D feature.
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from lang2motion.codedeps import files_signature, module_files
from lang2motion.config import LossConfig, ModelParams, TrainConfig, as_dict
from lang2motion.errors import DataError
from lang2motion.evaluate.inline import inline_metrics, inline_reference
from lang2motion.model.autoencoder import Lang2Motion
from lang2motion.model.checkpoint import (
    load_train_state,
    read_train_state_meta,
    save_model,
    save_train_state,
)
from lang2motion.model.config import ModelConfig
from lang2motion.model.losses import TERMS, compute_losses
from lang2motion.runtime import (
    autocast,
    iterate_batches,
    resolve_device,
    resolve_precision,
    to_device,
)
from lang2motion.schedule import learning_rate, sampling_share, warmup_steps
from lang2motion.store import FeatureTensors

log = logging.getLogger(__name__)

LAST_DIR = "last"
# (seed, epoch) -> one generator seed; a prime stride keeps (seed, epoch) pairs from colliding
# for any realistic number of epochs.
EPOCH_SEED_STRIDE = 1_000_003
# Reading the running loss forces a GPU sync; do it every few steps only.
PROGRESS_EVERY = 10
# Parameters that may change between a run and its resumption without invalidating it (epochs
# only while no schedule depends on the total number of steps).
RESUMABLE_CHANGES = ("epochs", "checkpoint_every", "device")


def resumable_changes(cfg: TrainConfig) -> tuple[str, ...]:
    if cfg.schedule != "constant" or cfg.sampling > 0.0:
        return tuple(k for k in RESUMABLE_CHANGES if k != "epochs")
    return RESUMABLE_CHANGES


def check_features(data: FeatureTensors, *, name: str) -> None:
    """Raise DataError when a split is empty, mis-shaped or holds non-finite values."""
    if len(data) == 0:
        raise DataError(f"{name} split: no samples")
    if data.tracks.ndim != 4 or data.tracks.shape[-1] != 2:
        raise DataError(f"{name} split: tracks must be (S, T, N, 2), got {data.tracks.shape}")
    s, t = data.tracks.shape[:2]
    d = data.text_emb.shape[-1]
    expected = {"text_emb": (s, d), "image_emb": (s, t, d), "image_emb_pooled": (s, d)}
    for key, shape in expected.items():
        if getattr(data, key).shape != shape:
            raise DataError(f"{name} split: {key} has shape {getattr(data, key).shape}, "
                            f"expected {shape} (S, T, D) from tracks {data.tracks.shape}")
    for key in ("tracks", "text_emb", "image_emb", "image_emb_pooled"):
        bad = ~np.isfinite(getattr(data, key)).reshape(s, -1).all(axis=1)
        if bad.any():
            raise DataError(f"{name} split: {key} of sample {data.sample_ids[int(bad.argmax())]} "
                            f"holds NaN or infinite values ({int(bad.sum())} samples affected)")
    if len(data.track_ids) != s:
        raise DataError(f"{name} split: {len(data.track_ids)} track ids for {s} samples")


def to_device_tensors(data: FeatureTensors, *, device: torch.device,
                      use_overlay: bool) -> dict[str, torch.Tensor]:
    """The batch keys of compute_losses for the whole split, on ``device``:
    tracks (S, T, N, 2), text_emb (S, D), image_emb_pooled (S, D) and, when the model uses
    overlays, overlay (S, T, D). float32."""
    arrays = {"tracks": data.tracks, "text_emb": data.text_emb,
              "image_emb_pooled": data.image_emb_pooled}
    if use_overlay:
        arrays["overlay"] = data.image_emb
    return to_device(arrays, device)


def epoch_order(samples: int, *, seed: int, epoch: int) -> torch.Tensor:
    """(S,) the shuffled sample order of one epoch; a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * EPOCH_SEED_STRIDE + epoch)
    return torch.randperm(samples, generator=generator)


def train_step(model: Lang2Motion, optimizer: torch.optim.Optimizer,
               batch: dict[str, torch.Tensor], loss: LossConfig,
               *, device: torch.device, lr: float | None = None, sampling: float = 0.0,
               grad_clip: float = 0.0, precision: str = "auto-cuda") -> dict[str, torch.Tensor]:
    """One optimisation step at learning rate ``lr`` (None: the optimizer's), with scheduled
    sampling share ``sampling``, the gradient norm clipped to ``grad_clip`` (0: off) and the
    forward pass at ``precision`` (see ``runtime.autocast``); returns the detached loss terms
    (scalars on device)."""
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    with autocast(device, precision=precision):
        losses = compute_losses(model, batch, loss, sampling=sampling)
    optimizer.zero_grad(set_to_none=True)
    losses["total"].backward()
    if grad_clip > 0.0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return {k: v.detach() for k, v in losses.items()}


def step_schedule(cfg: TrainConfig, *, step: int, total_steps: int,
                  steps_per_epoch: int) -> tuple[float, float]:
    """(learning rate, sampling share) of optimisation step ``step`` of ``total_steps``."""
    lr = learning_rate(step, lr=cfg.lr, schedule=cfg.schedule,
                       warmup_steps=warmup_steps(cfg.warmup_epochs, steps_per_epoch),
                       total_steps=total_steps, min_lr_ratio=cfg.min_lr_ratio)
    share = sampling_share(step / max(total_steps - 1, 1), max_share=cfg.sampling,
                           start=cfg.sampling_start, end=cfg.sampling_end)
    return lr, share


@torch.no_grad()
def mean_losses(model: Lang2Motion, data: dict[str, torch.Tensor], loss: LossConfig,
                *, batch_size: int, device: torch.device,
                precision: str = "auto-cuda") -> dict[str, float]:
    """Teacher-forced loss terms averaged over a whole split, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    samples = data["tracks"].shape[0]
    sums = {k: torch.zeros((), device=device) for k in (*TERMS, "total")}
    for batch in iterate_batches(data, torch.arange(samples), batch_size=batch_size):
        with autocast(device, precision=precision):
            losses = compute_losses(model, batch, loss)
        for k, v in losses.items():
            sums[k] += v.float() * batch["tracks"].shape[0]
    model.train(was_training)
    return {k: (v / samples).item() for k, v in sums.items()}


def git_revision() -> str:
    """``git rev-parse HEAD`` of the working directory, or "unknown"."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip() or "unknown"


def code_signature() -> str:
    """sha256 over the source that defines what training computes: this module and every package
    file it imports (the same walker that derives dvc.yaml's code dependencies). A resumable
    state saved by other code is stale."""
    return files_signature(module_files(__name__))


def data_signature(data: FeatureTensors) -> dict[str, Any]:
    """Identifies a split cheaply: its size, shapes and a hash of its sample ids."""
    digest = hashlib.sha256("\n".join(data.sample_ids).encode()).hexdigest()
    return {"samples": len(data), "tracks_shape": list(data.tracks.shape),
            "sample_ids_sha256": digest}


def _rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def log_epoch(live: Any, metrics: dict[str, Any]) -> None:
    """One epoch's train and valid metrics to dvclive, then the next step."""
    for split in ("train", "valid"):
        for key, value in metrics[split].items():
            live.log_metric(f"{split}/{key}", value)
    live.next_step()


def _signature_diff(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    keys = sorted(set(saved) | set(current))
    return [k for k in keys if saved.get(k) != current.get(k)]


def check_setup(*, train_data: FeatureTensors, valid_data: FeatureTensors,
                model_params: ModelParams, train_cfg: TrainConfig
                ) -> tuple[ModelConfig, torch.device]:
    """Everything training needs, checked before anything is written (callers open their
    logs after this): the splits, the model they imply and the device."""
    check_features(train_data, name="train")
    check_features(valid_data, name="valid")
    if train_data.tracks.shape[1:] != valid_data.tracks.shape[1:] \
            or train_data.text_emb.shape[1] != valid_data.text_emb.shape[1]:
        raise DataError(f"train tracks {train_data.tracks.shape} / text {train_data.text_emb.shape}"
                        f" and valid tracks {valid_data.tracks.shape} / text "
                        f"{valid_data.text_emb.shape} disagree on T, N or D")
    _, frames, points, _ = train_data.tracks.shape
    cfg = ModelConfig.from_params(model_params, points=points, frames=frames,
                                  clip_dim=train_data.text_emb.shape[1])
    return cfg, resolve_device(train_cfg.device, param="train.device")


def train(*, train_data: FeatureTensors, valid_data: FeatureTensors, model_params: ModelParams,
          loss: LossConfig, train_cfg: TrainConfig, out_dir: Path, live: Any | None,
          extra_meta: dict[str, Any]) -> dict[str, Any]:
    """Train a Lang2Motion model; returns {"epoch", "train": {term: mean}, "valid": {...}}.

    ``live`` is a ``dvclive.Live`` (or None: no logging). ``extra_meta`` is stored in
    model.json beside the config, parameters, git revision, epoch and metrics.
    """
    out_dir = Path(out_dir)
    cfg, device = check_setup(train_data=train_data, valid_data=valid_data,
                              model_params=model_params, train_cfg=train_cfg)
    deterministic_before = torch.are_deterministic_algorithms_enabled()
    if device.type == "cpu":
        # Every op we use has a deterministic CPU kernel; on CUDA this would also need
        # CUBLAS_WORKSPACE_CONFIG and cost speed, so GPU runs are reproducible only roughly.
        torch.use_deterministic_algorithms(True)
    try:
        return _train(train_data=train_data, valid_data=valid_data, cfg=cfg, loss=loss,
                      train_cfg=train_cfg, out_dir=out_dir, live=live, extra_meta=extra_meta,
                      device=device, params={"model": as_dict(model_params),
                                             "loss": as_dict(loss), "train": as_dict(train_cfg)})
    finally:
        torch.use_deterministic_algorithms(deterministic_before)


def _train(*, train_data: FeatureTensors, valid_data: FeatureTensors, cfg: ModelConfig,
           loss: LossConfig, train_cfg: TrainConfig, out_dir: Path, live: Any | None,
           extra_meta: dict[str, Any], device: torch.device,
           params: dict[str, Any]) -> dict[str, Any]:
    torch.manual_seed(train_cfg.seed)
    precision = resolve_precision(train_cfg.precision, device)
    log.info("training on %s at %s", device, precision)
    model = Lang2Motion(cfg).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train_cfg.lr,
                                  weight_decay=train_cfg.weight_decay)
    signature = {
        "model_config": cfg.to_dict(), "loss": params["loss"],
        "train": {k: v for k, v in params["train"].items()
                  if k not in resumable_changes(train_cfg)},
        "train_data": data_signature(train_data), "valid_data": data_signature(valid_data),
        "code": code_signature(),
    }
    start_epoch, metrics, history = 0, {}, []
    last_dir = out_dir / LAST_DIR
    saved = read_train_state_meta(last_dir)
    if saved is not None:
        differs = _signature_diff(saved.get("signature", {}), signature)
        if int(saved["epoch"]) >= train_cfg.epochs:
            # Resuming is for interrupted (or extended) runs. A finished run that is run again
            # was re-run on purpose (DVC re-runs a stage only when its inputs changed, or when
            # forced): train it again; more epochs than asked for cannot be undone either.
            differs.append(f"the saved run already finished ({saved['epoch']} epochs trained, "
                           f"{train_cfg.epochs} asked for)")
        if differs:
            log.warning("%s: not resuming (%s); starting fresh", last_dir, ", ".join(differs))
        else:
            saved, rng = load_train_state(last_dir, model=model, optimizer=optimizer)
            _set_rng_state(rng, device)
            start_epoch, metrics = int(saved["epoch"]), saved.get("metrics", {})
            history = list(saved.get("history", []))[:start_epoch]
            log.warning("%s: resuming after epoch %d of %d", last_dir, start_epoch,
                        train_cfg.epochs)
    # baselines, slices and motion-kind references of the valid split: computed once
    reference = inline_reference(valid_data, train_data)
    train_tensors = to_device_tensors(train_data, device=device, use_overlay=cfg.use_overlay)
    valid_tensors = to_device_tensors(valid_data, device=device, use_overlay=cfg.use_overlay)
    samples = len(train_data)
    steps = -(-samples // train_cfg.batch_size)
    meta = {"params": params, "git_rev": git_revision(), **extra_meta}
    if live is not None:
        # dvclive starts a fresh log; replaying the saved epochs makes a resumed run's plots
        # hold every epoch, as an uninterrupted run's do
        for past in history:
            log_epoch(live, past)
    bar = tqdm(total=(train_cfg.epochs - start_epoch) * steps, desc="train", unit="step",
               dynamic_ncols=True)
    for epoch in range(start_epoch, train_cfg.epochs):
        model.train()
        started = time.perf_counter()
        sums = {k: torch.zeros((), device=device) for k in (*TERMS, "total")}
        order = epoch_order(samples, seed=train_cfg.seed, epoch=epoch)
        seen = 0
        for step, batch in enumerate(iterate_batches(train_tensors, order,
                                                     batch_size=train_cfg.batch_size)):
            lr, share = step_schedule(train_cfg, step=epoch * steps + step,
                                      total_steps=train_cfg.epochs * steps, steps_per_epoch=steps)
            losses = train_step(model, optimizer, batch, loss, device=device, lr=lr,
                                sampling=share, grad_clip=train_cfg.grad_clip,
                                precision=precision)
            seen += batch["tracks"].shape[0]
            for k, v in losses.items():
                sums[k] += v.float() * batch["tracks"].shape[0]
            bar.update()
            if step % PROGRESS_EVERY == 0 or step == steps - 1:
                # the epoch's running mean, steadier to read than one batch's loss
                bar.set_postfix(epoch=epoch + 1, loss=f"{sums['total'].item() / seen:.4f}")
        seconds = time.perf_counter() - started
        train_means = {k: (v / samples).item() for k, v in sums.items()}
        train_means.update({"lr": lr, "sampling": share})     # at the epoch's last step
        valid = {f"loss_{k}": v for k, v in mean_losses(
            model, valid_tensors, loss, batch_size=train_cfg.batch_size, device=device,
            precision=precision).items()}
        with autocast(device, precision=precision):
            valid.update(inline_metrics(model, valid_tensors, valid_data.track_ids,
                                        batch_size=train_cfg.batch_size, reference=reference))
            # retrieval on the training split itself: separates "cannot align at all" from
            # "aligns what it saw but does not generalise" when valid R@1 stays at chance
            fit = inline_metrics(model, train_tensors, train_data.track_ids,
                                 batch_size=train_cfg.batch_size, ade=False)
        train_means.update({"r1": fit["r1"], "chance_r1": fit["chance_r1"]})
        metrics = {"epoch": epoch + 1, "train": {**train_means, "samples_per_s": samples / seconds},
                   "valid": valid}
        history.append(metrics)
        if live is not None:
            log_epoch(live, metrics)
        done = epoch + 1
        if done % train_cfg.checkpoint_every == 0 or done == train_cfg.epochs:
            epoch_meta = {**meta, "epoch": done, "metrics": metrics}
            save_model(out_dir, model, epoch_meta)
            save_train_state(last_dir, model=model, optimizer=optimizer, epoch=done,
                             rng=_rng_state(device),
                             meta={"signature": signature, "metrics": metrics,
                                   "history": history})
    bar.close()
    if train_cfg.epochs == 0:
        # nothing trained: still leave the (untrained) model that later stages expect
        save_model(out_dir, model, {**meta, "epoch": start_epoch, "metrics": metrics})
    return metrics

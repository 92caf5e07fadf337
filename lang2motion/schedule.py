"""Training schedules as pure functions of the optimisation step, never of state, so a resumed
run gets exactly the values an uninterrupted one would.

Training length: :func:`planned_epochs` raises the epochs of a small data set to ``min_steps``
optimiser steps, since a fixed epoch count means very few steps there (72 expressions at batch
32: 8 epochs = 24 steps, which learn nothing) and many on a large one.

Scheduled sampling (Bengio et al. 2015): with probability ``share`` the autoregressive decoder is
fed its own previous prediction instead of the ground truth; 0 everywhere is the paper's teacher
forcing, 1 is free running (the mode the decoder is used in).
"""

from __future__ import annotations

import math

from lang2motion.config import LR_SCHEDULES, TrainConfig
from lang2motion.errors import ConfigError


def steps_per_epoch(samples: int, batch_size: int) -> int:
    """Optimiser steps of one epoch: the last batch may be smaller."""
    return -(-samples // batch_size)


def planned_epochs(*, epochs: int, min_steps: int, samples: int, batch_size: int) -> int:
    """``epochs``, raised so that training takes at least ``min_steps`` steps (0 stays 0)."""
    per_epoch = steps_per_epoch(samples, batch_size)
    if epochs == 0 or per_epoch == 0:
        return epochs
    return max(epochs, -(-min_steps // per_epoch))


def learning_rate(step: int, *, lr: float, schedule: str, warmup_steps: int, total_steps: int,
                  min_lr_ratio: float) -> float:
    """The learning rate of step ``step`` (0-based) of ``total_steps``: a linear warm-up from
    ``lr / warmup_steps`` to ``lr``, then constant, or a linear or cosine decay to
    ``lr * min_lr_ratio`` at the last step."""
    if schedule not in LR_SCHEDULES:
        raise ConfigError(f"train.schedule must be one of {', '.join(LR_SCHEDULES)}, "
                          f"got {schedule!r}")
    if step < warmup_steps:
        return lr * (step + 1) / warmup_steps
    if schedule == "constant":
        return lr
    span = max(total_steps - warmup_steps - 1, 1)
    progress = min(max(step - warmup_steps, 0) / span, 1.0)
    floor = lr * min_lr_ratio
    if schedule == "linear":
        return floor + (lr - floor) * (1.0 - progress)
    return floor + (lr - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def sampling_share(progress: float, *, max_share: float, start: float, end: float) -> float:
    """Share of own predictions at ``progress`` (0 = first step, 1 = last) of training: 0 until
    ``start``, rising linearly to ``max_share`` at ``end``; ``start == end`` is a step there
    (0 and 0: the decoder's own outputs from the first step)."""
    if max_share == 0.0:
        return 0.0
    if progress >= end:
        return max_share
    if progress <= start:
        return 0.0
    return max_share * (progress - start) / (end - start)


def warmup_steps(warmup_epochs: float, steps_per_epoch: int) -> int:
    """Whole steps of a warm-up given in (possibly fractional) epochs."""
    return round(warmup_epochs * steps_per_epoch)


def step_schedule(cfg: TrainConfig, *, step: int, total_steps: int,
                  steps_per_epoch: int) -> tuple[float, float]:
    """(learning rate, sampling share) of optimisation step ``step`` of ``total_steps``."""
    lr = learning_rate(step, lr=cfg.lr, schedule=cfg.schedule,
                       warmup_steps=warmup_steps(cfg.warmup_epochs, steps_per_epoch),
                       total_steps=total_steps, min_lr_ratio=cfg.min_lr_ratio)
    share = sampling_share(step / max(total_steps - 1, 1), max_share=cfg.sampling,
                           start=cfg.sampling_start, end=cfg.sampling_end)
    return lr, share

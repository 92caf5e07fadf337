"""Learning-rate and scheduled-sampling schedules (hand-computed values) and the decoder's
scheduled sampling at its two ends."""

from __future__ import annotations

import math

import pytest
import torch

from lang2motion.model import Lang2Motion, ModelConfig
from lang2motion.schedule import (
    learning_rate,
    planned_epochs,
    sampling_share,
    steps_per_epoch,
    warmup_steps,
)


@pytest.mark.parametrize(("schedule", "step", "expected"), [
    # warm-up of 4 steps from lr / 4: steps 0..3 -> 0.25, 0.5, 0.75, 1.0 (x lr = 1.0)
    ("cosine", 0, 0.25), ("cosine", 3, 1.0),
    # after warm-up: 10 steps, decay over steps 4..9 (span 5) to 0.1
    ("cosine", 4, 1.0),
    ("cosine", 9, 0.1),
    ("cosine", 6, 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 2 / 5))),   # 0.7781...
    ("linear", 6, 0.1 + 0.9 * (1 - 2 / 5)),                             # 0.64
    ("linear", 9, 0.1),
    ("constant", 9, 1.0), ("constant", 1, 0.5),
])
def test_learning_rate_by_hand(schedule: str, step: int, expected: float) -> None:
    got = learning_rate(step, lr=1.0, schedule=schedule, warmup_steps=4, total_steps=10,
                        min_lr_ratio=0.1)
    assert got == pytest.approx(expected)


def test_sampling_share_ramps_between_start_and_end() -> None:
    kwargs = {"max_share": 0.8, "start": 0.2, "end": 0.6}
    assert sampling_share(0.1, **kwargs) == 0.0
    assert sampling_share(0.4, **kwargs) == pytest.approx(0.4)        # halfway up the ramp
    assert sampling_share(0.9, **kwargs) == pytest.approx(0.8)
    assert sampling_share(0.9, max_share=0.0, start=0.0, end=0.5) == 0.0
    assert warmup_steps(1.5, 4) == 6
    # start == end: a step; 0 and 0 (the demo): own outputs from the very first step
    assert sampling_share(0.0, max_share=1.0, start=0.0, end=0.0) == 1.0
    assert sampling_share(0.29, max_share=0.5, start=0.3, end=0.3) == 0.0
    assert sampling_share(0.3, max_share=0.5, start=0.3, end=0.3) == 0.5


def test_scheduled_sampling_ends_equal_teacher_forcing_and_free_running() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(latent=16, layers=1, heads=2, ff=32, dropout=0.0, decoder_hidden=32,
                      points=4, frames=6, clip_dim=16)
    model = Lang2Motion(cfg).eval()
    for param in model.parameters():                 # a decoder that moves (not the zero head)
        torch.nn.init.normal_(param, std=0.1)
    z, grid = torch.randn(3, 16), torch.rand(3, 4, 2)
    truth = grid[:, None] + torch.cumsum(torch.randn(3, 6, 4, 2) * 0.05, dim=1)
    with torch.no_grad():
        teacher = model.decode(z, grid, teacher=truth)
        free = model.decode(z, grid)
        assert torch.equal(model.decode(z, grid, teacher=truth, sampling=0.0), teacher)
        assert torch.equal(model.decode(z, grid, teacher=truth, sampling=1.0), free)
        half = model.decode(z, grid, teacher=truth, sampling=0.5)
    assert not torch.allclose(teacher, free)
    # frame 1 is always decoded from the grid: equal up to the order of the first layer's sums
    assert half.shape == teacher.shape
    assert torch.allclose(half[:, :2], teacher[:, :2], atol=1e-6)


def test_planned_epochs_reach_min_steps_and_leave_the_demo_alone() -> None:
    # the demo: 2370 training expressions at batch 32 = 75 steps; 8 epochs = 600 steps
    assert steps_per_epoch(2370, 32) == 75
    assert planned_epochs(epochs=8, min_steps=600, samples=2370, batch_size=32) == 8
    # a small set: 72 expressions = 3 steps per epoch; 8 epochs would be 24 steps
    assert planned_epochs(epochs=8, min_steps=600, samples=72, batch_size=32) == 200
    assert planned_epochs(epochs=8, min_steps=601, samples=72, batch_size=32) == 201
    assert planned_epochs(epochs=200, min_steps=600, samples=72, batch_size=32) == 200
    assert planned_epochs(epochs=8, min_steps=0, samples=72, batch_size=32) == 8
    assert planned_epochs(epochs=0, min_steps=600, samples=72, batch_size=32) == 0

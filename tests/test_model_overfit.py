"""The model can memorise 8 synthetic samples: free-running reconstruction ADE drops >= 10x."""

from __future__ import annotations

import time

import pytest
import torch

from lang2motion.config import LossConfig
from lang2motion.evaluate.inline import point_ade
from lang2motion.model import Lang2Motion, ModelConfig, compute_losses

SAMPLES, FRAMES, POINTS, LATENT = 8, 12, 16, 32
STEPS = 150
LEARNING_RATE = 3e-3
TIME_LIMIT_S = 60


def markov_tracks(generator: torch.Generator) -> torch.Tensor:
    """(S, T, N, 2) each sample's grid rotates about its centre and drifts at a constant speed:
    p_t depends on p_{t-1} only, which the paper's decoder can represent exactly."""
    grid = torch.rand(SAMPLES, POINTS, 2, generator=generator) * 0.6 - 0.3
    drift = torch.randn(SAMPLES, 1, 2, generator=generator) * 0.03
    omega = torch.randn(SAMPLES, generator=generator) * 0.1
    cos, sin = torch.cos(omega)[:, None], torch.sin(omega)[:, None]
    centre = grid.mean(1, keepdim=True)
    frames = [grid]
    for _ in range(FRAMES - 1):
        q = frames[-1] - centre
        centre = centre + drift
        frames.append(torch.stack([cos * q[..., 0] - sin * q[..., 1],
                                   sin * q[..., 0] + cos * q[..., 1]], -1) + centre)
    return torch.stack(frames, 1)


@pytest.fixture()
def one_thread():
    """A tiny model gains nothing from threads, and on a CPU shared with other jobs spinning
    OpenMP threads can slow it down many times over."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.usefixtures("one_thread")
def test_overfits_eight_samples() -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    tracks = markov_tracks(generator)
    overlay = torch.randn(SAMPLES, FRAMES, LATENT, generator=generator)
    batch = {"tracks": tracks, "overlay": overlay,
             "text_emb": torch.randn(SAMPLES, LATENT, generator=generator),
             "image_emb_pooled": overlay.mean(1)}
    cfg = ModelConfig(points=POINTS, frames=FRAMES, latent=LATENT, clip_dim=LATENT, layers=1,
                      heads=2, ff=128, dropout=0.0, decoder_hidden=256)
    model = Lang2Motion(cfg)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE)
    # reconstruction terms only: random text embeddings carry no motion to align with
    loss_cfg = LossConfig(text=0.0, image=0.0, text_recon=0.0)

    def ade() -> float:
        with torch.no_grad():
            model.eval()
            recon = model.decode(model.encode(tracks, overlay), tracks[:, 0])  # own outputs
            model.train()
            return point_ade(recon, tracks).mean().item()

    before, started = ade(), time.perf_counter()
    for _ in range(STEPS):
        loss = compute_losses(model, batch, loss_cfg)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = ade()
    assert time.perf_counter() - started < TIME_LIMIT_S
    assert after * 10 <= before, f"ADE {before:.4f} -> {after:.4f}"

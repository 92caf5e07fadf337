"""Trajectory decoders D: a latent plus the initial grid p_0 -> the full trajectory.

Every decoder returns (B, T, N, 2) with frame 0 equal to p_0 exactly, and takes a latent that the
auto-encoder has already unit-normalised (see ``Lang2Motion.decode``).

- ``autoregressive`` (Lang2Motion eq. 2): dp_t = MLP([z, p_{t-1}]), p_t = p_{t-1} + dp_t.
- ``direct`` (the paper's Table 5 baseline): one MLP from [z, p_0] to all T - 1 frames at once.
- ``transformer`` (MotionCLIP): T sinusoidal time queries attend to [z, grid embedding].

Legend: B batch, T frames, N points, D feature (latent).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from lang2motion.config import ModelConfig

SINUSOID_BASE = 10000.0  # the usual "Attention is all you need" wavelength base


def _mlp(dim_in: int, hidden: int, dim_out: int) -> nn.Sequential:
    """Three fully connected layers (the paper's 584 -> 1024 -> 1024 -> 72 for N = 36).

    The last layer starts at zero so an untrained decoder predicts a static grid: training then
    starts from the "nothing moves" baseline instead of random jitter.
    """
    head = nn.Linear(hidden, dim_out)
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    return nn.Sequential(nn.Linear(dim_in, hidden), nn.GELU(), nn.Linear(hidden, hidden),
                         nn.GELU(), head)


def _check(latent: torch.Tensor, grid: torch.Tensor, points: int, dim: int) -> None:
    if latent.ndim != 2 or latent.shape[1] != dim:
        raise ValueError(f"decoder: latent must be (B, {dim}), got {tuple(latent.shape)}")
    if grid.shape != (latent.shape[0], points, 2):
        raise ValueError(f"decoder: grid must be (B, N, 2) = ({latent.shape[0]}, {points}, 2), "
                         f"got {tuple(grid.shape)}")


class AutoregressiveDecoder(nn.Module):
    """dp_t = MLP([z, p*_{t-1}]); p_t = p*_{t-1} + dp_t (eq. 2).

    With a teacher, p*_{t-1} is the ground truth and all T - 1 steps run as ONE batched MLP call;
    without, p*_{t-1} is the decoder's own previous output (a loop over T - 1 steps). With a
    teacher and ``sampling`` > 0 (scheduled sampling), each sample takes its own previous output
    instead of the truth with probability ``sampling`` at every step (drawn from torch's global
    generator, so seeded runs repeat); gradients flow through the own outputs. Sampling 0 is
    teacher forcing, 1 is free running.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.points, self.frames, self.latent = cfg.points, cfg.frames, cfg.latent
        self.mlp = _mlp(cfg.latent + 2 * cfg.points, cfg.decoder_hidden, 2 * cfg.points)

    def step(self,
             latent: torch.Tensor,  # (..., D) unit-normalised
             prev: torch.Tensor,    # (..., N, 2) p*_{t-1}
             ) -> torch.Tensor:     # (..., N, 2) p_t
        flat = rearrange(prev, "... n c -> ... (n c)")
        delta = self.mlp(torch.cat([latent, flat.to(latent.dtype)], dim=-1))
        return prev + rearrange(delta, "... (n c) -> ... n c", c=2).to(prev.dtype)

    def _split_first_layer(self, latent: torch.Tensor,  # (B, D) unit-normalised
                           ) -> tuple[torch.Tensor, torch.Tensor]:  # (B, H), (H, 2N)
        """W [z, p] + b = (W_z z + b) + W_p p: the latent's share is the same at every step of
        a sequence, so the step loop computes it once (a third of the decoder's work at batch
        1); W_p is made contiguous once, not sliced at every step."""
        first = self.mlp[0]
        latent_part = F.linear(latent, first.weight[:, :self.latent], first.bias)
        return latent_part, first.weight[:, self.latent:].contiguous()

    def _loop_step(self,
                   latent_part: torch.Tensor,  # (B, H) W_z z + b
                   points_weight: torch.Tensor,  # (H, 2N) W_p
                   prev: torch.Tensor,         # (B, N, 2) p*_{t-1}
                   ) -> torch.Tensor:          # (B, N, 2) p_t
        """:meth:`step` with the latent's share given."""
        hidden = latent_part + F.linear(prev.reshape(prev.shape[0], -1).to(latent_part.dtype),
                                        points_weight)
        delta = self.mlp[1:](hidden)
        return prev + delta.reshape(prev.shape).to(prev.dtype)

    def forward(self,
                latent: torch.Tensor,                 # (B, D) unit-normalised
                grid: torch.Tensor,                   # (B, N, 2) p_0
                *,
                teacher: torch.Tensor | None = None,  # (B, T, N, 2) ground truth or None
                sampling: float = 0.0,                # share of own outputs fed with a teacher
                ) -> torch.Tensor:                    # (B, T, N, 2)
        _check(latent, grid, self.points, self.latent)
        if teacher is not None:
            if teacher.ndim != 4 or teacher.shape[0] != grid.shape[0] \
                    or teacher.shape[2:] != grid.shape[1:]:
                raise ValueError(f"decoder: teacher must be (B, T, N, 2) matching grid "
                                 f"{tuple(grid.shape)}, got {tuple(teacher.shape)}")
            if not 0.0 <= sampling <= 1.0:
                raise ValueError(f"decoder: sampling must be in [0, 1], got {sampling}")
        if teacher is not None and sampling == 0.0:
            # p*_0 is the grid itself (not teacher[:, 0]) so frame 0 is p_0 exactly either way.
            prev = torch.cat([grid[:, None], teacher[:, 1:-1]], dim=1)         # (B, T-1, N, 2)
            z = repeat(latent, "b d -> b t d", t=prev.shape[1])
            return torch.cat([grid[:, None], self.step(z, prev)], dim=1)
        latent_part, points_weight = self._split_first_layer(latent)
        frames = [grid]
        for t in range(1, self.frames):
            prev = frames[-1]
            if teacher is not None and t > 1:
                own = torch.rand(grid.shape[0], 1, 1, device=grid.device) < sampling
                prev = torch.where(own, prev, teacher[:, t - 1].to(prev.dtype))
            frames.append(self._loop_step(latent_part, points_weight, prev))
        return torch.stack(frames, dim=1)


class DirectDecoder(nn.Module):
    """One MLP from [z, p_0] to the offsets p_t - p_0 of all T - 1 frames at once.

    Offsets from p_0 (not per-frame steps) so that an error at one frame does not accumulate.
    A teacher is accepted for a uniform interface and ignored: nothing is conditioned on p_{t-1}.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.points, self.frames, self.latent = cfg.points, cfg.frames, cfg.latent
        self.mlp = _mlp(cfg.latent + 2 * cfg.points, cfg.decoder_hidden,
                        (cfg.frames - 1) * cfg.points * 2)

    def forward(self,
                latent: torch.Tensor,                 # (B, D) unit-normalised
                grid: torch.Tensor,                   # (B, N, 2) p_0
                *,
                teacher: torch.Tensor | None = None,  # ignored
                sampling: float = 0.0,                # ignored: no previous frame to feed
                ) -> torch.Tensor:                    # (B, T, N, 2)
        _check(latent, grid, self.points, self.latent)
        flat = rearrange(grid, "b n c -> b (n c)").to(latent.dtype)
        offsets = rearrange(self.mlp(torch.cat([latent, flat], dim=-1)),
                            "b (t n c) -> b t n c", t=self.frames - 1, c=2).to(grid.dtype)
        return torch.cat([grid[:, None], grid[:, None] + offsets], dim=1)


def sinusoidal_positions(frames: int, dim: int) -> torch.Tensor:
    """(T, D) fixed sine/cosine encoding of positions 0 .. T - 1."""
    half = (dim + 1) // 2
    freqs = torch.exp(-math.log(SINUSOID_BASE) * torch.arange(half, dtype=torch.float32) / half)
    angles = torch.arange(frames, dtype=torch.float32)[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], dim=1)[:, :dim]


class TransformerDecoder(nn.Module):
    """MotionCLIP's decoder: T time queries (sinusoidal positions) attend to the memory
    [z, linear embedding of p_0] through an nn.TransformerDecoder; a linear head gives the
    offsets from p_0. Frame 0 is then set to p_0. A teacher is accepted and ignored.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.points, self.frames, self.latent = cfg.points, cfg.frames, cfg.latent
        self.grid_proj = nn.Linear(2 * cfg.points, cfg.latent)
        self.register_buffer("queries", sinusoidal_positions(cfg.frames, cfg.latent),
                             persistent=False)
        layer = nn.TransformerDecoderLayer(
            d_model=cfg.latent, nhead=cfg.heads, dim_feedforward=cfg.ff, dropout=cfg.dropout,
            activation="gelu", batch_first=True, norm_first=True)
        self.transformer = nn.TransformerDecoder(layer, num_layers=cfg.layers,
                                                 norm=nn.LayerNorm(cfg.latent))
        self.head = nn.Linear(cfg.latent, 2 * cfg.points)
        nn.init.zeros_(self.head.weight)  # static grid at initialisation, as in _mlp
        nn.init.zeros_(self.head.bias)

    def forward(self,
                latent: torch.Tensor,                 # (B, D) unit-normalised
                grid: torch.Tensor,                   # (B, N, 2) p_0
                *,
                teacher: torch.Tensor | None = None,  # ignored
                sampling: float = 0.0,                # ignored: no previous frame to feed
                ) -> torch.Tensor:                    # (B, T, N, 2)
        _check(latent, grid, self.points, self.latent)
        grid_token = self.grid_proj(rearrange(grid, "b n c -> b (n c)").to(latent.dtype))
        memory = torch.stack([latent, grid_token], dim=1)                      # (B, 2, D)
        queries = repeat(self.queries, "t d -> b t d", b=latent.shape[0]).to(latent.dtype)
        offsets = rearrange(self.head(self.transformer(queries, memory)),
                            "b t (n c) -> b t n c", c=2).to(grid.dtype)
        return torch.cat([grid[:, None], grid[:, None] + offsets[:, 1:]], dim=1)


DECODER_CLASSES: dict[str, type[nn.Module]] = {
    "autoregressive": AutoregressiveDecoder,
    "direct": DirectDecoder,
    "transformer": TransformerDecoder,
}


def build_decoder(cfg: ModelConfig) -> nn.Module:
    return DECODER_CLASSES[cfg.decoder](cfg)

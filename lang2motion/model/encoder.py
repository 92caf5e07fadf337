"""Trajectory encoder E (Lang2Motion eq. 1): z_p = E(z_tk, p_{1:T}, o_{1:T}).

Legend: B batch, T frames, N points, D feature (the latent size, equal to the CLIP size).
"""

from __future__ import annotations

import torch
from einops import rearrange, repeat
from torch import nn

from lang2motion.config import ModelConfig

# Learned embeddings start small, as in ViT / nanoGPT, so that at initialisation the token sum
# is dominated by the projected coordinates rather than by random position vectors.
EMBED_INIT_STD = 0.02


class TrajectoryEncoder(nn.Module):
    """Per-frame linear projection of the N x 2 coordinates (+ projected CLIP overlay feature),
    a learned prefix token, learned positions over T + 1 slots, a transformer encoder; z is the
    first output token.

    The transformer is pre-norm (``norm_first=True``) with a final LayerNorm: pre-norm trains
    stably at a constant learning rate without warm-up, which the paper's recipe (AdamW, 1e-4,
    no schedule mentioned) relies on.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.points, self.frames, self.use_overlay = cfg.points, cfg.frames, cfg.use_overlay
        self.coord_proj = nn.Linear(cfg.points * 2, cfg.latent)
        self.overlay_proj = nn.Linear(cfg.clip_dim, cfg.latent) if cfg.use_overlay else None
        self.prefix = nn.Parameter(torch.randn(1, 1, cfg.latent) * EMBED_INIT_STD)
        self.pos = nn.Parameter(torch.randn(1, cfg.frames + 1, cfg.latent) * EMBED_INIT_STD)
        layer = nn.TransformerEncoderLayer(
            d_model=cfg.latent, nhead=cfg.heads, dim_feedforward=cfg.ff, dropout=cfg.dropout,
            activation="gelu", batch_first=True, norm_first=True)
        # enable_nested_tensor only helps with padding masks, which we never use, and warns with
        # norm_first=True.
        self.transformer = nn.TransformerEncoder(layer, num_layers=cfg.layers,
                                                 norm=nn.LayerNorm(cfg.latent),
                                                 enable_nested_tensor=False)

    def forward(self,
                tracks: torch.Tensor,                 # (B, T, N, 2) normalised coordinates
                overlay: torch.Tensor | None = None,  # (B, T, D) per-frame CLIP overlay feature
                ) -> torch.Tensor:                    # (B, D) z, not normalised
        if tracks.ndim != 4 or tracks.shape[-2:] != (self.points, 2):
            raise ValueError(f"encoder: tracks must be (B, T, {self.points}, 2), "
                             f"got {tuple(tracks.shape)}")
        frames = tracks.shape[1]
        if not 1 <= frames <= self.frames:
            raise ValueError(f"encoder: tracks have {frames} frames; this model was built for "
                             f"at most {self.frames}")
        tokens = self.coord_proj(rearrange(tracks, "b t n c -> b t (n c)"))
        if self.overlay_proj is not None:
            if overlay is None:
                raise ValueError("encoder: this model adds the per-frame CLIP overlay feature "
                                 "(model.use_overlay is true): pass overlay (B, T, D)")
            if overlay.shape[:2] != tracks.shape[:2]:
                raise ValueError(f"encoder: overlay {tuple(overlay.shape)} does not match tracks "
                                 f"{tuple(tracks.shape)} in (B, T)")
            tokens = tokens + self.overlay_proj(overlay.to(tokens.dtype))
        prefix = repeat(self.prefix, "1 1 d -> b 1 d", b=tracks.shape[0])
        tokens = torch.cat([prefix, tokens], dim=1) + self.pos[:, :frames + 1]
        return self.transformer(tokens)[:, 0]

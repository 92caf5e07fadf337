"""The Lang2Motion auto-encoder: encoder E, decoder D, and text-to-trajectory generation.

:class:`Lang2Motion` is the torch module alone (tensors in, tensors out). A trained one, loaded
with the CLIP and settings it was trained with and used on arrays and trajectories, is
:class:`lang2motion.trained_model.Lang2MotionModel` (its ``.module`` is this).

Legend: B batch, T frames, N points, D feature (latent size = CLIP embedding size).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lang2motion.config import ModelConfig
from lang2motion.model.decoders import build_decoder
from lang2motion.model.encoder import TrajectoryEncoder


def unit_latent(latent: torch.Tensor,  # (B, D) a trajectory latent z or a CLIP embedding
                scale: float = 1.0,
                ) -> torch.Tensor:     # (B, D) what the decoder sees
    """Put any latent on the one scale the decoder is trained on: a sphere of radius ``scale``.

    z is trained with cosine losses only (eqs. 7, 8), so its norm is arbitrary, and CLIP text and
    image embeddings have norms of their own. Decoding from F.normalize(latent) makes trajectory
    latents and CLIP text / image embeddings share one scale, so a decoder trained on z decodes
    a text embedding (eq. 9, and generation at inference) from the same input distribution.

    ``scale`` (``model.latent_scale``) sets the radius. A unit vector of 512 entries has entries
    of about 0.04, small beside the decoder's other inputs (coordinates near 0.5), so at radius 1
    the first layer learns slowly to use the latent; which radius trains best on the synthetic
    set, and with which text_recon weight, is measured in benchmarks/NOTES.md.
    """
    return F.normalize(latent.float(), dim=-1) * scale


class Lang2Motion(nn.Module):
    """The auto-encoder as a torch module: ``encode`` tracks to z, ``decode`` z from a grid."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = TrajectoryEncoder(cfg)
        self.decoder = build_decoder(cfg)

    def encode(self,
               tracks: torch.Tensor,                 # (B, T, N, 2) normalised coordinates
               overlay: torch.Tensor | None = None,  # (B, T, D) CLIP overlay features
               ) -> torch.Tensor:                    # (B, D) z, raw (not normalised)
        """z_p = E(z_tk, p_{1:T}, o_{1:T}) (eq. 1). overlay is ignored when use_overlay is off."""
        return self.encoder(tracks, overlay if self.cfg.use_overlay else None)

    def decode(self,
               latent: torch.Tensor,                 # (B, D) z or a CLIP embedding, any norm
               grid: torch.Tensor,                   # (B, N, 2) p_0, normalised
               *,
               teacher: torch.Tensor | None = None,  # (B, T, N, 2) ground truth, or None
               sampling: float = 0.0,                # with a teacher: share of own outputs
               ) -> torch.Tensor:                    # (B, T, N, 2), frame 0 == grid
        """Decode from the normalised latent (radius ``model.latent_scale``): teacher given ->
        teacher forcing (training), with scheduled sampling when ``sampling`` > 0; None -> the
        decoder's own outputs (inference)."""
        return self.decoder(unit_latent(latent, self.cfg.latent_scale), grid, teacher=teacher,
                            sampling=sampling)

    def generate(self,
                 text_emb: torch.Tensor,  # (B, D) CLIP text embedding, any norm
                 grid: torch.Tensor,      # (B, N, 2) p_0 inside the object mask, normalised
                 ) -> torch.Tensor:       # (B, T, N, 2)
        """Text -> trajectory: decode the CLIP text embedding from the grid with own outputs.

        Gradients are left on so that callers may optimise through it; wrap in
        ``torch.no_grad()`` for plain inference.
        """
        return self.decode(text_emb, grid, teacher=None)

    def forward(self,
                tracks: torch.Tensor,                 # (B, T, N, 2)
                overlay: torch.Tensor | None = None,  # (B, T, D)
                ) -> tuple[torch.Tensor, torch.Tensor]:  # z (B, D), reconstruction (B, T, N, 2)
        """Encode, then decode with teacher forcing from the input's first frame."""
        z = self.encode(tracks, overlay)
        return z, self.decode(z, tracks[:, 0], teacher=tracks)


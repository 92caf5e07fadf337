"""A cheap evaluation run on the valid split after every training epoch.

- ``recon_ade``: encode the valid tracks, decode with the decoder's own outputs (no teacher),
  mean L2 distance per point over the predicted frames 1 .. T-1 (frame 0 is the given grid, so
  including it would only dilute the number), in normalised units ([-1, 1] spans the frame).
- ``text_ade``: the same, decoding from the CLIP text embedding instead of z.
- ``r1``: for every expression, rank all UNIQUE valid trajectories (one per track_id) by
  cosine(text_emb, z); a hit when the top one is the expression's own track (ties count against
  it, as in :mod:`lang2motion.evaluate.retrieval`).
- ``chance_r1``: 1 / number of unique trajectories, the R@1 of a random ranking.

The full protocol (R@K, FDE, baselines) lives in the evaluate stage; this is for training curves.
The metrics themselves are defined once, on numpy, in :mod:`lang2motion.evaluate.retrieval` and
:mod:`lang2motion.evaluate.generation`; this module only moves tensors there.
Legend: B batch, S samples, U unique trajectories, T frames, N points, D feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lang2motion.evaluate.generation import ade
from lang2motion.evaluate.retrieval import (
    cosine_matrix,
    recall_hits,
    target_ranks,
    unique_track_index,
)
from lang2motion.model.autoencoder import Lang2Motion


def _numpy(tensor: torch.Tensor | np.ndarray) -> np.ndarray:
    """A CPU numpy copy; floating tensors as float32 (numpy has no bfloat16)."""
    tensor = torch.as_tensor(tensor).detach()
    return (tensor.float() if tensor.is_floating_point() else tensor).cpu().numpy()


def retrieval_r1(text_emb: torch.Tensor,     # (S, D)
                 z_unique: torch.Tensor,     # (U, D) one latent per unique trajectory
                 owner: torch.Tensor,        # (S,) index into z_unique of each sample's track
                 ) -> float:
    """Fraction of expressions whose most similar trajectory (cosine) is their own."""
    ranks = target_ranks(cosine_matrix(_numpy(text_emb), _numpy(z_unique)), _numpy(owner))
    return float(recall_hits(ranks, 1).mean())


def point_ade(pred: torch.Tensor,    # (B, T, N, 2)
              target: torch.Tensor,  # (B, T, N, 2)
              ) -> torch.Tensor:     # (B,) per-sample ADE over frames 1 .. T-1, on the CPU
    return torch.from_numpy(ade(_numpy(pred), _numpy(target)))


@torch.no_grad()
def inline_metrics(model: Lang2Motion,
                   data: dict[str, torch.Tensor],  # tracks (S,T,N,2), text_emb (S,D), overlay
                   track_ids: Sequence[str],       # (S,) the track row of every sample
                   *,
                   batch_size: int,
                   ade: bool = True,
                   ) -> dict[str, float]:
    """recon_ade, text_ade, r1, chance_r1 and n_trajectories on one split (see module doc).

    ``ade=False`` skips the two free-running decodes and returns retrieval figures only (the
    cheap check of how well the training split itself is aligned).

    ``data`` holds ``tracks`` and ``text_emb`` and, when the model uses overlays, ``overlay``
    (S, T, D), all on the model's device. Runs in eval mode and restores the previous mode.
    """
    tracks, text_emb = data["tracks"], data["text_emb"]
    if len(track_ids) != tracks.shape[0]:
        raise ValueError(f"inline_metrics: {len(track_ids)} track ids for "
                         f"{tracks.shape[0]} samples")
    was_training = model.training
    model.eval()
    zs, recon_ade, text_ade = [], [], []
    for start in range(0, tracks.shape[0], batch_size):
        part = slice(start, start + batch_size)
        truth = tracks[part]
        overlay = data["overlay"][part] if "overlay" in data else None
        z = model.encode(truth, overlay)
        zs.append(z.float())
        if ade:
            recon_ade.append(point_ade(model.decode(z, truth[:, 0]), truth))
            text_ade.append(point_ade(model.decode(text_emb[part], truth[:, 0]), truth))
    model.train(was_training)
    firsts, owner = unique_track_index(track_ids)
    z_all = torch.cat(zs)
    metrics = {
        "r1": retrieval_r1(text_emb, z_all[torch.from_numpy(firsts).to(z_all.device)], owner),
        "chance_r1": 1.0 / len(firsts),
        "n_trajectories": len(firsts),
    }
    if ade:
        metrics["recon_ade"] = torch.cat(recon_ade).mean().item()
        metrics["text_ade"] = torch.cat(text_ade).mean().item()
    return metrics

"""A cheap evaluation run on the valid split after every training epoch.

- ``recon_ade``: encode the valid tracks, decode with the decoder's own outputs (no teacher),
  mean L2 distance per point over the predicted frames 1 .. T-1 (frame 0 is the given grid, so
  including it would only dilute the number), in normalised units ([-1, 1] spans the frame).
- ``text_ade``: the same, decoding from the CLIP text embedding instead of z.
- ``r1``: for every expression, rank all UNIQUE valid trajectories (one per track_id) by
  cosine(text_emb, z); a hit when the top one is the expression's own track.
- ``chance_r1``: 1 / number of unique trajectories, the R@1 of a random ranking.

The full protocol (R@K, FDE, baselines) lives in the evaluate stage; this is for training curves.
Legend: B batch, S samples, U unique trajectories, T frames, N points, D feature.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from lang2motion.model.autoencoder import Lang2Motion


def unique_track_index(track_ids: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(first sample of each unique track (U,), unique-track index of every sample (S,))."""
    first: dict[str, int] = {}
    firsts: list[int] = []
    owner: list[int] = []
    for sample, track in enumerate(track_ids):
        if track not in first:
            first[track] = len(firsts)
            firsts.append(sample)
        owner.append(first[track])
    return torch.tensor(firsts, dtype=torch.long), torch.tensor(owner, dtype=torch.long)


def retrieval_r1(text_emb: torch.Tensor,     # (S, D)
                 z_unique: torch.Tensor,     # (U, D) one latent per unique trajectory
                 owner: torch.Tensor,        # (S,) index into z_unique of each sample's track
                 ) -> float:
    """Fraction of expressions whose most similar trajectory (cosine) is their own."""
    sims = F.normalize(text_emb.float(), dim=-1) @ F.normalize(z_unique.float(), dim=-1).T
    return (sims.argmax(dim=1) == owner.to(sims.device)).float().mean().item()


def point_ade(pred: torch.Tensor,    # (B, T, N, 2)
              target: torch.Tensor,  # (B, T, N, 2)
              ) -> torch.Tensor:     # (B,) per-sample ADE over frames 1 .. T-1
    return (pred[:, 1:].float() - target[:, 1:].float()).norm(dim=-1).mean(dim=(1, 2))


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
        "r1": retrieval_r1(text_emb, z_all[firsts.to(z_all.device)], owner),
        "chance_r1": 1.0 / len(firsts),
        "n_trajectories": len(firsts),
    }
    if ade:
        metrics["recon_ade"] = torch.cat(recon_ade).mean().item()
        metrics["text_ade"] = torch.cat(text_ade).mean().item()
    return metrics

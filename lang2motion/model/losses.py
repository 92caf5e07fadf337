"""The six Lang2Motion losses (eqs. 4-9), an optional contrastive term, and their weighted sum.

Every term is averaged over the batch. Legend: B batch, T frames, N points, D feature.

A batch is a dict of tensors (see ``BATCH_KEYS``):
  tracks (B, T, N, 2) ground truth, normalised; frame 0 is the grid p_0
  overlay (B, T, D) per-frame CLIP overlay features (needed when model.use_overlay)
  text_emb (B, D) CLIP text embeddings
  image_emb_pooled (B, D) time-pooled CLIP overlay features (eq. 8)

Points the tracker marks occluded are supervised like visible ones: eqs. 4-6 have no mask, and
the tracker's estimate of an occluded point is still the best target available.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lang2motion.config import LossConfig

BATCH_KEYS = ("tracks", "overlay", "text_emb", "image_emb_pooled")
TERMS = ("recon", "vel", "range", "text", "image", "text_recon", "contrastive")


def _check_pair(pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape or pred.ndim != 4 or pred.shape[-1] != 2:
        raise ValueError(f"loss: prediction {tuple(pred.shape)} and target "
                         f"{tuple(target.shape)} must both be (B, T, N, 2)")


def _check_vectors(what: str, embedding: torch.Tensor, z: torch.Tensor) -> None:
    if embedding.shape != z.shape or z.ndim != 2:
        raise ValueError(f"loss: {what} {tuple(embedding.shape)} and latent {tuple(z.shape)} "
                         "must both be (B, D)")


def recon_loss(pred: torch.Tensor,    # (B, T, N, 2)
               target: torch.Tensor,  # (B, T, N, 2)
               *,
               l1: bool = True,
               ) -> torch.Tensor:     # () scalar
    """Eq. 4: (1/NT) sum_i ||p_i - p^_i||_1 per sample, i.e. the mean over N and T of the per-point
    |dx| + |dy|; with ``l1=False`` the per-point squared L2 norm dx^2 + dy^2 instead."""
    _check_pair(pred, target)
    diff = pred.float() - target.float()
    per_point = diff.abs().sum(-1) if l1 else diff.square().sum(-1)          # (B, T, N)
    return per_point.mean()


def velocity_loss(pred: torch.Tensor,    # (B, T, N, 2)
                  target: torch.Tensor,  # (B, T, N, 2)
                  ) -> torch.Tensor:     # () scalar
    """Eq. 5: (1/(N(T-1))) sum_i ||(p_{i+1} - p_i) - (p^_{i+1} - p^_i)||_2^2."""
    _check_pair(pred, target)
    dv = torch.diff(target.float(), dim=1) - torch.diff(pred.float(), dim=1)  # (B, T-1, N, 2)
    return dv.square().sum(-1).mean()


def coordinate_range(tracks: torch.Tensor,  # (B, T, N, 2)
                     ) -> torch.Tensor:     # (B, T, 2)
    """r(p_i) = max_j p_ij - min_j p_ij, separately for x and y, over the N points."""
    return tracks.amax(dim=2) - tracks.amin(dim=2)


def range_loss(pred: torch.Tensor,    # (B, T, N, 2)
               target: torch.Tensor,  # (B, T, N, 2)
               ) -> torch.Tensor:     # () scalar
    """Eq. 6: sum over the T frames of ||r(p_i) - r(p^_i)||_2^2, averaged over the batch."""
    _check_pair(pred, target)
    diff = coordinate_range(target.float()) - coordinate_range(pred.float())  # (B, T, 2)
    return diff.square().sum(dim=(1, 2)).mean()


def cosine_loss(embedding: torch.Tensor,  # (B, D) CLIP text or pooled image embedding
                z: torch.Tensor,          # (B, D) trajectory latent
                ) -> torch.Tensor:        # () scalar
    """Eqs. 7 and 8: 1 - cos(embedding, z), averaged over the batch."""
    _check_vectors("embedding", embedding, z)
    return (1.0 - F.cosine_similarity(embedding.float(), z.float(), dim=-1)).mean()


def contrastive_loss(text_emb: torch.Tensor,  # (B, D) CLIP text embeddings
                     z: torch.Tensor,         # (B, D) trajectory latents, row i belongs to text i
                     *,
                     temperature: float,
                     ) -> torch.Tensor:       # () scalar
    """Symmetric InfoNCE (CLIP's own objective) between texts and latents over the batch.

    Not in the paper (eq. 7 is a plain cosine). The plain cosine pulls every z towards its text
    but never away from the others, so it can be satisfied without z telling one caption's
    trajectory from another's (measured with random CLIP: benchmarks/NOTES.md, issue 9's second
    round). Cross-entropy over cos / temperature ranks the matching text above the batch's
    other texts, and the matching latent above the other latents. Other captions of the same
    trajectory in one batch count as negatives (rare at batch 32 of ~2,400 expressions).
    """
    _check_vectors("text", text_emb, z)
    logits = F.normalize(text_emb.float(), dim=-1) @ F.normalize(z.float(), dim=-1).T
    logits = logits / temperature                                              # (B, B)
    target = torch.arange(z.shape[0], device=z.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def compute_losses(model: torch.nn.Module,
                   batch: dict[str, torch.Tensor],
                   cfg: LossConfig,
                   *,
                   teacher_forcing: bool = True,
                   sampling: float = 0.0,
                   ) -> dict[str, torch.Tensor]:
    """Every term of the objective and ``total`` = recon + sum of weight * term.

    ``model``: a :class:`lang2motion.model.Lang2Motion`. A term of weight zero is not computed
    (no text rows in the decode when ``text_recon`` is 0) and reported as 0. With
    ``teacher_forcing`` (training) both reconstructions decode with the ground truth as p*_{t-1}
    (eq. 2), each step taking the decoder's own output with probability ``sampling``.
    """
    missing = [k for k in ("tracks", "text_emb") if k not in batch]
    if missing:
        raise KeyError(f"compute_losses: batch lacks {missing}; expected keys {BATCH_KEYS}")
    tracks = batch["tracks"]                                                   # (B, T, N, 2)
    grid = tracks[:, 0]
    teacher = tracks if teacher_forcing else None
    z = model.encode(tracks, batch.get("overlay"))
    if cfg.text_recon:
        # z and the text embedding decode in ONE call of twice the batch: the autoregressive
        # decoder's step loop then runs once per batch, not twice (time saved: benchmarks/NOTES.md)
        both = model.decode(torch.cat([z.float(), batch["text_emb"].float()]),
                            torch.cat([grid, grid]),
                            teacher=None if teacher is None else torch.cat([teacher, teacher]),
                            sampling=sampling)
        recon, text_decoded = both.split(tracks.shape[0])
    else:
        recon, text_decoded = model.decode(z, grid, teacher=teacher, sampling=sampling), None
    zero = tracks.new_zeros((), dtype=torch.float32)
    out = {"recon": recon_loss(recon, tracks, l1=cfg.l1)}
    out["vel"] = velocity_loss(recon, tracks) if cfg.vel else zero
    out["range"] = range_loss(recon, tracks) if cfg.range else zero
    out["text"] = cosine_loss(batch["text_emb"], z) if cfg.text else zero
    out["contrastive"] = (contrastive_loss(batch["text_emb"], z, temperature=cfg.temperature)
                          if cfg.contrastive else zero)
    if cfg.image:
        if "image_emb_pooled" not in batch:
            raise KeyError("compute_losses: loss.image is on but the batch lacks "
                           "image_emb_pooled (B, D)")
        out["image"] = cosine_loss(batch["image_emb_pooled"], z)
    else:
        out["image"] = zero
    out["text_recon"] = (recon_loss(text_decoded, tracks, l1=cfg.l1) if text_decoded is not None
                         else zero)
    weights = {"recon": 1.0, "vel": cfg.vel, "range": cfg.range, "text": cfg.text,
               "image": cfg.image, "text_recon": cfg.text_recon, "contrastive": cfg.contrastive}
    out["total"] = sum(weights[k] * out[k] for k in TERMS if weights[k])
    return out

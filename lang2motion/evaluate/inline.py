"""A cheap evaluation of the valid split after every training epoch, for training curves.

- ``recon_ade`` / ``text_ade``: free-running decode from the encoder latent z / from the CLIP
  text embedding; ADE over frames 1 .. T-1 in normalised units (:func:`~.generation.ade`).
- ``r1``: every expression ranks all unique valid trajectories by cosine(text_emb, z), ties
  against it (:mod:`~.retrieval`); ``chance_r1``: 1 / number of unique trajectories.

With an :class:`InlineReference` (built once before training), also the baselines every ADE is
read against (:mod:`~.baselines`), the motion-kind accuracy of the text decodes with its chance,
and all of it per tag slice under ``<tag>_<value>/`` (the retrieval gallery stays the whole split).
The full protocol lives in the evaluate stage.

Legend: B batch, S samples, U unique trajectories, T frames, N points, D feature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from lang2motion.evaluate.baselines import (
    apply_motion,
    mean_motion,
    nearest_caption_tracks,
    static_tracks,
)
from lang2motion.evaluate.generation import ade
from lang2motion.evaluate.recognition import motion_kind_chance, motion_kind_hits
from lang2motion.evaluate.retrieval import (
    cosine_matrix,
    recall_hits,
    target_ranks,
    unique_track_index,
)
from lang2motion.model.autoencoder import Lang2Motion
from lang2motion.store import FeatureTensors


@dataclass
class InlineReference:
    """What a split's per-epoch metrics are read against, computed once before training."""

    slices: dict[str, np.ndarray]        # "" (all) and "<tag>_<value>/" -> sample indices
    baselines: dict[str, np.ndarray]     # "<name>_ade" -> (S,) per-sample baseline ADE
    kinds: np.ndarray | None             # (S,) motion kinds, None when unknown (real data)
    reference_tracks: np.ndarray         # (U, T, N, 2) the split's unique trajectories
    reference_kinds: np.ndarray | None   # (U,)


def inline_reference(valid: FeatureTensors, train: FeatureTensors) -> InlineReference:
    """Slices, per-sample baselines and motion-kind references of ``valid``."""
    slices = {"": np.arange(len(valid))}
    for key in sorted({k for tags in valid.tags for k in tags}):
        for value in sorted({tags.get(key, "") for tags in valid.tags} - {""}):
            slices[f"{key}_{value}/"] = np.array(
                [i for i, tags in enumerate(valid.tags) if tags.get(key) == value])
    grid, frames = valid.grid, valid.tracks.shape[1]
    baselines = {
        "static_ade": ade(static_tracks(grid, frames), valid.tracks),
        "mean_motion_ade": ade(apply_motion(grid, mean_motion(train.tracks)), valid.tracks),
        "nearest_caption_ade": ade(nearest_caption_tracks(grid, valid.text_emb, train.text_emb,
                                                          train.tracks), valid.tracks)}
    firsts, _ = unique_track_index(valid.track_ids)
    known = all(valid.motion_kinds)
    kinds = np.array(valid.motion_kinds) if known else None
    return InlineReference(slices=slices, baselines=baselines, kinds=kinds,
                           reference_tracks=valid.tracks[firsts],
                           reference_kinds=kinds[firsts] if known else None)


def _numpy(tensor: torch.Tensor | np.ndarray) -> np.ndarray:
    """A CPU numpy copy; floating tensors as float32 (numpy has no bfloat16)."""
    tensor = torch.as_tensor(tensor).detach()
    return (tensor.float() if tensor.is_floating_point() else tensor).cpu().numpy()


def point_ade(pred: torch.Tensor,    # (B, T, N, 2)
              target: torch.Tensor,  # (B, T, N, 2)
              ) -> torch.Tensor:     # (B,) per-sample ADE over frames 1 .. T-1, on the CPU
    return torch.from_numpy(ade(_numpy(pred), _numpy(target)))


class BatchSource(Protocol):
    """Samples gathered by index: ``lang2motion.loader.InMemorySplit`` / ``StreamedSplit``."""

    samples: int

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]: ...


@torch.no_grad()
def inline_metrics(model: Lang2Motion,
                   data: BatchSource,              # tracks (S, T, N, 2), text_emb (S, D)
                   track_ids: Sequence[str],       # (S,) the track row of every sample
                   *,
                   batch_size: int,
                   ade: bool = True,
                   reference: InlineReference | None = None,
                   ) -> dict[str, float]:
    """recon_ade, text_ade, r1, chance_r1 and n_trajectories on one split (module doc); with a
    ``reference`` the baselines, motion-kind accuracy and tag slices too; ``ade=False``: the
    retrieval figures only (the cheap check of the training split). ``data`` also gives
    ``overlay`` (S, T, D) when the model uses overlays, all on the model's device. Runs in eval
    mode, then restores the mode."""
    if len(track_ids) != data.samples:
        raise ValueError(f"inline_metrics: {len(track_ids)} track ids for "
                         f"{data.samples} samples")
    was_training = model.training
    model.eval()
    zs, texts, recon_ade, text_ade, decoded = [], [], [], [], []
    for index in torch.arange(data.samples).split(batch_size):
        part = data.batch(index)
        truth = part["tracks"]
        z = model.encode(truth, part.get("overlay"))
        zs.append(z.float())
        texts.append(part["text_emb"])
        if ade:
            recon_ade.append(point_ade(model.decode(z, truth[:, 0]), truth))
            from_text = model.decode(part["text_emb"], truth[:, 0])
            text_ade.append(point_ade(from_text, truth))
            decoded.append(_numpy(from_text))
    model.train(was_training)
    firsts, owner = unique_track_index(track_ids)
    z_all, text_emb = torch.cat(zs), torch.cat(texts)
    ranks = target_ranks(cosine_matrix(_numpy(text_emb), _numpy(z_all)[firsts]), owner)
    per_sample = {"r1": recall_hits(ranks, 1).astype(np.float64)}
    if ade:
        per_sample["recon_ade"] = torch.cat(recon_ade).numpy()
        per_sample["text_ade"] = torch.cat(text_ade).numpy()
    common = {"chance_r1": 1.0 / len(firsts), "n_trajectories": len(firsts)}
    if reference is None:
        return {**{k: float(v.mean()) for k, v in per_sample.items()}, **common}
    per_sample.update(reference.baselines)
    if ade and reference.kinds is not None:
        per_sample["motion_kind_acc"] = motion_kind_hits(
            np.concatenate(decoded), reference.reference_tracks, reference.kinds,
            reference.reference_kinds).astype(np.float64)
    metrics: dict[str, float] = dict(common)
    for prefix, index in reference.slices.items():
        metrics.update({f"{prefix}{k}": float(v[index].mean()) for k, v in per_sample.items()})
        if reference.kinds is not None:
            metrics[f"{prefix}motion_kind_chance"] = motion_kind_chance(
                reference.kinds[index], reference.reference_kinds)
        if prefix:
            metrics[f"{prefix}chance_r1"] = common["chance_r1"]
    return metrics

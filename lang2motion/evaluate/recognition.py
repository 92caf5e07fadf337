"""Zero-shot recognition: classes by cosine to text embeddings, and motion-kind accuracy.

Legend: S samples (queries), K classes, U reference trajectories, T frames, N points, D feature.

- class rank: of the true class among the K class text embeddings by cosine to a trajectory
  latent, 1 = best, ties against the true class (as in retrieval); top-k accuracy: rank <= k.
- motion-kind hit: the nearest reference trajectory has the kind ("rotate", "move left") of the
  query that generated it; nearest by ADE between displacements (each trajectory minus its own
  first frame: how it moves, not where it starts), ties -> the lowest reference index.
"""

from __future__ import annotations

import math

import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.baselines import displacements
from lang2motion.evaluate.generation import ade
from lang2motion.evaluate.retrieval import checked, cosine_matrix, random_recall, target_ranks


def class_ranks(latents: np.ndarray,    # (S, D)
                class_emb: np.ndarray,  # (K, D)
                labels: np.ndarray,     # (S,) int, true class of each sample
                ) -> np.ndarray:        # (S,) int64, 1 = best
    """Rank of each sample's true class by cosine, ties counted against it."""
    latents, class_emb, labels = checked("class_ranks", latents=(latents, "S D"),
                                         class_emb=(class_emb, "K D"),
                                         labels=(labels, "S", np.int64))
    return target_ranks(cosine_matrix(latents, class_emb), labels)


def top_k(latents: np.ndarray,    # (S, D)
          class_emb: np.ndarray,  # (K, D)
          k: int,
          ) -> tuple[np.ndarray, np.ndarray]:  # (S, k) int64 classes, (S, k) float64 cosines
    """The ``k`` most similar classes of each sample, best first; ties -> lower class index."""
    latents, class_emb = checked("top_k", latents=(latents, "S D"),
                                 class_emb=(class_emb, "K D"))
    if not 1 <= k <= len(class_emb):
        raise ConfigError(f"top_k: k must be in [1, {len(class_emb)}] (the number of classes), "
                          f"got {k}")
    similarity = cosine_matrix(latents, class_emb)
    order = np.argsort(-similarity, axis=1, kind="stable")[:, :k].astype(np.int64)
    return order, np.take_along_axis(similarity, order, axis=1)


def chance_topk(k: int, classes: int) -> float:
    """Top-k accuracy of a uniformly random ranking of ``classes`` classes: min(k, K) / K."""
    return random_recall(k, classes)


def motion_kind_hits(generated: np.ndarray,        # (S, T, N, 2)
                     reference: np.ndarray,        # (U, T, N, 2)
                     query_kinds: np.ndarray,      # (S,) str, the kind each query asked for
                     reference_kinds: np.ndarray,  # (U,) str
                     ) -> np.ndarray:              # (S,) bool
    """Whether each generated trajectory's nearest reference (displacement ADE) has its kind."""
    generated, reference, query_kinds, reference_kinds = checked(
        "motion_kind_hits", generated=(generated, "S T N 2"), reference=(reference, "U T N 2"),
        query_kinds=(query_kinds, "S", str), reference_kinds=(reference_kinds, "U", str))
    if len(reference) == 0:
        raise DataError("motion_kind_hits: no reference trajectories")
    moved = displacements(generated)
    distance = np.stack([ade(moved, np.broadcast_to(ref, moved.shape))
                         for ref in displacements(reference)], axis=1)   # (S, U)
    nearest = distance.argmin(axis=1)
    return reference_kinds[nearest] == query_kinds


def motion_kind_chance(query_kinds: np.ndarray,      # (S,) str
                       reference_kinds: np.ndarray,  # (U,) str
                       ) -> float:
    """Expected motion-kind accuracy of a uniformly random reference: the mean over queries of
    the fraction of references with the query's kind (NaN with no queries)."""
    query_kinds, reference_kinds = checked(
        "motion_kind_chance", query_kinds=(query_kinds, "S", str),
        reference_kinds=(reference_kinds, "U", str))
    if reference_kinds.size == 0:
        raise DataError("motion_kind_chance: no reference trajectories")
    per_query = (query_kinds[:, None] == reference_kinds[None, :]).mean(axis=1)
    return float(per_query.mean()) if per_query.size else math.nan

"""Text-to-trajectory retrieval: cosine similarity, the rank of each query's target, R@k.

Legend: Q queries (expressions, samples), G gallery items (unique trajectories), S samples,
U unique trajectories, D feature.

- similarity: cosine in [-1, 1]; a zero vector has similarity 0 to everything (never NaN).
- rank: 1 = the target is the most similar gallery item. Ties count against the target
  (pessimistic): rank = 1 + the number of OTHER gallery items at least as similar as the target,
  so a model that maps everything to one latent scores the worst rank, not the best.
- R@k: the fraction of queries whose target has rank <= k (unitless, in [0, 1]); the per-query
  hits are returned so the caller can bootstrap or slice them.
- chance: the R@k of a uniformly random ranking, min(k, G) / G.

:func:`checked_array` (one array) and :func:`checked` (several, sizes agreeing) are the one shape
check the evaluate modules share.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lang2motion.errors import ConfigError, DataError

RECALL_KS = (1, 3, 5, 10)   # the R@k reported (Lang2Motion Table 1)


def checked_array(value: object, dims: str, *, name: str, where: str,
                  sizes: dict[str, int] | None = None, dtype: type | None = np.float64
                  ) -> np.ndarray:
    """``value`` as an array of shape ``dims`` (``"S T N 2"``: a number is fixed, a name must
    agree with ``sizes``, filled on first sight), or a DataError; ``dtype=None`` keeps its own."""
    sizes = {} if sizes is None else sizes
    array = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    expected = dims.split()
    fits = array.ndim == len(expected)
    if fits:
        for token, size in zip(expected, array.shape, strict=True):
            want = int(token) if token.isdigit() else sizes.get(token, size)
            fits = fits and size == want
    if not fits:
        bound = ", ".join(str(sizes.get(token, token)) for token in expected)
        raise DataError(f"{where}: {name} has shape {array.shape}, expected "
                        f"({', '.join(expected)}) = ({bound})")
    for token, size in zip(expected, array.shape, strict=True):
        if not token.isdigit():
            sizes.setdefault(token, size)
    return array


def checked(where: str, **arrays: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """Each ``name=(value, dims)`` or ``(value, dims, dtype)`` through :func:`checked_array`,
    the named sizes agreeing across all of them."""
    sizes: dict[str, int] = {}
    return tuple(checked_array(value, dims, name=name, where=where, sizes=sizes,
                               dtype=dtype[0] if dtype else np.float64)
                 for name, (value, dims, *dtype) in arrays.items())


def unique_track_index(track_ids: Sequence[str],  # (S,) the track of every sample
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(firsts (U,), owner (S,)) int64: ``firsts[u]`` is the first sample of the u-th unique
    track, in first-appearance order; ``owner[s]`` indexes ``firsts`` for sample s's track."""
    first: dict[str, int] = {}                  # track -> its first sample, in order
    for sample, track in enumerate(track_ids):
        first.setdefault(track, sample)
    index = {track: u for u, track in enumerate(first)}
    return (np.array(list(first.values()), dtype=np.int64),
            np.array([index[track] for track in track_ids], dtype=np.int64))


def unit_rows(vectors: np.ndarray,  # (Q, D)
              ) -> np.ndarray:      # (Q, D) float64, each row of norm 1 or all zero
    vectors = checked_array(vectors, "Q D", name="vectors", where="unit_rows")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def cosine_matrix(queries: np.ndarray,  # (Q, D)
                  gallery: np.ndarray,  # (G, D)
                  ) -> np.ndarray:      # (Q, G) float64
    queries, gallery = checked("cosine_matrix", queries=(queries, "Q D"),
                               gallery=(gallery, "G D"))
    return unit_rows(queries) @ unit_rows(gallery).T


def target_ranks(similarity: np.ndarray,  # (Q, G)
                 target: np.ndarray,      # (Q,) int, gallery index of each query's target
                 ) -> np.ndarray:         # (Q,) int64, 1 = best
    similarity, target = checked("target_ranks", similarity=(similarity, "Q G"),
                                 target=(target, "Q", np.int64))
    gallery = similarity.shape[1]
    if target.size and (target.min() < 0 or target.max() >= gallery):
        raise DataError(f"target_ranks: target indices must lie in [0, {gallery}), got "
                        f"[{target.min()}, {target.max()}]")
    if not np.isfinite(similarity).all():
        raise DataError("target_ranks: similarity has NaN or infinite values; a rank against "
                        "them is undefined")
    rows = np.arange(similarity.shape[0])
    at_least = similarity >= similarity[rows, target][:, None]
    at_least[rows, target] = False
    return 1 + at_least.sum(axis=1).astype(np.int64)


def recall_hits(ranks: np.ndarray,  # (Q,) int, 1 = best
                k: int,
                ) -> np.ndarray:    # (Q,) bool
    if k < 1:
        raise ConfigError(f"recall_hits: k must be >= 1, got {k}")
    ranks = checked_array(ranks, "Q", name="ranks", where="recall_hits", dtype=np.int64)
    return ranks <= k


def random_recall(k: int, gallery_size: int) -> float:
    if k < 1:
        raise ConfigError(f"random_recall: k must be >= 1, got {k}")
    if gallery_size < 1:
        raise DataError(f"random_recall: the gallery is empty (gallery_size={gallery_size})")
    return min(k, gallery_size) / gallery_size

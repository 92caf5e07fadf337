"""Parquet tables exchanged between stages: their schemas, writing and checked reading.

Two tables:
- tracks (``data/tracks/<split>.parquet``): one row per (video, object set, window), written by
  the track stage and shared by every expression that names the same objects.
- features (``data/features/<split>/part-NNNNN.parquet``): one row per sample (video,
  expression, window), written by the embed stage: ids, text, motion kind, tracks and CLIP
  embeddings side by side, so ``pandas.read_parquet`` shows everything about a sample.

Arrays are stored as flat fixed-size lists (row-major); their shapes (T, N, D) are kept in the
schema metadata and checked on read. Legend: T frames, N points, D CLIP embedding size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCHEMA_VERSION = "1"


@dataclass
class FeatureTensors:
    """A feature split held in memory as arrays, for training and evaluation.

    S samples, R unique track rows. Coordinates are normalised to [-1, 1] (eq. 3).
    """

    sample_ids: list[str]        # (S,)
    track_ids: list[str]         # (S,) the track row each sample uses
    texts: list[str]             # (S,)
    motion_kinds: list[str]      # (S,) "" when unknown (real data)
    template_ids: np.ndarray     # (S,) int, -1 when unknown
    tracks: np.ndarray           # (S, T, N, 2) float32
    visible: np.ndarray          # (S, T, N) bool
    text_emb: np.ndarray         # (S, D) float32, unnormalised CLIP text embedding
    image_emb: np.ndarray        # (S, T, D) float32, per-frame CLIP overlay embedding
    image_emb_pooled: np.ndarray  # (S, D) float32, mean over T of image_emb
    sizes: np.ndarray            # (S, 2) int, (width, height) of the source frames

    @property
    def grid(self) -> np.ndarray:
        """(S, N, 2) the initial grid: the first frame of every track."""
        return self.tracks[:, 0]

    def __len__(self) -> int:
        return len(self.sample_ids)

    def subset(self, index: np.ndarray | list[int]) -> FeatureTensors:
        idx = np.asarray(index, dtype=np.int64)
        pick = lambda seq: [seq[i] for i in idx]  # noqa: E731
        return FeatureTensors(
            sample_ids=pick(self.sample_ids), track_ids=pick(self.track_ids),
            texts=pick(self.texts), motion_kinds=pick(self.motion_kinds),
            template_ids=self.template_ids[idx], tracks=self.tracks[idx],
            visible=self.visible[idx], text_emb=self.text_emb[idx],
            image_emb=self.image_emb[idx], image_emb_pooled=self.image_emb_pooled[idx],
            sizes=self.sizes[idx])

"""Feature-table fixtures: samples written one by one (the embed stage writes whole rows), and
a shard folder read back as a DataFrame. T frames, N points, D embedding size, K expressions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lang2motion.errors import DataError
from lang2motion.store import FeatureRow, feature_table, read_feature_table, write_table_shard


@dataclass(frozen=True)
class FeatureSample:
    """One sample (video, expression, window) with its trajectory and embeddings: the per-sample
    view of the features table, for writers that produce samples one by one (tests, tools)."""

    sample_id: str                # f"{track_id}/{exp_id}"
    video_id: str
    exp_id: str
    text: str
    track_id: str                 # the tracks-table row this sample uses
    motion_kind: str              # "" when unknown (real data)
    template_id: int              # -1 when unknown
    tags: dict[str, str]          # evaluation slices ({"phrasing": "seen"}); {} when none
    start: int
    width: int
    height: int
    tracks: np.ndarray            # (T, N, 2) float32, normalised to [-1, 1]
    visible: np.ndarray           # (T, N) bool
    text_emb: np.ndarray          # (D,) float32
    image_emb: np.ndarray         # (T, D) float32
    image_emb_pooled: np.ndarray  # (D,) float32
    clip_model: str
    clip_pretrained: str


def feature_rows(samples: list[FeatureSample]) -> list[FeatureRow]:
    """Samples grouped by track id (in order of first appearance) into features-table rows.
    Samples of one track must agree on what belongs to the track (its tracks and overlays)."""
    groups: dict[str, list[FeatureSample]] = {}
    for sample in samples:
        groups.setdefault(sample.track_id, []).append(sample)
    rows = []
    for track_id, group in groups.items():
        first = group[0]
        for other in group[1:]:
            for name in ("tracks", "visible", "image_emb", "image_emb_pooled"):
                if not np.array_equal(getattr(other, name), getattr(first, name)):
                    raise DataError(f"samples {first.sample_id} and {other.sample_id} share track "
                                    f"{track_id} but not its {name}")
        rows.append(FeatureRow(
            track_id=track_id, video_id=first.video_id, start=first.start, width=first.width,
            height=first.height, tracks=first.tracks, visible=first.visible,
            image_emb=first.image_emb, image_emb_pooled=first.image_emb_pooled,
            exp_ids=tuple(s.exp_id for s in group), texts=tuple(s.text for s in group),
            motion_kinds=tuple(s.motion_kind for s in group),
            template_ids=tuple(s.template_id for s in group),
            tags=tuple(s.tags for s in group), text_emb=np.stack([s.text_emb for s in group]),
            clip_model=first.clip_model, clip_pretrained=first.clip_pretrained,
            sample_ids=tuple(s.sample_id for s in group)))
    return rows


def write_feature_shard(path: str | Path, samples: list[FeatureSample], *, frames: int,
                        points: int, dim: int) -> None:
    """Write one features shard of ``samples`` (grouped into trajectories) atomically."""
    write_table_shard(path, feature_table(feature_rows(samples), frames=frames, points=points,
                                          dim=dim))


def read_feature_shards(directory: str | Path) -> pd.DataFrame:
    """Every shard of ``directory`` as one DataFrame: one row per trajectory, its expressions as
    list columns (list columns as numpy arrays).

    Every shard is checked: a missing column, a wrong type or a list of the wrong size raises a
    DataError naming the shard. ``df.attrs["lang2motion"]`` holds frames, points and dim.
    """
    table, meta = read_feature_table(directory)
    df = table.to_pandas()
    df.attrs["lang2motion"] = meta
    return df

"""The embed stage: CLIP text and overlay-image features of every sample, as Parquet shards.

Writes ``<out_dir>/<split>/part-NNNNN.parquet`` for both splits (a staging folder swapped in whole
at the end) and a JSON summary that says which CLIP weights produced the features. Synthetic
splits carry exact labels (motion kind, caption template, phrasing) from their sidecar.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from lang2motion.config import ClipConfig, DataConfig, OverlayConfig
from lang2motion.data.splits import resolve_split
from lang2motion.data.synth.truth import SynthGroundTruth
from lang2motion.embed.clip import load_clip
from lang2motion.embed.features import embed_split
from lang2motion.io import atomic_dir, write_json_atomic
from lang2motion.runtime import machine_facts
from lang2motion.store import read_tracks, tracks_path

SHARD_SIZE = 512                # samples per Parquet shard

log = logging.getLogger(__name__)


def run(*, data: DataConfig, overlay: OverlayConfig, clip: ClipConfig,
        raw_dir: str | os.PathLike[str], tracks_dir: str | os.PathLike[str],
        out_dir: str | os.PathLike[str], summary_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Embed both splits; return (and write) the summary."""
    encoder = load_clip(model=clip.model, pretrained=clip.pretrained, device=clip.device)
    weights = ("RANDOM weights (stand-in features)" if encoder.random
               else f"pretrained weights {clip.pretrained!r}")
    log.warning("CLIP features from %s with %s on %s", clip.model, weights, encoder.device)
    summary: dict[str, Any] = {"clip": encoder.describe(),
                               "machine": machine_facts(encoder.device), "splits": {}}
    with atomic_dir(out_dir) as staging:
        for split_name in data.splits:
            rows = read_tracks(tracks_path(tracks_dir, split_name))
            split = resolve_split(raw_dir, split_name)
            truth = SynthGroundTruth.find(Path(split.split_dir))
            summary["splits"][split_name] = embed_split(
                rows, split, encoder=encoder, overlay=overlay, out_dir=staging / split_name,
                shard_size=SHARD_SIZE, ground_truth=truth, batch_size=clip.batch_size)
    write_json_atomic(summary_path, summary)
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    return [f"{name}: {s['samples']} samples from {s['rows']} track rows, "
            f"{s['images_per_s']} images/s, {s['shards']} shard(s)"
            for name, s in summary["splits"].items()]

"""The embed stage: CLIP text and overlay-image features of every sample, as Parquet shards.

Writes ``<out_dir>/<split>/part-NNNNN.parquet`` (swapped in whole) and a JSON summary naming the
CLIP weights. Sharded (:mod:`lang2motion.sharding`): shard i embeds its block of each split's
track rows on its own device; the merge concatenates the parts in shard order (the single-process
row order) and re-cuts them into the standard shards.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pyarrow as pa

from lang2motion.config import ClipConfig, DataConfig, OverlayConfig, values_read_by
from lang2motion.data.splits import resolve_split
from lang2motion.data.synth.truth import SynthGroundTruth
from lang2motion.distributed import rank_device
from lang2motion.embed.clip import load_clip
from lang2motion.embed.features import embed_split
from lang2motion.io import atomic_dir, write_json_atomic
from lang2motion.runtime import machine_facts, resolve_device
from lang2motion.sharding import (
    Role,
    Shard,
    execute,
    fingerprint,
    move_files,
    shard_figures,
    sum_counts,
)
from lang2motion.sharding import summary_lines as sharded_summary_lines
from lang2motion.stages.render import file_digest
from lang2motion.store import (
    SHARD_GLOB,
    read_feature_table,
    read_tracks,
    tracks_path,
    write_feature_shards,
)

log = logging.getLogger(__name__)
STAGE = "embed"


def run_stage(*, data: DataConfig, overlay: OverlayConfig, clip: ClipConfig,
        raw_dir: str | os.PathLike[str], tracks_dir: str | os.PathLike[str],
        out_dir: str | os.PathLike[str], summary_path: str | os.PathLike[str],
        role: Role | None = None) -> dict[str, Any] | None:
    """Embed both splits (``role``'s share of them; default: all, one process); return (and
    write) the summary, or what :func:`lang2motion.sharding.execute` returns for a process that
    does not merge."""
    role = role or Role()
    encoder = None
    if role.shard is not None:     # this process embeds: CLIP first (a bad name fails at once)
        device = rank_device(resolve_device(clip.device, param="clip.device"), role.world)
        encoder = load_clip(model=clip.model, pretrained=clip.pretrained, device=str(device))
        weights = ("RANDOM weights (stand-in features)" if encoder.random
                   else f"pretrained weights {clip.pretrained!r}")
        log.warning("CLIP features from %s with %s on %s", clip.model, weights, encoder.device)
    tables = {name: tracks_path(tracks_dir, name) for name in data.splits}
    rows = {name: read_tracks(path) for name, path in tables.items()}
    # what shapes the features: CLIP, the overlays and the tracks tables, byte for byte
    shaped_by = {"clip": {"model": clip.model, "pretrained": clip.pretrained},
                 "overlay": values_read_by("embed", "overlay", overlay),
                 "tracks": {name: file_digest(path) for name, path in tables.items()}}

    def compute(shard: Shard, folder: Path) -> dict[str, Any]:
        assert encoder is not None, "a process that computes a shard loads CLIP first"
        summary: dict[str, Any] = {"clip": encoder.describe(),
                                   "machine": machine_facts(encoder.device), "splits": {}}
        for name, split_rows in rows.items():
            # every row is T frames: equal weights, equal blocks
            share = shard.share([1] * len(split_rows))
            split = resolve_split(raw_dir, name)
            summary["splits"][name] = embed_split(
                split_rows[share.start:share.stop], split, encoder=encoder, overlay=overlay,
                out_dir=folder / name, ground_truth=SynthGroundTruth.find(Path(split.split_dir)),
                batch_size=clip.batch_size)
            summary["splits"][name]["share"] = [share.start, share.stop]
        return summary

    def assemble(folders: list[Path], parts: list[dict[str, Any]]) -> dict[str, Any]:
        if len(parts) == 1:     # one process: its features and summary as they are
            summary = {**parts[0]["summary"], **shard_figures(parts)}
            with atomic_dir(out_dir) as staging:
                for name in data.splits:
                    move_files(folders[0] / name, staging / name, pattern=SHARD_GLOB)
            write_json_atomic(summary_path, summary)
            return summary
        summary = {"clip": parts[0]["summary"]["clip"],
                   "machine": parts[0]["summary"]["machine"], "splits": {}}
        with atomic_dir(out_dir) as staging:
            for name in data.splits:
                # the parts in shard order are the rows in single-process order
                table = pa.concat_tables(
                    read_feature_table(folder / name)[0] for folder in folders
                    if any((folder / name).glob(SHARD_GLOB)))
                written = write_feature_shards(staging / name, table)
                split_parts = [p["summary"]["splits"][name] for p in parts]
                merged = sum_counts(split_parts, ("rows", "samples", "images"))
                seconds = max(s["seconds"] for s in split_parts)
                summary["splits"][name] = {
                    **{k: split_parts[0][k] for k in ("frames", "points", "dim", "batch_size",
                                                      "clip", "overlay")},
                    **merged, "shards": len(written),
                    "unique_texts": len({t for row in rows[name] for t in row.texts}),
                    "seconds": seconds,
                    "images_per_s": round(merged["images"] / seconds, 2) if seconds else None}
        summary.update(shard_figures(parts))
        write_json_atomic(summary_path, summary)
        return summary

    return execute(role, stage=STAGE, out=out_dir, fingerprint=fingerprint(shaped_by),
                   compute=compute, assemble=assemble)


def summary_lines(summary: dict[str, Any] | None) -> list[str]:
    return sharded_summary_lines(summary, lambda summary: [
        f"{name}: {s['samples']} samples from {s['rows']} track rows, "
        f"{s['images_per_s']} images/s, {s['shards']} shard(s)"
        for name, s in summary["splits"].items()])

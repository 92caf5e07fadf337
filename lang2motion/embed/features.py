"""The embed stage's work: CLIP text and overlay-image features of every sample, as Parquet shards.

Overlays are rendered (in memory, as the render stage draws them: no lossy video decode) and
encoded once per track row, each caption once. Worker threads read and render the next rows while
CLIP encodes (cv2 and JPEG decoding release the GIL), so ``read_frames`` must be thread-safe.

Legend: T frames, N points, D CLIP embedding size, S overlay side.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from lang2motion.config import ClipConfig, OverlayConfig, values_read_by
from lang2motion.data.synth.truth import SynthGroundTruth
from lang2motion.embed.clip import ClipEncoder
from lang2motion.errors import ConfigError, DataError
from lang2motion.render.overlay import FrameSource, overlay_track_row
from lang2motion.runtime import prefetch, worker_threads
from lang2motion.store import (
    ROWS_PER_SHARD,
    FeatureRow,
    TrackRow,
    feature_table,
    remove_stale_shards,
    shard_name,
    write_table_shard,
)

PREFETCH_ROWS_PER_THREAD = 2   # rows rendered ahead per thread: keeps CLIP fed, bounds memory
UNKNOWN_MOTION_KIND = ""
UNKNOWN_TEMPLATE_ID = -1

_Item = TypeVar("_Item")
_END = object()   # end-of-iteration sentinel of _timed


def _check_rows(rows: list[TrackRow]) -> tuple[int, int]:
    """(T, N) shared by every row; DataError on empty input, ragged shapes or duplicate ids."""
    if not rows:
        raise DataError("embed: no track rows to embed (is the tracks table empty?)")
    shape = rows[0].tracks.shape
    seen: set[str] = set()
    for row in rows:
        if row.tracks.shape != shape or row.visible.shape != shape[:2]:
            raise DataError(f"{row.track_id}: tracks {row.tracks.shape} / visible "
                            f"{row.visible.shape} differ from the first row's {shape}")
        if len(row.exp_ids) != len(row.texts) or not row.exp_ids:
            raise DataError(f"{row.track_id}: {len(row.exp_ids)} expression ids for "
                            f"{len(row.texts)} texts (need the same number, at least one)")
        if row.track_id in seen:
            raise DataError(f"{row.track_id}: duplicate track id in the tracks table")
        seen.add(row.track_id)
    return shape[0], shape[1]


class _ShardWriter:
    """Buffers trajectory rows and writes part-NNNNN.parquet every ``shard_size`` rows; drops
    stale shards of an earlier run."""

    def __init__(self, out_dir: Path, *, shard_size: int, frames: int, points: int, dim: int):
        self.out_dir, self.shard_size = out_dir, shard_size
        self.shape = {"frames": frames, "points": points, "dim": dim}
        self.buffer: list[FeatureRow] = []
        self.written: list[Path] = []
        self.seconds = 0.0

    def add(self, row: FeatureRow) -> None:
        self.buffer.append(row)
        if len(self.buffer) >= self.shard_size:
            self._write()

    def _write(self) -> None:
        start = time.perf_counter()
        path = self.out_dir / shard_name(len(self.written))
        write_table_shard(path, feature_table(self.buffer, **self.shape))
        self.written.append(path)
        self.buffer = []
        self.seconds += time.perf_counter() - start

    def close(self) -> None:
        """Write the last partial shard, then delete shards of an earlier run not rewritten."""
        if self.buffer:
            self._write()
        remove_stale_shards(self.out_dir, self.written)


def _feature_row(row: TrackRow, image_emb: np.ndarray, text_emb: dict[str, np.ndarray], *,
                 encoder: ClipEncoder, ground_truth: SynthGroundTruth | None) -> FeatureRow:
    """The features-table row of one track row and its expressions.  image_emb: (T, D)."""
    gt, video = ground_truth, row.video_id
    kinds = [gt.motion_kind(video, e) if gt else UNKNOWN_MOTION_KIND for e in row.exp_ids]
    templates = [gt.template_id(video, e) if gt else UNKNOWN_TEMPLATE_ID for e in row.exp_ids]
    tags = [gt.tags(video, e) if gt else {} for e in row.exp_ids]
    return FeatureRow(
        track_id=row.track_id, video_id=row.video_id, start=row.start, width=row.width,
        height=row.height, tracks=row.tracks, visible=row.visible, image_emb=image_emb,
        image_emb_pooled=image_emb.mean(axis=0), exp_ids=tuple(row.exp_ids),
        texts=tuple(row.texts), motion_kinds=tuple(kinds), template_ids=tuple(templates),
        tags=tuple(tags), text_emb=np.stack([text_emb[text] for text in row.texts]),
        clip_model=encoder.name, clip_pretrained=encoder.pretrained)


class _ImageBatcher:
    """Packs the frames of consecutive rows into full CLIP batches; hands back finished rows.

    ``on_row(index, image_emb)`` is called in row order once all T frames of a row are encoded.
    image_emb: (T, D).
    """

    def __init__(self, encoder: ClipEncoder, *, batch_size: int, frames: int, side: int,
                 on_row: Callable[[int, np.ndarray], None]):
        self.encoder, self.batch_size, self.frames = encoder, batch_size, frames
        self.on_row = on_row
        self.batch = np.empty((batch_size, side, side, 3), dtype=np.uint8)
        self.slots: list[tuple[int, int]] = []    # (row index, frame) of each batch image
        self.row_emb: dict[int, np.ndarray] = {}  # row index -> (T, D) being filled
        self.remaining: dict[int, int] = {}       # row index -> frames still to encode
        self.next_row = 0                         # rows are handed back in this order
        self.seconds = 0.0

    def add(self, index: int, images: np.ndarray) -> None:
        """Queue the (T, S, S, 3) overlays of row ``index``; encode every full batch."""
        self.row_emb[index] = np.empty((self.frames, self.encoder.dim), dtype=np.float32)
        self.remaining[index] = self.frames
        for t in range(self.frames):
            self.batch[len(self.slots)] = images[t]
            self.slots.append((index, t))
            if len(self.slots) == self.batch_size:
                self.flush()

    def flush(self) -> None:
        """Encode the queued images (a partial batch at the end) and hand back finished rows."""
        if self.slots:
            start = time.perf_counter()
            emb = self.encoder.encode_images(self.batch[:len(self.slots)],
                                             batch_size=self.batch_size)
            self.seconds += time.perf_counter() - start
            for (index, t), vector in zip(self.slots, emb, strict=True):
                self.row_emb[index][t] = vector
                self.remaining[index] -= 1
            self.slots.clear()
        while self.remaining.get(self.next_row) == 0:
            del self.remaining[self.next_row]
            self.on_row(self.next_row, self.row_emb.pop(self.next_row))
            self.next_row += 1


def _timed(items: Iterator[_Item], clock: list[float]) -> Iterator[_Item]:
    """Yield from ``items``, adding the seconds spent waiting for each item to ``clock[0]``."""
    while True:
        start = time.perf_counter()
        item = next(items, _END)
        clock[0] += time.perf_counter() - start
        if item is _END:
            return
        yield item


def embed_split(
    rows: list[TrackRow],
    split: FrameSource,
    *,
    encoder: ClipEncoder,
    overlay: OverlayConfig,
    out_dir: str | os.PathLike[str],
    ground_truth: SynthGroundTruth | None,
    shard_size: int = ROWS_PER_SHARD,
    batch_size: int = ClipConfig.batch_size,
) -> dict[str, Any]:
    """Embed every sample of ``rows`` into ``out_dir/part-NNNNN.parquet`` (``shard_size``
    trajectories each, stale shards deleted); return a summary. ``ground_truth`` labels
    synthetic samples, None for real data. Image embeddings are pooled by the mean over T.
    """
    if shard_size < 1:
        raise ConfigError(f"shard_size must be >= 1, got {shard_size}")
    start_time = time.perf_counter()
    frames, points = _check_rows(rows)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    unique_texts = list(dict.fromkeys(text for row in rows for text in row.texts))
    writer = _ShardWriter(out_dir, shard_size=shard_size, frames=frames, points=points,
                          dim=encoder.dim)
    text_emb: dict[str, np.ndarray] = {}

    def prepare(index: int) -> tuple[int, np.ndarray]:
        return index, overlay_track_row(rows[index], split, overlay=overlay)

    def finish_row(index: int, image_emb: np.ndarray) -> None:
        writer.add(_feature_row(rows[index], image_emb, text_emb, encoder=encoder,
                                ground_truth=ground_truth))

    threads = worker_threads()
    wait_clock = [0.0]
    # Workers start rendering the first rows at once, while the captions are encoded.
    with prefetch(prepare, range(len(rows)), threads=threads,
                  depth=threads * PREFETCH_ROWS_PER_THREAD) as prepared:
        text_start = time.perf_counter()
        text_emb.update(zip(unique_texts, encoder.encode_text(unique_texts, batch_size=batch_size),
                            strict=True))
        text_seconds = time.perf_counter() - text_start
        image_start = time.perf_counter()
        batcher = _ImageBatcher(encoder, batch_size=batch_size, frames=frames,
                                side=overlay.size, on_row=finish_row)
        for index, images in tqdm(_timed(prepared, wait_clock), total=len(rows), desc="embed",
                                  unit="row"):
            batcher.add(index, images)
        batcher.flush()
    writer.close()
    image_seconds = time.perf_counter() - image_start

    n_images = len(rows) * frames
    return {
        "rows": len(rows),
        "samples": sum(len(row.exp_ids) for row in rows),
        "unique_texts": len(unique_texts),
        "images": n_images,
        "shards": len(writer.written),
        "frames": frames, "points": points, "dim": encoder.dim,
        "batch_size": batch_size,
        "seconds": round(time.perf_counter() - start_time, 3),
        "text_seconds": round(text_seconds, 3),
        "image_seconds": round(image_seconds, 3),
        "images_per_s": round(n_images / image_seconds, 2) if image_seconds > 0 else None,
        "clip_seconds": round(batcher.seconds, 3),
        "prepare_wait_seconds": round(wait_clock[0], 3),
        "write_seconds": round(writer.seconds, 3),
        "clip": encoder.describe(),
        "overlay": values_read_by("embed", "overlay", overlay),
    }

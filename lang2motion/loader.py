"""Training batches from a feature split: in memory when it is small, streamed in chunks when not.

Both loaders serve the training loop the same way: ``order(seed=, epoch=)`` is the epoch's sample
order, a pure function of (seed, epoch), and ``batch(index)`` gathers the samples ``index`` as the
batch keys of :func:`lang2motion.model.losses.compute_losses` on the training device. A resumed
run recomputes the order and skips the batches already taken, so it sees exactly the batches an
uninterrupted one would; under DDP each rank gathers only its slice of every global batch.

- :class:`InMemorySplit`: the whole split on the device, trajectories once; one permutation.
- :class:`StreamedSplit`: the shards' row groups are the chunks, permuted and taken ``window`` at
  a time, the samples of a window permuted together; only the current and previous window stay
  in memory, so memory does not grow with the split.

Legend: S samples, R trajectories, B batch, T frames, N points, D feature.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from lang2motion.errors import DataError
from lang2motion.runtime import to_device
from lang2motion.store import (
    FeatureTensors,
    _check_feature_table,
    feature_tensors,
    load_feature_tensors,
    shard_paths,
)

log = logging.getLogger(__name__)

# (seed, epoch) -> one generator seed; a prime stride keeps (seed, epoch) pairs from colliding
# for any realistic number of epochs.
EPOCH_SEED_STRIDE = 1_000_003
BYTES_PER_MB = 1 << 20


def epoch_order(samples: int, *, seed: int, epoch: int) -> torch.Tensor:
    """(S,) the shuffled sample order of one epoch; a pure function of (seed, epoch)."""
    generator = torch.Generator().manual_seed(seed * EPOCH_SEED_STRIDE + epoch)
    return torch.randperm(samples, generator=generator)


def _batch_arrays(data: FeatureTensors, *, use_overlay: bool) -> dict[str, np.ndarray]:
    """The compute_losses keys of ``data``: tracks (R, T, N, 2), image_emb_pooled (R, D),
    overlay (R, T, D) per trajectory; text_emb (S, D) per sample."""
    arrays = {"tracks": data.row_tracks, "text_emb": data.text_emb,
              "image_emb_pooled": data.row_image_emb_pooled}
    if use_overlay:
        arrays["overlay"] = data.row_image_emb
    return arrays


ROW_KEYS = ("tracks", "image_emb_pooled", "overlay")   # stored per trajectory, gathered by row


class InMemorySplit:
    """A split held on the training device, trajectories once (see module docstring)."""

    streamed = False

    def __init__(self, data: FeatureTensors, *, device: torch.device, use_overlay: bool):
        self.data = data
        self.samples = len(data)
        self.row = torch.from_numpy(np.asarray(data.row, dtype=np.int64)).to(device)
        self.tensors = to_device(_batch_arrays(data, use_overlay=use_overlay), device)
        self.clip_model, self.clip_pretrained = data.clip_model, data.clip_pretrained

    @property
    def meta(self) -> dict[str, int]:
        """{frames, points, dim} of the split."""
        frames, points = self.data.row_tracks.shape[1:3]
        return {"frames": frames, "points": points, "dim": self.data.text_emb.shape[1]}

    def order(self, *, seed: int, epoch: int) -> torch.Tensor:
        return epoch_order(self.samples, seed=seed, epoch=epoch)

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """index (B,) sample indices -> tracks (B, T, N, 2), text_emb (B, D), ..."""
        index = index.to(self.row.device)
        rows = self.row[index]
        return {k: v[rows] if k in ROW_KEYS else v[index] for k, v in self.tensors.items()}

    def signature(self) -> dict[str, Any]:
        return {"samples": self.samples, "tracks_shape": list(self.data.row_tracks.shape),
                "sample_ids_sha256":
                    hashlib.sha256("\n".join(self.data.sample_ids).encode()).hexdigest()}


@dataclass(frozen=True)
class _Chunk:
    path: Path
    group: int       # row group in the file
    first: int       # global index of its first sample
    samples: int


class StreamedSplit:
    """A split read chunk by chunk from its feature shards (see module docstring)."""

    streamed = True

    def __init__(self, directory: str | Path, *, device: torch.device, use_overlay: bool,
                 window: int):
        if window < 1:
            raise DataError(f"stream window must be >= 1 chunk, got {window}")
        self.directory, self.device = Path(directory), device
        self.use_overlay, self.window = use_overlay, window
        self.chunks: list[_Chunk] = []
        meta, digest, first, clips = None, hashlib.sha256(), 0, set()
        for path in shard_paths(self.directory):
            try:
                file = pq.ParquetFile(path)
                ids = file.read(columns=["sample_ids", "samples", "clip_model",
                                         "clip_pretrained"])
            except (OSError, pa.ArrowInvalid) as exc:
                raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
            schema_meta = file.schema_arrow.metadata
            table_meta = _check_feature_table(
                path, file.schema_arrow.empty_table().replace_schema_metadata(schema_meta))[1]
            if meta is None:
                meta = table_meta
            elif table_meta != meta:
                raise DataError(f"{path}: shape {table_meta} differs from the first shard's "
                                f"{meta}")
            counts = ids.column("samples").to_numpy()
            clips |= set(zip(ids.column("clip_model").to_pylist(),
                             ids.column("clip_pretrained").to_pylist(), strict=True))
            offset = 0
            for group in range(file.metadata.num_row_groups):
                rows = file.metadata.row_group(group).num_rows
                n = int(counts[offset:offset + rows].sum())
                self.chunks.append(_Chunk(path=path, group=group, first=first, samples=n))
                first, offset = first + n, offset + rows
            # the hash of "\n".join(every sample id), as InMemorySplit's, without holding them
            text = "\n".join(ids.column("sample_ids").combine_chunks().flatten().to_pylist())
            digest.update((("\n" if first > sum(counts) else "") + text).encode())
        if len(clips) > 1:
            raise DataError(f"{self.directory}: features from different CLIP models "
                            f"{sorted(clips)[:3]} cannot be trained on together")
        self.clip_model, self.clip_pretrained = clips.pop() if clips else ("", "")
        self.meta = meta or {}
        self.samples = first
        self.ids_sha256 = digest.hexdigest()
        self.starts = np.array([c.first for c in self.chunks] + [first], dtype=np.int64)
        self._cache: OrderedDict[int, tuple[FeatureTensors, dict[str, torch.Tensor]]] = \
            OrderedDict()
        self.loads = 0   # chunks read so far (a resumed epoch reads only what it still needs)

    def order(self, *, seed: int, epoch: int) -> torch.Tensor:
        generator = torch.Generator().manual_seed(seed * EPOCH_SEED_STRIDE + epoch)
        chunks = torch.randperm(len(self.chunks), generator=generator).tolist()
        parts = []
        for start in range(0, len(chunks), self.window):
            index = torch.cat([torch.arange(self.starts[c], self.starts[c + 1])
                               for c in chunks[start:start + self.window]])
            parts.append(index[torch.randperm(len(index), generator=generator)])
        return torch.cat(parts) if parts else torch.empty(0, dtype=torch.int64)

    def chunk_of(self, index: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, index, side="right") - 1

    def load(self, chunk: int) -> tuple[FeatureTensors, dict[str, torch.Tensor]]:
        """One chunk in memory (cached: the current and previous window stay)."""
        if chunk in self._cache:
            self._cache.move_to_end(chunk)
            return self._cache[chunk]
        ref = self.chunks[chunk]
        where = f"{ref.path} (row group {ref.group})"
        try:
            table = pq.ParquetFile(ref.path).read_row_group(ref.group)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"{where}: cannot read ({exc})") from None
        data = feature_tensors(_check_feature_table(ref.path, table)[0], self.meta, where=where)
        tensors = to_device(_batch_arrays(data, use_overlay=self.use_overlay), self.device)
        tensors["row"] = torch.from_numpy(data.row).to(self.device)
        self._cache[chunk] = (data, tensors)
        self.loads += 1
        while len(self._cache) > 2 * self.window:
            self._cache.popitem(last=False)
        return self._cache[chunk]

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        """index (B,) global sample indices -> the batch, gathered from the chunks holding them."""
        index_np = index.cpu().numpy()
        owners = self.chunk_of(index_np)
        pieces: dict[str, list[torch.Tensor]] = {}
        positions = []
        for chunk in dict.fromkeys(owners.tolist()):
            where = np.flatnonzero(owners == chunk)
            local = torch.from_numpy(index_np[where] - self.starts[chunk]).to(self.device)
            _, tensors = self.load(chunk)
            rows = tensors["row"][local]
            for key, value in tensors.items():
                if key != "row":
                    pieces.setdefault(key, []).append(value[rows] if key in ROW_KEYS
                                                      else value[local])
            positions.append(torch.from_numpy(where))
        inverse = torch.argsort(torch.cat(positions)).to(self.device)
        return {k: torch.cat(v)[inverse] for k, v in pieces.items()}

    def head(self, samples: int) -> FeatureTensors:
        """The first ``samples`` samples (whole chunks from the start) in memory: the training
        split's stand-in where a metric needs the split itself (fit R@1, baselines)."""
        tables, count = [], 0
        for ref in self.chunks:
            if count >= samples:
                break
            tables.append(_check_feature_table(
                ref.path, pq.ParquetFile(ref.path).read_row_group(ref.group))[0])
            count += ref.samples
        data = feature_tensors(pa.concat_tables(tables), self.meta, where=str(self.directory))
        return data.subset(np.arange(min(samples, len(data))))

    def signature(self) -> dict[str, Any]:
        return {"samples": self.samples, "chunks": len(self.chunks),
                "sample_ids_sha256": self.ids_sha256}


def open_split(directory: str | Path, *, device: torch.device, use_overlay: bool,
               stream_above_mb: float, window: int) -> InMemorySplit | StreamedSplit:
    """The training split of ``directory``: streamed when its shards exceed ``stream_above_mb``
    MiB on disk (0: always), else in memory."""
    size = sum(p.stat().st_size for p in shard_paths(directory)) / BYTES_PER_MB
    if size > stream_above_mb:
        log.info("%s: %.0f MiB of features > train.stream_above_mb %.0f: streaming in chunks",
                 directory, size, stream_above_mb)
        return StreamedSplit(directory, device=device, use_overlay=use_overlay, window=window)
    return InMemorySplit(load_feature_tensors(directory), device=device, use_overlay=use_overlay)

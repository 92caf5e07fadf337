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

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from lang2motion.errors import DataError
from lang2motion.io import atomic_path

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

        def pick(seq: list[str]) -> list[str]:
            return [seq[i] for i in idx]

        return FeatureTensors(
            sample_ids=pick(self.sample_ids), track_ids=pick(self.track_ids),
            texts=pick(self.texts), motion_kinds=pick(self.motion_kinds),
            template_ids=self.template_ids[idx], tracks=self.tracks[idx],
            visible=self.visible[idx], text_emb=self.text_emb[idx],
            image_emb=self.image_emb[idx], image_emb_pooled=self.image_emb_pooled[idx],
            sizes=self.sizes[idx])


# ---------------------------------------------------------------------------------------------
# Tracks table
# ---------------------------------------------------------------------------------------------



@dataclass(frozen=True)
class TrackRow:
    """Point tracks of one (video, object set, window), shared by the expressions naming them."""

    track_id: str                 # f"{video_id}/{'+'.join(sorted anno_ids)}/{start:05d}"
    video_id: str
    anno_ids: tuple[str, ...]
    start: int                    # first frame of the window in the video
    exp_ids: tuple[str, ...]      # expressions that share this row
    texts: tuple[str, ...]        # their captions, same order as exp_ids
    tracks: np.ndarray            # (T, N, 2) float32, normalised to [-1, 1]
    visible: np.ndarray           # (T, N) bool
    width: int                    # source frame width in pixels
    height: int
    tracker: str                  # backend name, e.g. "lk" or "cotracker3"

    @property
    def grid(self) -> np.ndarray:
        """(N, 2) the initial grid (first frame), normalised."""
        return self.tracks[0]


TRACKS_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("video_id", pa.string()), ("anno_ids", pa.list_(pa.string())),
    ("start", pa.int32()), ("exp_ids", pa.list_(pa.string())), ("texts", pa.list_(pa.string())),
    ("tracks", pa.list_(pa.float32())), ("visible", pa.list_(pa.bool_())),
    ("grid", pa.list_(pa.float32())), ("width", pa.int32()), ("height", pa.int32()),
    ("tracker", pa.string()),
])


def write_tracks(path: str | Path, rows: list[TrackRow], *, frames: int, points: int) -> None:
    """Write the tracks table atomically. Every row must have tracks (frames, points, 2)."""
    for row in rows:
        if row.tracks.shape != (frames, points, 2) or row.visible.shape != (frames, points):
            raise DataError(f"{row.track_id}: tracks {row.tracks.shape} / visible "
                            f"{row.visible.shape} do not match T={frames}, N={points}")
        if not np.isfinite(row.tracks).all():
            raise DataError(f"{row.track_id}: tracks contain NaN or infinite values")
    columns = {
        "track_id": [r.track_id for r in rows], "video_id": [r.video_id for r in rows],
        "anno_ids": [list(r.anno_ids) for r in rows], "start": [r.start for r in rows],
        "exp_ids": [list(r.exp_ids) for r in rows], "texts": [list(r.texts) for r in rows],
        "tracks": [r.tracks.astype(np.float32).ravel() for r in rows],
        "visible": [r.visible.astype(bool).ravel() for r in rows],
        "grid": [r.tracks[0].astype(np.float32).ravel() for r in rows],
        "width": [r.width for r in rows], "height": [r.height for r in rows],
        "tracker": [r.tracker for r in rows],
    }
    meta = {b"lang2motion": json.dumps({"table": "tracks", "version": SCHEMA_VERSION,
                                        "frames": frames, "points": points}).encode()}
    table = pa.Table.from_pydict(columns, schema=TRACKS_SCHEMA.with_metadata(meta))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _table_meta(path: Path, table: pa.Table, kind: str) -> dict:
    raw = (table.schema.metadata or {}).get(b"lang2motion")
    if raw is None:
        raise DataError(f"{path}: not a lang2motion {kind} table (no lang2motion metadata)")
    meta = json.loads(raw)
    if meta.get("table") != kind:
        raise DataError(f"{path}: expected a {kind} table, found {meta.get('table')!r}")
    return meta


def read_tracks(path: str | Path) -> list[TrackRow]:
    """Read a tracks table written by :func:`write_tracks`, checking its schema and shapes."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: tracks table not found (run the track stage first)")
    table = pq.read_table(path)
    meta = _table_meta(path, table, "tracks")
    missing = set(TRACKS_SCHEMA.names) - set(table.schema.names)
    if missing:
        raise DataError(f"{path}: tracks table lacks column(s) {sorted(missing)}")
    frames, points = int(meta["frames"]), int(meta["points"])
    data = table.to_pydict()
    rows = []
    for i, track_id in enumerate(data["track_id"]):
        tracks = np.asarray(data["tracks"][i], dtype=np.float32)
        visible = np.asarray(data["visible"][i], dtype=bool)
        if tracks.size != frames * points * 2 or visible.size != frames * points:
            raise DataError(f"{path}: row {track_id} has {tracks.size} coordinates, expected "
                            f"T*N*2 = {frames}*{points}*2")
        rows.append(TrackRow(
            track_id=track_id, video_id=data["video_id"][i], anno_ids=tuple(data["anno_ids"][i]),
            start=int(data["start"][i]), exp_ids=tuple(data["exp_ids"][i]),
            texts=tuple(data["texts"][i]), tracks=tracks.reshape(frames, points, 2),
            visible=visible.reshape(frames, points), width=int(data["width"][i]),
            height=int(data["height"][i]), tracker=data["tracker"][i]))
    return rows

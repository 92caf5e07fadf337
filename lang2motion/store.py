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
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lang2motion.errors import DataError
from lang2motion.io import atomic_path

if TYPE_CHECKING:
    import pandas as pd

SCHEMA_VERSION = "2"   # 2: features carry per-expression evaluation tags
# Normalised coordinates ([-1, 1] spans the frame) beyond this are not a tracker's estimate of a
# point that left the frame but corrupt data: 4 units is 1.5 frame widths outside the frame.
COORD_LIMIT = 4.0


@dataclass
class FeatureTensors:
    """A feature split held in memory as arrays, for training and evaluation.

    S samples, R unique track rows. Coordinates are normalised to [-1, 1] (eq. 3).
    """

    sample_ids: list[str]        # (S,)
    track_ids: list[str]         # (S,) the track row each sample uses
    video_ids: list[str]         # (S,)
    starts: np.ndarray           # (S,) int, first frame of each sample's window in its video
    texts: list[str]             # (S,)
    motion_kinds: list[str]      # (S,) "" when unknown (real data)
    template_ids: np.ndarray     # (S,) int, -1 when unknown
    tags: list[dict[str, str]]   # (S,) evaluation slices, e.g. {"phrasing": "seen"}; {} if none
    tracks: np.ndarray           # (S, T, N, 2) float32
    visible: np.ndarray          # (S, T, N) bool
    text_emb: np.ndarray         # (S, D) float32, unnormalised CLIP text embedding
    image_emb: np.ndarray        # (S, T, D) float32, per-frame CLIP overlay embedding
    image_emb_pooled: np.ndarray  # (S, D) float32, mean over T of image_emb
    sizes: np.ndarray            # (S, 2) int, (width, height) of the source frames
    clip_model: str = ""         # the CLIP that made the embeddings (one per split)
    clip_pretrained: str = ""

    @property
    def grid(self) -> np.ndarray:
        """(S, N, 2) the initial grid: the first frame of every track."""
        return self.tracks[:, 0]

    def __len__(self) -> int:
        return len(self.sample_ids)

    def subset(self, index: np.ndarray | list[int]) -> FeatureTensors:
        idx = np.asarray(index, dtype=np.int64)

        def pick(seq: list) -> list:
            return [seq[i] for i in idx]

        return FeatureTensors(
            sample_ids=pick(self.sample_ids), track_ids=pick(self.track_ids),
            video_ids=pick(self.video_ids), starts=self.starts[idx],
            texts=pick(self.texts), motion_kinds=pick(self.motion_kinds),
            template_ids=self.template_ids[idx], tags=pick(self.tags), tracks=self.tracks[idx],
            visible=self.visible[idx], text_emb=self.text_emb[idx],
            image_emb=self.image_emb[idx], image_emb_pooled=self.image_emb_pooled[idx],
            sizes=self.sizes[idx], clip_model=self.clip_model,
            clip_pretrained=self.clip_pretrained)


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


def tracks_path(tracks_dir: str | Path, split: str) -> Path:
    """Where the tracks table of ``split`` lives under the track stage's output folder."""
    return Path(tracks_dir) / f"{split}.parquet"


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
    if str(meta.get("version")) != SCHEMA_VERSION:
        raise DataError(f"{path}: {kind} table of schema version {meta.get('version')!r}, this "
                        f"code reads version {SCHEMA_VERSION}; re-run the pipeline (dvc repro)")
    return meta


def check_coordinates(tracks: np.ndarray, *, where: str, ids: list[str] | None = None) -> None:
    """DataError naming the first bad sample when ``tracks`` (..., 2) (normalised) holds NaN,
    infinite or absurd values (beyond +-COORD_LIMIT)."""
    flat = tracks.reshape(len(tracks), -1) if tracks.ndim > 1 else tracks.reshape(1, -1)
    finite = np.isfinite(flat).all(axis=1)
    sane = np.where(finite[:, None], np.abs(np.nan_to_num(flat)) <= COORD_LIMIT, True).all(axis=1)
    bad = np.flatnonzero(~(finite & sane))
    if len(bad):
        first = int(bad[0])
        name = ids[first] if ids is not None else f"row {first}"
        what = "NaN or infinite" if not finite[first] else (
            f"absurd (|value| up to {np.abs(flat[first]).max():.3g} > {COORD_LIMIT})")
        raise DataError(f"{where}: sample {name} has {what} coordinates ({len(bad)} sample(s) "
                        "affected); coordinates are normalised to [-1, 1] by the frame size. "
                        "Re-run the track stage (or fix the tracker's output)")


def read_tracks(path: str | Path) -> list[TrackRow]:
    """Read a tracks table written by :func:`write_tracks`, checking its schema, shapes and
    coordinates."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: tracks table not found (run the track stage first)")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc}); re-run the track "
                        "stage") from None
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
    if rows:
        check_coordinates(np.stack([r.tracks for r in rows]), where=str(path),
                          ids=[r.track_id for r in rows])
    return rows


# ---------------------------------------------------------------------------------------------
# Features table
# ---------------------------------------------------------------------------------------------

SHARD_GLOB = "part-*.parquet"


def shard_name(index: int) -> str:
    """File name of the ``index``-th feature shard: part-00000.parquet, part-00001.parquet..."""
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class FeatureSample:
    """One row of the features table: a sample (video, expression, window) and its embeddings."""

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


FEATURES_SCHEMA = pa.schema([
    ("sample_id", pa.string()), ("video_id", pa.string()), ("exp_id", pa.string()),
    ("text", pa.string()), ("track_id", pa.string()), ("motion_kind", pa.string()),
    ("template_id", pa.int32()), ("tags", pa.string()), ("start", pa.int32()),
    ("width", pa.int32()),
    ("height", pa.int32()), ("tracks", pa.list_(pa.float32())), ("visible", pa.list_(pa.bool_())),
    ("grid", pa.list_(pa.float32())), ("text_emb", pa.list_(pa.float32())),
    ("image_emb", pa.list_(pa.float32())), ("image_emb_pooled", pa.list_(pa.float32())),
    ("clip_model", pa.string()), ("clip_pretrained", pa.string()),
])


def _feature_sizes(frames: int, points: int, dim: int) -> dict[str, int]:
    """Elements per row of every list column of the features table."""
    return {"tracks": frames * points * 2, "visible": frames * points, "grid": points * 2,
            "text_emb": dim, "image_emb": frames * dim, "image_emb_pooled": dim}


def _list_column(arrays: list[np.ndarray], dtype: np.dtype, size: int) -> pa.Array:
    """Flat fixed-size rows -> an Arrow list array, built from one contiguous buffer (fast)."""
    values = (np.concatenate([np.asarray(a, dtype=dtype).ravel() for a in arrays])
              if arrays else np.empty(0, dtype=dtype))
    offsets = np.arange(len(arrays) + 1, dtype=np.int32) * size
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), pa.array(values))


def write_feature_shard(path: str | Path, samples: list[FeatureSample], *, frames: int,
                        points: int, dim: int) -> None:
    """Write one features shard atomically; every sample must have T=frames, N=points, D=dim."""
    expected = {"tracks": (frames, points, 2), "visible": (frames, points), "text_emb": (dim,),
                "image_emb": (frames, dim), "image_emb_pooled": (dim,)}
    for s in samples:
        for name, shape in expected.items():
            if np.shape(getattr(s, name)) != shape:
                raise DataError(f"{path}: sample {s.sample_id} has {name} "
                                f"{np.shape(getattr(s, name))}, expected {shape}")
        for name in ("tracks", "text_emb", "image_emb", "image_emb_pooled"):
            if not np.isfinite(getattr(s, name)).all():
                raise DataError(f"{path}: sample {s.sample_id} has NaN or infinite {name}")
    sizes = _feature_sizes(frames, points, dim)
    columns: dict[str, pa.Array | list] = {
        name: [getattr(s, name) for s in samples]
        for name in ("sample_id", "video_id", "exp_id", "text", "track_id", "motion_kind",
                     "template_id", "start", "width", "height", "clip_model", "clip_pretrained")
    }
    columns["tags"] = [json.dumps(s.tags, sort_keys=True) for s in samples]
    columns["tracks"] = _list_column([s.tracks for s in samples], np.float32, sizes["tracks"])
    columns["visible"] = _list_column([s.visible for s in samples], np.bool_, sizes["visible"])
    columns["grid"] = _list_column([s.tracks[0] for s in samples], np.float32, sizes["grid"])
    for name in ("text_emb", "image_emb", "image_emb_pooled"):
        columns[name] = _list_column([getattr(s, name) for s in samples], np.float32, sizes[name])
    meta = {b"lang2motion": json.dumps({"table": "features", "version": SCHEMA_VERSION,
                                        "frames": frames, "points": points,
                                        "dim": dim}).encode()}
    schema = FEATURES_SCHEMA.with_metadata(meta)
    table = pa.Table.from_arrays([pa.array(columns[f.name], type=f.type)
                                  if isinstance(columns[f.name], list) else columns[f.name]
                                  for f in FEATURES_SCHEMA], schema=schema)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _read_shard(path: Path) -> tuple[pa.Table, dict]:
    """Read one shard and check its metadata, columns, types and per-row sizes."""
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
    meta = _table_meta(path, table, "features")
    try:
        frames, points, dim = int(meta["frames"]), int(meta["points"]), int(meta["dim"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: features metadata lacks frames/points/dim: {meta}") from None
    missing = [n for n in FEATURES_SCHEMA.names if n not in table.schema.names]
    if missing:
        raise DataError(f"{path}: features shard lacks column(s) {missing}")
    table = table.select(FEATURES_SCHEMA.names)
    try:
        table = table.cast(FEATURES_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{path}: features shard has wrong column types: {exc}") from None
    sample_ids = table.column("sample_id")
    for name, size in _feature_sizes(frames, points, dim).items():
        lengths = pc.list_value_length(table.column(name)).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(lengths != size)
        if len(bad):
            raise DataError(f"{path}: sample {sample_ids[int(bad[0])].as_py()} has {name} of "
                            f"{lengths[bad[0]]} values, expected {size} (T={frames}, N={points}, "
                            f"D={dim}); the shard's dimension does not match its metadata")
    return table, {"frames": frames, "points": points, "dim": dim}


def _read_shards(directory: str | Path) -> tuple[pa.Table, dict]:
    """All shards of a features folder, checked and concatenated in file-name order."""
    directory = Path(directory)
    paths = sorted(directory.glob(SHARD_GLOB))
    if not paths:
        raise DataError(f"{directory}: no feature shards ({SHARD_GLOB}); run the embed stage")
    tables, first = [], None
    for path in paths:
        table, meta = _read_shard(path)
        if first is None:
            first = (path, meta)
        elif meta != first[1]:
            raise DataError(f"{path}: shape {meta} differs from {first[0].name} {first[1]}")
        tables.append(table)
    table = pa.concat_tables(tables)
    counts = Counter(table.column("sample_id").to_pylist())
    if len(counts) != table.num_rows:
        dupes = sorted(i for i, c in counts.items() if c > 1)[:5]
        raise DataError(f"{directory}: duplicate sample ids across shards, e.g. {dupes}")
    return table, first[1]


def read_feature_shards(directory: str | Path) -> pd.DataFrame:
    """Every shard of ``directory`` as one DataFrame (list columns as flat numpy arrays).

    Every shard is checked: a missing column, a wrong type or a list of the wrong size raises a
    DataError naming the shard. ``df.attrs["lang2motion"]`` holds frames, points and dim.
    """
    table, meta = _read_shards(directory)
    df = table.to_pandas()
    df.attrs["lang2motion"] = meta
    return df


def _flat(table: pa.Table, name: str, dtype: type) -> np.ndarray:
    values = table.column(name).combine_chunks().flatten()
    return np.ascontiguousarray(values.to_numpy(zero_copy_only=False), dtype=dtype)


def load_feature_tensors(directory: str | Path) -> FeatureTensors:
    """Every shard of ``directory`` stacked into contiguous arrays (see FeatureTensors); tracks
    and embeddings checked for NaN, infinite and absurd values."""
    table, meta = _read_shards(directory)
    s, t, n, d = table.num_rows, meta["frames"], meta["points"], meta["dim"]
    out = FeatureTensors(
        sample_ids=table.column("sample_id").to_pylist(),
        track_ids=table.column("track_id").to_pylist(),
        video_ids=table.column("video_id").to_pylist(),
        starts=table.column("start").to_numpy().astype(np.int64),
        texts=table.column("text").to_pylist(),
        motion_kinds=table.column("motion_kind").to_pylist(),
        template_ids=table.column("template_id").to_numpy().astype(np.int64),
        tags=_read_tags(table, directory),
        tracks=_flat(table, "tracks", np.float32).reshape(s, t, n, 2),
        visible=_flat(table, "visible", np.bool_).reshape(s, t, n),
        text_emb=_flat(table, "text_emb", np.float32).reshape(s, d),
        image_emb=_flat(table, "image_emb", np.float32).reshape(s, t, d),
        image_emb_pooled=_flat(table, "image_emb_pooled", np.float32).reshape(s, d),
        sizes=np.stack([table.column("width").to_numpy(), table.column("height").to_numpy()],
                       axis=1).astype(np.int64),
        clip_model=_single_value(table, "clip_model", directory),
        clip_pretrained=_single_value(table, "clip_pretrained", directory))
    check_coordinates(out.tracks, where=str(directory), ids=out.sample_ids)
    for name in ("text_emb", "image_emb", "image_emb_pooled"):
        finite = np.isfinite(getattr(out, name).reshape(s, -1)).all(axis=1)
        if not finite.all():
            raise DataError(f"{directory}: sample {out.sample_ids[int(np.argmin(finite))]} has "
                            f"NaN or infinite {name}; re-run the embed stage")
    return out


def _read_tags(table: pa.Table, directory: str | Path) -> list[dict[str, str]]:
    """The tags column: one JSON object of string values per sample."""
    out = []
    for sample_id, text in zip(table.column("sample_id").to_pylist(),
                               table.column("tags").to_pylist(), strict=True):
        try:
            tags = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            tags = None
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise DataError(f"{directory}: sample {sample_id} has tags {text!r}, expected a JSON "
                            "object of strings")
        out.append(tags)
    return out


def _single_value(table: pa.Table, name: str, directory: str | Path) -> str:
    """The one value a split-wide column holds; mixed values mean mixed embedding spaces."""
    values = set(table.column(name).to_pylist())
    if len(values) != 1:
        raise DataError(f"{directory}: column {name} mixes {sorted(values)[:3]}: features from "
                        f"different CLIP models cannot be trained on together")
    return values.pop()

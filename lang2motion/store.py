"""Parquet tables exchanged between stages: their schemas, writing and checked reading.

- tracks (``data/tracks/<split>.parquet``, track stage): one row per (video, object set, window),
  shared by every expression that names the same objects.
- features (``data/features/<split>/part-NNNNN.parquet``, embed stage): one row per trajectory:
  its tracks and per-frame CLIP overlay embeddings once, its samples (expressions) as list
  columns. Row groups of ROWS_PER_GROUP rows are what the streamed training loader reads.

Arrays are flat row-major lists, their shapes (T, N, D) in the schema metadata, checked on read.
Legend: T frames, N points, D CLIP embedding size, K expressions of one trajectory.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lang2motion.errors import DataError
from lang2motion.io import atomic_path

log = logging.getLogger(__name__)

TRACKS_VERSION = "2"
FEATURES_VERSION = "3"   # 3: one row per trajectory, its expressions as lists
# Normalised coordinates ([-1, 1] spans the frame) beyond this are not a tracker's estimate of a
# point that left the frame but corrupt data: 4 units is 1.5 frame widths outside the frame.
COORD_LIMIT = 4.0


@dataclass
class FeatureTensors:
    """A feature split in memory: S samples (expressions), R trajectories (track rows). A
    trajectory's arrays are stored once (``row_*``); sample i's is row ``row[i]``, gathered on
    demand by the per-sample views. Coordinates are normalised to [-1, 1] (eq. 3)."""

    sample_ids: list[str]        # (S,)
    track_ids: list[str]         # (S,) the track row each sample uses
    video_ids: list[str]         # (S,)
    starts: np.ndarray           # (S,) int, first frame of each sample's window in its video
    texts: list[str]             # (S,)
    motion_kinds: list[str]      # (S,) "" when unknown (real data)
    template_ids: np.ndarray     # (S,) int, -1 when unknown
    tags: list[dict[str, str]]   # (S,) evaluation slices, e.g. {"phrasing": "seen"}; {} if none
    text_emb: np.ndarray         # (S, D) float32, unnormalised CLIP text embedding
    sizes: np.ndarray            # (S, 2) int, (width, height) of the source frames
    row: np.ndarray              # (S,) int, index of each sample's trajectory in the row_* arrays
    row_tracks: np.ndarray       # (R, T, N, 2) float32
    row_visible: np.ndarray      # (R, T, N) bool
    row_image_emb: np.ndarray    # (R, T, D) float32, per-frame CLIP overlay embedding
    row_image_emb_pooled: np.ndarray  # (R, D) float32, mean over T of row_image_emb
    clip_model: str = ""         # the CLIP that made the embeddings (one per split)
    clip_pretrained: str = ""

    @property
    def tracks(self) -> np.ndarray:  # (S, T, N, 2), a gathered copy
        return self.row_tracks[self.row]

    @property
    def visible(self) -> np.ndarray:  # (S, T, N)
        return self.row_visible[self.row]

    @property
    def image_emb(self) -> np.ndarray:  # (S, T, D)
        return self.row_image_emb[self.row]

    @property
    def image_emb_pooled(self) -> np.ndarray:  # (S, D)
        return self.row_image_emb_pooled[self.row]

    @property
    def grid(self) -> np.ndarray:  # (S, N, 2): the first frame of every track
        return self.row_tracks[self.row, 0]

    def __len__(self) -> int:
        return len(self.sample_ids)

    def subset(self, index: np.ndarray | list[int]) -> FeatureTensors:
        """The samples at ``index`` (their trajectories stay shared)."""
        idx = np.asarray(index, dtype=np.int64)

        def pick(seq: list) -> list:
            return [seq[i] for i in idx]

        return replace(self, sample_ids=pick(self.sample_ids), track_ids=pick(self.track_ids),
                       video_ids=pick(self.video_ids), starts=self.starts[idx],
                       texts=pick(self.texts), motion_kinds=pick(self.motion_kinds),
                       template_ids=self.template_ids[idx], tags=pick(self.tags),
                       text_emb=self.text_emb[idx], sizes=self.sizes[idx], row=self.row[idx])


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


TRACKS_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("video_id", pa.string()), ("anno_ids", pa.list_(pa.string())),
    ("start", pa.int32()), ("exp_ids", pa.list_(pa.string())), ("texts", pa.list_(pa.string())),
    ("tracks", pa.list_(pa.float32())), ("visible", pa.list_(pa.bool_())),
    ("grid", pa.list_(pa.float32())), ("width", pa.int32()), ("height", pa.int32()),
    ("tracker", pa.string()),
])


def tracks_path(tracks_dir: str | Path, split: str) -> Path:
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
    meta = {b"lang2motion": json.dumps({"table": "tracks", "version": TRACKS_VERSION,
                                        "frames": frames, "points": points}).encode()}
    table = pa.Table.from_pydict(columns, schema=TRACKS_SCHEMA.with_metadata(meta))
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _table_meta(path: Path, table: pa.Table, kind: str, version: str) -> dict:
    raw = (table.schema.metadata or {}).get(b"lang2motion")
    if raw is None:
        raise DataError(f"{path}: not a lang2motion {kind} table (no lang2motion metadata)")
    meta = json.loads(raw)
    if meta.get("table") != kind:
        raise DataError(f"{path}: expected a {kind} table, found {meta.get('table')!r}")
    if str(meta.get("version")) != version:
        raise DataError(f"{path}: {kind} table of schema version {meta.get('version')!r}, this "
                        f"code reads version {version}; re-run the pipeline (dvc repro)")
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
    """A tracks table written by :func:`write_tracks`, its schema, shapes and coordinates
    checked."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: tracks table not found (run the track stage first)")
    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({exc}); re-run the track "
                        "stage") from None
    meta = _table_meta(path, table, "tracks", TRACKS_VERSION)
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


SHARD_GLOB = "part-*.parquet"
# Trajectories per Parquet row group: the unit the streamed loader reads (about 4.5 MB at T=30,
# D=512), and trajectories per shard file.
ROWS_PER_GROUP = 64
ROWS_PER_SHARD = 1024


def shard_name(index: int) -> str:  # part-00000.parquet, part-00001.parquet...
    return f"part-{index:05d}.parquet"


@dataclass(frozen=True)
class FeatureRow:
    """One row of the features table: a trajectory (track row), its CLIP overlay embeddings, and
    every sample (expression) that uses it with its caption's embedding. K expressions."""

    track_id: str
    video_id: str
    start: int
    width: int
    height: int
    tracks: np.ndarray            # (T, N, 2) float32, normalised to [-1, 1]
    visible: np.ndarray           # (T, N) bool
    image_emb: np.ndarray         # (T, D) float32
    image_emb_pooled: np.ndarray  # (D,) float32
    exp_ids: tuple[str, ...]      # (K,)
    texts: tuple[str, ...]        # (K,)
    motion_kinds: tuple[str, ...]  # (K,) "" when unknown (real data)
    template_ids: tuple[int, ...]  # (K,) -1 when unknown
    tags: tuple[dict[str, str], ...]  # (K,) evaluation slices; {} when none
    text_emb: np.ndarray          # (K, D) float32
    clip_model: str
    clip_pretrained: str
    sample_ids: tuple[str, ...] = ()  # (K,) default: f"{track_id}/{exp_id}" (the embed stage's)

    def __post_init__(self) -> None:
        if not self.sample_ids:
            object.__setattr__(self, "sample_ids",
                               tuple(f"{self.track_id}/{exp_id}" for exp_id in self.exp_ids))


FEATURES_SCHEMA = pa.schema([
    ("track_id", pa.string()), ("video_id", pa.string()), ("start", pa.int32()),
    ("width", pa.int32()), ("height", pa.int32()),
    ("tracks", pa.list_(pa.float32())), ("visible", pa.list_(pa.bool_())),
    ("grid", pa.list_(pa.float32())), ("image_emb", pa.list_(pa.float32())),
    ("image_emb_pooled", pa.list_(pa.float32())),
    ("samples", pa.int32()),
    ("sample_ids", pa.list_(pa.string())), ("exp_ids", pa.list_(pa.string())),
    ("texts", pa.list_(pa.string())), ("motion_kinds", pa.list_(pa.string())),
    ("template_ids", pa.list_(pa.int32())), ("tags", pa.list_(pa.string())),
    ("text_emb", pa.list_(pa.float32())),
    ("clip_model", pa.string()), ("clip_pretrained", pa.string()),
])
# columns with one value per sample (lists of `samples` items); text_emb holds samples * D
SAMPLE_COLUMNS = ("sample_ids", "exp_ids", "texts", "motion_kinds", "template_ids", "tags")


def _list_column(arrays: list[np.ndarray], dtype: np.dtype) -> pa.Array:
    """Flat rows (any sizes) -> an Arrow list array, built from one contiguous buffer (fast)."""
    flat = [np.asarray(a, dtype=dtype).ravel() for a in arrays]
    values = np.concatenate(flat) if flat else np.empty(0, dtype=dtype)
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in flat])]).astype(np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets, type=pa.int32()), pa.array(values))


def feature_table(rows: list[FeatureRow], *, frames: int, points: int, dim: int) -> pa.Table:
    """The features table of ``rows``, checked: every row T=frames, N=points, D=dim, finite."""
    expected = {"tracks": (frames, points, 2), "visible": (frames, points),
                "image_emb": (frames, dim), "image_emb_pooled": (dim,)}
    for r in rows:
        k = len(r.exp_ids)
        shapes = {**expected, "text_emb": (k, dim)}
        for name, shape in shapes.items():
            if np.shape(getattr(r, name)) != shape:
                raise DataError(f"track row {r.track_id}: {name} has shape "
                                f"{np.shape(getattr(r, name))}, expected {shape}")
        if k == 0 or any(len(getattr(r, c)) != k for c in SAMPLE_COLUMNS if c != "sample_ids"):
            raise DataError(f"track row {r.track_id}: needs at least one expression and as many "
                            "texts, motion kinds, template ids and tags as expression ids")
        for name in ("tracks", "text_emb", "image_emb", "image_emb_pooled"):
            if not np.isfinite(getattr(r, name)).all():
                raise DataError(f"track row {r.track_id}: NaN or infinite {name}")
    columns: dict[str, pa.Array | list] = {
        name: [getattr(r, name) for r in rows]
        for name in ("track_id", "video_id", "start", "width", "height", "clip_model",
                     "clip_pretrained")}
    columns["samples"] = [len(r.exp_ids) for r in rows]
    columns["sample_ids"] = [list(r.sample_ids) for r in rows]
    for name in ("exp_ids", "texts", "motion_kinds", "template_ids"):
        columns[name] = [list(getattr(r, name)) for r in rows]
    columns["tags"] = [[json.dumps(t, sort_keys=True) for t in r.tags] for r in rows]
    columns["grid"] = _list_column([r.tracks[0] for r in rows], np.float32)
    columns["visible"] = _list_column([r.visible for r in rows], np.bool_)
    for name in ("tracks", "image_emb", "image_emb_pooled", "text_emb"):
        columns[name] = _list_column([getattr(r, name) for r in rows], np.float32)
    return pa.Table.from_arrays(
        [pa.array(columns[f.name], type=f.type) if isinstance(columns[f.name], list)
         else columns[f.name] for f in FEATURES_SCHEMA],
        schema=FEATURES_SCHEMA.with_metadata({b"lang2motion": json.dumps(
            {"table": "features", "version": FEATURES_VERSION, "frames": frames,
             "points": points, "dim": dim}).encode()}))


# Columns worth a dictionary: ids and captions repeat; embeddings and coordinates do not, and a
# dictionary of their values costs more than it saves (measured: +18% on the demo's features).
DICTIONARY_COLUMNS = ("track_id", "video_id", "sample_ids", "exp_ids", "texts", "motion_kinds",
                      "tags", "clip_model", "clip_pretrained")


def write_table_shard(path: str | Path, table: pa.Table) -> None:
    """Write one features shard atomically, ROWS_PER_GROUP trajectories per row group."""
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROWS_PER_GROUP,
                       use_dictionary=list(DICTIONARY_COLUMNS))


def write_feature_shards(out_dir: str | Path, table: pa.Table) -> list[Path]:
    """``table`` as ``out_dir/part-NNNNN.parquet`` shards of ROWS_PER_SHARD trajectories; shards
    of an earlier run that were not rewritten are removed. Returns the shards written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for index, offset in enumerate(range(0, max(table.num_rows, 1), ROWS_PER_SHARD)):
        path = out_dir / shard_name(index)
        write_table_shard(path, table.slice(offset, ROWS_PER_SHARD))
        written.append(path)
    remove_stale_shards(out_dir, written)
    return written


def remove_stale_shards(out_dir: Path, written: list[Path]) -> None:
    """Delete the shards of ``out_dir`` that an earlier run wrote and this one did not."""
    keep = {p.name for p in written}
    for stale in out_dir.glob(SHARD_GLOB):
        if stale.name not in keep:
            log.info("removing stale shard %s", stale)
            stale.unlink()


def _check_feature_table(path: Path, table: pa.Table) -> tuple[pa.Table, dict]:
    """A shard's table (or a row group of it) checked: metadata, columns, types, list sizes."""
    meta = _table_meta(path, table, "features", FEATURES_VERSION)
    try:
        frames, points, dim = int(meta["frames"]), int(meta["points"]), int(meta["dim"])
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{path}: features metadata lacks frames/points/dim: {meta}") from None
    missing = [n for n in FEATURES_SCHEMA.names if n not in table.schema.names]
    if missing:
        raise DataError(f"{path}: features shard lacks column(s) {missing}")
    table = table.select(FEATURES_SCHEMA.names)
    try:
        table = table.cast(FEATURES_SCHEMA.with_metadata(table.schema.metadata))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DataError(f"{path}: features shard has wrong column types: {exc}") from None
    track_ids = table.column("track_id")
    samples = table.column("samples").to_numpy(zero_copy_only=False)
    sizes = {"tracks": frames * points * 2, "visible": frames * points, "grid": points * 2,
             "image_emb": frames * dim, "image_emb_pooled": dim,
             **{name: samples for name in SAMPLE_COLUMNS}, "text_emb": samples * dim}
    for name, size in sizes.items():
        lengths = pc.list_value_length(table.column(name)).to_numpy(zero_copy_only=False)
        bad = np.flatnonzero(lengths != size)
        if len(bad):
            expect = size if np.isscalar(size) else size[bad[0]]
            raise DataError(f"{path}: track row {track_ids[int(bad[0])].as_py()} has {name} of "
                            f"{lengths[bad[0]]} values, expected {expect} (T={frames}, "
                            f"N={points}, D={dim}, {samples[bad[0]]} samples); the shard does "
                            "not match its metadata")
    return table, {"frames": frames, "points": points, "dim": dim}


def shard_paths(directory: str | Path) -> list[Path]:
    """The feature shards of a split folder, in order; DataError when there are none."""
    directory = Path(directory)
    paths = sorted(directory.glob(SHARD_GLOB))
    if not paths:
        raise DataError(f"{directory}: no feature shards ({SHARD_GLOB}); run the embed stage")
    return paths


def read_feature_table(directory: str | Path) -> tuple[pa.Table, dict]:
    """All shards of a features folder, checked and concatenated in file-name order, with their
    shape {frames, points, dim}."""
    directory = Path(directory)
    tables, first = [], None
    for path in shard_paths(directory):
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DataError(f"{path}: not a readable Parquet file: {exc}") from None
        table, meta = _check_feature_table(path, table)
        if first is None:
            first = (path, meta)
        elif meta != first[1]:
            raise DataError(f"{path}: shape {meta} differs from {first[0].name} {first[1]}")
        tables.append(table)
    table = pa.concat_tables(tables)
    _check_unique(table, directory)
    return table, first[1]


def _check_unique(table: pa.Table, directory: str | Path) -> None:
    for column, what in (("track_id", "track ids"), ("sample_ids", "sample ids")):
        values = table.column(column)
        counts = pc.value_counts(pc.list_flatten(values) if column == "sample_ids" else values)
        dupes = counts.field("values").filter(pc.greater(counts.field("counts"), 1)).to_pylist()
        if dupes:
            raise DataError(f"{directory}: duplicate {what} across shards, e.g. "
                            f"{sorted(dupes)[:5]}")


def _flat(column: pa.ChunkedArray | pa.Array, dtype: type) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    values = column.flatten()
    return np.ascontiguousarray(values.to_numpy(zero_copy_only=False), dtype=dtype)


def feature_tensors(table: pa.Table, meta: dict, *, where: str) -> FeatureTensors:
    """A checked features table (or a chunk of one) as FeatureTensors: trajectories stacked once,
    samples exploded in row order (the samples of row 0, then of row 1...); tracks and
    embeddings checked for NaN, infinite and absurd values."""
    r, t, n, d = table.num_rows, meta["frames"], meta["points"], meta["dim"]
    per_row = table.column("samples").to_numpy(zero_copy_only=False).astype(np.int64)
    row = np.repeat(np.arange(r), per_row)
    track_ids = table.column("track_id").to_pylist()
    sample_ids = _flat(table.column("sample_ids"), object).tolist()
    out = FeatureTensors(
        sample_ids=sample_ids,
        track_ids=[track_ids[i] for i in row],
        video_ids=np.asarray(table.column("video_id").to_pylist(), dtype=object)[row].tolist(),
        starts=table.column("start").to_numpy().astype(np.int64)[row],
        texts=_flat(table.column("texts"), object).tolist(),
        motion_kinds=_flat(table.column("motion_kinds"), object).tolist(),
        template_ids=_flat(table.column("template_ids"), np.int64),
        tags=_read_tags(sample_ids, _flat(table.column("tags"), object).tolist(), where),
        text_emb=_flat(table.column("text_emb"), np.float32).reshape(len(sample_ids), d),
        sizes=np.stack([table.column("width").to_numpy(), table.column("height").to_numpy()],
                       axis=1).astype(np.int64)[row],
        row=row,
        row_tracks=_flat(table.column("tracks"), np.float32).reshape(r, t, n, 2),
        row_visible=_flat(table.column("visible"), np.bool_).reshape(r, t, n),
        row_image_emb=_flat(table.column("image_emb"), np.float32).reshape(r, t, d),
        row_image_emb_pooled=_flat(table.column("image_emb_pooled"), np.float32).reshape(r, d),
        clip_model=_single_value(table, "clip_model", where),
        clip_pretrained=_single_value(table, "clip_pretrained", where))
    check_coordinates(out.row_tracks, where=where, ids=track_ids)
    checks = (("text_emb", out.text_emb, sample_ids, "sample"),
              ("image_emb", out.row_image_emb, track_ids, "track row"),
              ("image_emb_pooled", out.row_image_emb_pooled, track_ids, "track row"))
    for name, values, ids, what in checks:
        finite = np.isfinite(values.reshape(len(values), -1)).all(axis=1)
        if not finite.all():
            raise DataError(f"{where}: {what} {ids[int(np.argmin(finite))]} has NaN or infinite "
                            f"{name}; re-run the embed stage")
    return out


def load_feature_tensors(directory: str | Path) -> FeatureTensors:
    table, meta = read_feature_table(directory)
    return feature_tensors(table, meta, where=str(directory))


def _read_tags(sample_ids: list[str], texts: list[str], where: str) -> list[dict[str, str]]:
    out = []
    for sample_id, text in zip(sample_ids, texts, strict=True):
        try:
            tags = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            tags = None
        if not isinstance(tags, dict) or not all(isinstance(v, str) for v in tags.values()):
            raise DataError(f"{where}: sample {sample_id} has tags {text!r}, expected a JSON "
                            "object of strings")
        out.append(tags)
    return out


def _single_value(table: pa.Table, name: str, where: str) -> str:
    """The one value a split-wide column holds; mixed values mean mixed embedding spaces."""
    values = set(table.column(name).to_pylist())
    if len(values) != 1:
        raise DataError(f"{where}: column {name} mixes {sorted(values)[:3]}: features from "
                        f"different CLIP models cannot be trained on together")
    return values.pop()

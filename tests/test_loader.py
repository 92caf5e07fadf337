"""Training batches: the streamed loader against the in-memory one, its order and its memory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from lang2motion import store
from lang2motion.errors import DataError
from lang2motion.loader import InMemorySplit, StreamedSplit, open_split
from lang2motion.store import FeatureRow, feature_table, load_feature_tensors, write_feature_shards

T, N, D = 3, 4, 8
CPU = torch.device("cpu")


def write_split(directory: Path, rows: int, *, seed: int = 0) -> None:
    """``rows`` trajectories with 1 to 3 expressions each."""
    rng = np.random.default_rng(seed)
    out = []
    for r in range(rows):
        k = 1 + r % 3
        image = rng.normal(size=(T, D)).astype(np.float32)
        out.append(FeatureRow(
            track_id=f"v{r}/1/00000", video_id=f"v{r}", start=0, width=64, height=48,
            tracks=rng.uniform(-1, 1, (T, N, 2)).astype(np.float32),
            visible=np.ones((T, N), bool), image_emb=image, image_emb_pooled=image.mean(0),
            exp_ids=tuple(str(e) for e in range(k)), texts=tuple(f"t{r}.{e}" for e in range(k)),
            motion_kinds=("",) * k, template_ids=(-1,) * k, tags=({},) * k,
            text_emb=rng.normal(size=(k, D)).astype(np.float32), clip_model="test",
            clip_pretrained="none"))
    write_feature_shards(directory, feature_table(out, frames=T, points=N, dim=D))


@pytest.fixture()
def split_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(store, "ROWS_PER_GROUP", 8)       # 50 rows: 7 chunks
    monkeypatch.setattr(store, "ROWS_PER_SHARD", 32)      # in two files (4 + 3 chunks)
    write_split(tmp_path / "train", 50)
    return tmp_path / "train"


def test_chunks_follow_the_row_groups_of_every_shard(split_dir: Path) -> None:
    streamed = StreamedSplit(split_dir, device=CPU, use_overlay=True, window=2)
    assert len(list(split_dir.glob("part-*.parquet"))) == 2
    assert len(streamed.chunks) == 7
    assert streamed.samples == sum(1 + r % 3 for r in range(50)) == 99
    assert streamed.meta == {"frames": T, "points": N, "dim": D}
    assert (streamed.clip_model, streamed.clip_pretrained) == ("test", "none")


def test_every_sample_once_per_epoch_in_a_seeded_window_local_order(split_dir: Path) -> None:
    streamed = StreamedSplit(split_dir, device=CPU, use_overlay=True, window=2)
    order = streamed.order(seed=1, epoch=3)
    assert sorted(order.tolist()) == list(range(99))
    assert order.tolist() == streamed.order(seed=1, epoch=3).tolist()
    assert order.tolist() != streamed.order(seed=1, epoch=4).tolist()
    assert order.tolist() != streamed.order(seed=2, epoch=3).tolist()
    # consecutive windows of 2 chunks: each stretch of the order comes from its own 2 chunks
    owners = streamed.chunk_of(order.numpy())
    stretches = [set(owners[:1])]
    for owner in owners[1:]:
        if owner not in stretches[-1] and len(stretches[-1]) == 2:
            stretches.append(set())
        stretches[-1].add(owner)
    assert len(stretches) == 4 and all(len(s) <= 2 for s in stretches)


def test_streamed_batches_equal_the_in_memory_ones(split_dir: Path) -> None:
    memory = InMemorySplit(load_feature_tensors(split_dir), device=CPU, use_overlay=True)
    streamed = StreamedSplit(split_dir, device=CPU, use_overlay=True, window=2)
    assert streamed.samples == memory.samples
    assert streamed.signature()["sample_ids_sha256"] == memory.signature()["sample_ids_sha256"]
    for index in streamed.order(seed=0, epoch=0).split(10):
        a, b = streamed.batch(index), memory.batch(index)
        assert a.keys() == b.keys() == {"tracks", "text_emb", "image_emb_pooled", "overlay"}
        for key in a:
            assert torch.equal(a[key], b[key]), key
        assert len(streamed._cache) <= 2 * streamed.window     # memory stays bounded


def test_a_resumed_epoch_continues_with_the_same_batches_reading_only_what_it_needs(
        split_dir: Path) -> None:
    whole = StreamedSplit(split_dir, device=CPU, use_overlay=False, window=1)
    batches = [whole.batch(i) for i in whole.order(seed=5, epoch=2).split(7)]
    resumed = StreamedSplit(split_dir, device=CPU, use_overlay=False, window=1)
    skip = 9                                   # the interrupted run had taken 9 batches
    rest = resumed.order(seed=5, epoch=2).split(7)[skip:]
    for expected, index in zip(batches[skip:], rest, strict=True):
        got = resumed.batch(index)
        assert all(torch.equal(got[k], expected[k]) for k in expected)
    assert resumed.loads < whole.loads         # the chunks of the skipped batches never read


def test_open_split_streams_above_the_size_given(split_dir: Path) -> None:
    assert isinstance(open_split(split_dir, device=CPU, use_overlay=True, stream_above_mb=1e6,
                                 window=2), InMemorySplit)
    assert isinstance(open_split(split_dir, device=CPU, use_overlay=True, stream_above_mb=0,
                                 window=2), StreamedSplit)


def test_a_corrupt_shard_is_named(split_dir: Path) -> None:
    (split_dir / "part-00001.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"part-00001\.parquet: not a readable Parquet file"):
        StreamedSplit(split_dir, device=CPU, use_overlay=True, window=2)


def test_bench_storage_compares_both_layouts(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_storage

    rng = np.random.default_rng(0)
    frames, dim, k = 30, 128, 4                  # the overlay embeddings dominate, as in use
    rows = []
    for r in range(16):
        image = rng.normal(size=(frames, dim)).astype(np.float32)
        rows.append(FeatureRow(
            track_id=f"v{r}/1/00000", video_id=f"v{r}", start=0, width=64, height=48,
            tracks=rng.uniform(-1, 1, (frames, N, 2)).astype(np.float32),
            visible=np.ones((frames, N), bool), image_emb=image, image_emb_pooled=image.mean(0),
            exp_ids=tuple(map(str, range(k))), texts=tuple(f"t{r}.{e}" for e in range(k)),
            motion_kinds=("",) * k, template_ids=(-1,) * k, tags=({},) * k,
            text_emb=rng.normal(size=(k, dim)).astype(np.float32), clip_model="test",
            clip_pretrained="none"))
    write_feature_shards(tmp_path / "features" / "train",
                         feature_table(rows, frames=frames, points=N, dim=dim))
    bench_storage.main(["--features", str(tmp_path / "features"), "--out", str(tmp_path / "s")])
    result = json.loads((tmp_path / "s.json").read_text())["train"]
    assert result["trajectories"] == 16 and result["samples"] == 64
    # 4 expressions a trajectory: the per-sample layout holds 4 copies of the overlays (pyarrow's
    # default dictionary encoding wins some of it back on data this small: 2.3x here, 3.3x on
    # the demo's features, reports/bench_storage.md)
    assert result["ratio"] > 2.0

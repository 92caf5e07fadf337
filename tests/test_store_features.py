"""Features shards: round trip, checked reading, trajectories stored once, contiguous tensors."""

from dataclasses import replace

import numpy as np
import pyarrow.parquet as pq
import pytest
from support.features import FeatureSample, read_feature_shards, write_feature_shard

from lang2motion.errors import DataError
from lang2motion.store import FEATURES_SCHEMA, load_feature_tensors

T, N, D = 3, 2, 4


def _sample(i: int, *, dim: int = D) -> FeatureSample:
    rng = np.random.default_rng(i)
    image = rng.normal(size=(T, dim)).astype(np.float32)
    return FeatureSample(
        sample_id=f"v{i}/1/00000/{i}", video_id=f"v{i}", exp_id=str(i), text=f"caption {i}",
        track_id=f"v{i}/1/00000", motion_kind="left" if i % 2 else "", template_id=i - 1,
        tags={"phrasing": "seen"} if i % 2 else {},
        start=i, width=64 + i, height=48, tracks=rng.uniform(-1, 1, (T, N, 2)).astype(np.float32),
        visible=rng.random((T, N)) > 0.3, text_emb=rng.normal(size=dim).astype(np.float32),
        image_emb=image, image_emb_pooled=image.mean(axis=0), clip_model="L2M-Tiny",
        clip_pretrained="none")


def _write(path, samples, dim=D):
    write_feature_shard(path, samples, frames=T, points=N, dim=dim)


def test_shards_round_trip_to_dataframe_and_tensors(tmp_path):
    samples = [_sample(i) for i in range(5)]
    _write(tmp_path / "part-00000.parquet", samples[:3])
    _write(tmp_path / "part-00001.parquet", samples[3:])
    df = read_feature_shards(tmp_path)
    assert list(df.columns) == FEATURES_SCHEMA.names
    assert df.attrs["lang2motion"] == {"frames": T, "points": N, "dim": D}
    assert [i for ids in df["sample_ids"] for i in ids] == [s.sample_id for s in samples]
    np.testing.assert_array_equal(df["text_emb"][4], samples[4].text_emb)
    np.testing.assert_array_equal(df["grid"][1], samples[1].tracks[0].ravel())

    ft = load_feature_tensors(tmp_path)
    assert len(ft) == 5 and ft.texts[2] == "caption 2" and ft.track_ids[0] == "v0/1/00000"
    assert ft.motion_kinds == ["", "left", "", "left", ""]
    np.testing.assert_array_equal(ft.template_ids, [-1, 0, 1, 2, 3])
    assert ft.tracks.shape == (5, T, N, 2) and ft.tracks.flags.c_contiguous
    assert ft.visible.dtype == bool and ft.visible.shape == (5, T, N)
    assert ft.image_emb.shape == (5, T, D) and ft.text_emb.shape == (5, D)
    for i, s in enumerate(samples):
        np.testing.assert_array_equal(ft.tracks[i], s.tracks)
        np.testing.assert_array_equal(ft.visible[i], s.visible)
        np.testing.assert_array_equal(ft.image_emb[i], s.image_emb)
        np.testing.assert_array_equal(ft.image_emb_pooled[i], s.image_emb_pooled)
        assert tuple(ft.sizes[i]) == (s.width, s.height)
    np.testing.assert_array_equal(ft.grid, ft.tracks[:, 0])


def test_writing_a_sample_of_the_wrong_shape_names_it(tmp_path):
    bad = _sample(0, dim=D + 1)
    with pytest.raises(DataError, match=r"v0/1/00000: image_emb has shape \(3, 5\)"):
        _write(tmp_path / "part-00000.parquet", [bad])
    assert not list(tmp_path.iterdir())


def test_a_shard_with_the_wrong_dimension_is_named(tmp_path):
    _write(tmp_path / "part-00000.parquet", [_sample(0)])
    bad = tmp_path / "part-00001.parquet"
    _write(bad, [_sample(1, dim=D + 1)], dim=D + 1)
    table = pq.read_table(bad)
    # keep the shard's data, claim D in its metadata: the lists no longer fit
    table = table.replace_schema_metadata(pq.read_table(tmp_path / "part-00000.parquet")
                                          .schema.metadata)
    pq.write_table(table, bad)
    with pytest.raises(DataError,
                       match=r"part-00001\.parquet.*image_emb of 15 values, expected 12"):
        read_feature_shards(tmp_path)


def test_shards_that_disagree_on_shape_are_named(tmp_path):
    _write(tmp_path / "part-00000.parquet", [_sample(0)])
    _write(tmp_path / "part-00001.parquet", [_sample(1, dim=D + 1)], dim=D + 1)
    with pytest.raises(DataError, match=r"part-00001\.parquet.*differs from part-00000"):
        load_feature_tensors(tmp_path)


def test_a_shard_missing_a_column_is_named(tmp_path):
    path = tmp_path / "part-00000.parquet"
    _write(path, [_sample(0)])
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["image_emb"]), path)
    with pytest.raises(DataError, match=r"part-00000\.parquet.*image_emb"):
        read_feature_shards(tmp_path)


def test_duplicate_samples_and_empty_folders_are_errors(tmp_path):
    with pytest.raises(DataError, match="no feature shards"):
        read_feature_shards(tmp_path)
    _write(tmp_path / "part-00000.parquet", [_sample(0)])
    _write(tmp_path / "part-00001.parquet", [_sample(0)])
    with pytest.raises(DataError, match="duplicate track ids"):
        load_feature_tensors(tmp_path)


def _shared(i: int, exp: int) -> FeatureSample:
    """Expression ``exp`` of trajectory ``i``: the trajectory's arrays, its own caption."""
    base = _sample(i)
    rng = np.random.default_rng(100 + exp)
    return replace(base, sample_id=f"{base.track_id}/{exp}", exp_id=str(exp),
                   text=f"caption {i}.{exp}", text_emb=rng.normal(size=D).astype(np.float32))


def test_a_trajectory_is_stored_once_for_all_its_expressions(tmp_path):
    samples = [_shared(0, 0), _shared(0, 1), _shared(0, 2), _shared(1, 0)]
    _write(tmp_path / "part-00000.parquet", samples)
    df = read_feature_shards(tmp_path)
    assert len(df) == 2 and df["samples"].tolist() == [3, 1]
    ft = load_feature_tensors(tmp_path)
    assert len(ft.row_tracks) == 2 and ft.row.tolist() == [0, 0, 0, 1]
    assert ft.row_image_emb.shape == (2, T, D) and ft.image_emb.shape == (4, T, D)
    for i, s in enumerate(samples):
        assert ft.sample_ids[i] == s.sample_id and ft.texts[i] == s.text
        np.testing.assert_array_equal(ft.text_emb[i], s.text_emb)
        np.testing.assert_array_equal(ft.image_emb[i], s.image_emb)
        np.testing.assert_array_equal(ft.tracks[i], s.tracks)
    sub = ft.subset([3, 1])
    assert sub.sample_ids == [samples[3].sample_id, samples[1].sample_id]
    np.testing.assert_array_equal(sub.tracks[1], samples[1].tracks)


def test_samples_that_disagree_on_their_shared_trajectory_are_named(tmp_path):
    other = replace(_shared(0, 1), tracks=_sample(0).tracks + 0.5)
    with pytest.raises(DataError, match=r"v0/1/00000/0 and v0/1/00000/1 share track.*tracks"):
        _write(tmp_path / "part-00000.parquet", [_shared(0, 0), other])

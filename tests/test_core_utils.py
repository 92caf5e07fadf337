"""Shared utilities: atomic writes, coordinate normalisation, tracks table."""

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from lang2motion.errors import DataError
from lang2motion.geometry import denormalise, normalise
from lang2motion.io import atomic_path, write_json_atomic
from lang2motion.store import TrackRow, read_tracks, write_tracks

REPO = Path(__file__).resolve().parents[1]


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []
    write_json_atomic(target, {"a": 1})
    assert target.read_text().strip() == '{\n  "a": 1\n}'


def test_normalise_matches_eq3_and_round_trips():
    pts = np.array([[0.0, 0.0], [640.0, 480.0], [160.0, 360.0]], dtype=np.float32)
    norm = normalise(pts, 640, 480)
    np.testing.assert_allclose(norm, [[-1, -1], [1, 1], [-0.5, 0.5]], atol=1e-7)
    np.testing.assert_allclose(denormalise(norm, 640, 480), pts, atol=1e-4)


def _row(track_id="v/1/00000", tracks=None):
    tracks = np.linspace(-1, 1, 3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2) \
        if tracks is None else tracks
    return TrackRow(track_id=track_id, video_id="v", anno_ids=("1",), start=0, exp_ids=("0", "2"),
                    texts=("a", "b"), tracks=tracks, visible=np.ones((3, 4), bool), width=64,
                    height=48, tracker="lk")


def test_tracks_table_round_trip(tmp_path):
    path = tmp_path / "t.parquet"
    write_tracks(path, [_row()], frames=3, points=4)
    (back,) = read_tracks(path)
    np.testing.assert_array_equal(back.tracks, _row().tracks)
    assert back.exp_ids == ("0", "2") and back.width == 64


def test_tracks_table_refuses_nan_and_wrong_shapes(tmp_path):
    bad = _row(tracks=np.full((3, 4, 2), np.nan, np.float32))
    with pytest.raises(DataError, match="NaN"):
        write_tracks(tmp_path / "t.parquet", [bad], frames=3, points=4)
    with pytest.raises(DataError, match="T=5"):
        write_tracks(tmp_path / "t.parquet", [_row()], frames=5, points=4)
    assert not (tmp_path / "t.parquet").exists()
    pq.write_table(pq.read_table(_write_plain(tmp_path)), tmp_path / "plain.parquet")
    with pytest.raises(DataError, match="not a lang2motion tracks table"):
        read_tracks(tmp_path / "plain.parquet")


def _write_plain(tmp_path):
    import pyarrow as pa
    path = tmp_path / "src.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), path)
    return path


def test_atomic_write_gives_normal_permissions(tmp_path):
    import os
    import stat
    umask = os.umask(0o022)
    try:
        write_json_atomic(tmp_path / "m.json", {})
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "m.json").stat().st_mode) == 0o644


def test_training_precision_choice(monkeypatch):
    import torch

    from lang2motion import runtime
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert runtime.resolve_precision("fp32", cuda) == "fp32"
    assert runtime.resolve_precision("bf16", cpu) == "bf16"
    assert runtime.resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: False)
    assert runtime.resolve_precision("auto", cpu) == "fp32"      # emulated bf16 is slower
    monkeypatch.setattr(runtime, "cpu_has_bf16", lambda: True)
    assert runtime.resolve_precision("auto", cpu) == "bf16"
    with runtime.autocast(cpu, precision="bf16"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with runtime.autocast(cpu, precision="fp32"):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with runtime.autocast(cpu):                                   # inference paths: CUDA only
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32

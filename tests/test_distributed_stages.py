"""Sharded track and render: the same output whatever the number of processes or shards.

A tiny synthetic workspace (6 + 3 videos of 10 frames) is tracked and rendered once by one
process (the reference), then by 2 processes under torchrun (gloo, as DVC runs it with
dist.nproc=2; subprocesses, marked slow) and as a SLURM array (--shard i --num-shards n, then
--merge; in-process). Track rows must be identical (ids, order, tracks within 1e-6), the MP4s
the same files byte for byte and the contact sheet the same picture. Failures: a missing part,
a part made with other parameters, a corrupt video in rank 1's share.
"""

from __future__ import annotations

import os
import random
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from test_pipeline_e2e import _merge

from lang2motion.config import load_params
from lang2motion.data.samples import list_samples
from lang2motion.data.splits import resolve_split
from lang2motion.distributed import World
from lang2motion.entry import run_with_error_contract
from lang2motion.errors import ConfigError
from lang2motion.io import read_json
from lang2motion.sharding import Role, choose_role, contiguous_shares, parts_root
from lang2motion.stages.prepare import run_stage as prepare
from lang2motion.tracking.track_split import video_work

REPO = Path(__file__).resolve().parents[1]
SPLITS = ("train", "valid_u")
TINY = {
    "data": {"frames": 8, "window_stride": 4, "max_windows": 1,
             "synth": {"seed": 0, "train_videos": 6, "valid_videos": 3, "video_frames": 10,
                       "height": 96, "width": 128}},
    "grid": {"size": 3, "erode_iterations": 1},
    "overlay": {"size": 64},
}
TIMING = ("seconds", "shards", "slowest_seconds", "machine")   # differ run to run


# ---------------------------------------------------------------------------------------------
# The partition


@pytest.mark.parametrize(("weights", "parts", "expected"), [
    ([1, 1, 1, 1], 2, [(0, 2), (2, 4)]),
    ([1] * 10, 3, [(0, 3), (3, 7), (7, 10)]),       # cuts nearest 3.33 and 6.67
    ([10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 2, [(0, 1), (1, 11)]),   # a heavy first video alone
    ([3, 3, 3], 2, [(0, 1), (1, 3)]),                # 4.5 is as near 3 as 6: the earlier cut
    ([2, 8, 2, 8], 2, [(0, 2), (2, 4)]),             # 10 + 10
    ([5], 3, [(0, 0), (0, 1), (1, 1)]),              # more parts than items: empty blocks
    ([], 2, [(0, 0), (0, 0)]),
    ([0, 0, 0, 0], 2, [(0, 2), (2, 4)]),             # all zero: counted as equal
    ([4, 1, 2], 1, [(0, 3)]),
])
def test_contiguous_shares_golden(weights, parts, expected):
    assert contiguous_shares(weights, parts) == [range(a, b) for a, b in expected]


def test_contiguous_shares_cover_every_item_once_in_order_and_balance():
    rng = random.Random(0)
    for _ in range(200):
        weights = [rng.randint(0, 60) for _ in range(rng.randint(1, 40))]
        parts = rng.randint(1, 9)
        blocks = contiguous_shares(weights, parts)
        assert len(blocks) == parts
        assert [i for block in blocks for i in block] == list(range(len(weights)))
        total = sum(weights)
        if total:   # no block exceeds its equal share by more than the heaviest item
            for block in blocks:
                assert sum(weights[i] for i in block) <= total / parts + max(weights)


@pytest.mark.parametrize(("weights", "parts"), [([1, -1], 2), ([1, float("nan")], 2), ([1], 0)])
def test_contiguous_shares_refuses_nonsense(weights, parts):
    with pytest.raises(ValueError):
        contiguous_shares(weights, parts)


# ---------------------------------------------------------------------------------------------
# Who does what


@pytest.mark.parametrize(("options", "world", "expected"), [
    ({}, World(), Role()),
    ({"nproc": 3}, World(), Role(launch=3)),
    ({"nproc": 3}, World(rank=1, size=2), Role(count=2, index=1, merge=False,
                                                world=World(rank=1, size=2))),
    ({"shard": 2, "num_shards": 4}, World(), Role(count=4, index=2, merge=False)),
    ({"merge": True, "num_shards": 4, "nproc": 2}, World(), Role(count=4, index=None)),
])
def test_choose_role(options, world, expected):
    args = {"shard": None, "num_shards": None, "merge": False, "nproc": 1, **options}
    assert choose_role(**args, world=world) == expected


@pytest.mark.parametrize(("options", "world", "message"), [
    ({"shard": 1}, World(), "--shard i and --num-shards n go together"),
    ({"num_shards": 2}, World(), "--shard i and --num-shards n go together"),
    ({"shard": 2, "num_shards": 2}, World(), "--shard 2 is not a shard of --num-shards 2"),
    ({"merge": True}, World(), "--merge needs --num-shards"),
    ({"merge": True, "shard": 0, "num_shards": 2}, World(), "not --shard"),
    ({"num_shards": 0, "merge": True}, World(), "--num-shards must be >= 1"),
    ({"shard": 0, "num_shards": 2}, World(rank=0, size=2), "rank 0 of 2 under torchrun"),
])
def test_choose_role_refuses_nonsense(options, world, message):
    args = {"shard": None, "num_shards": None, "merge": False, "nproc": 1, **options}
    with pytest.raises(ConfigError, match=message):
        choose_role(**args, world=world)


# ---------------------------------------------------------------------------------------------
# The stages on a tiny workspace


def _write_params(path: Path, extra: dict | None = None) -> Path:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    _merge(params, TINY)
    _merge(params, extra or {})
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def _script(stage: str):
    return runpy.run_path(str(REPO / "pipeline" / f"{stage}.py"))["main"]


def _track_args(ws: Path, out: str, *, params: Path | None = None,
                raw: str = "data/raw") -> list[str]:
    return ["--params", str(params or ws / "params.yaml"), "--raw", str(ws / raw),
            "--out", str(ws / out), "--summary", str(ws / f"reports/{Path(out).name}.json")]


def _render_args(ws: Path, out: str, *, tracks: str = "data/tracks") -> list[str]:
    return ["--params", str(ws / "params.yaml"), "--raw", str(ws / "data/raw"),
            "--tracks", str(ws / tracks), "--out", str(ws / out),
            "--sheet", str(ws / f"reports/{Path(out).name}.png")]


def _in_process(stage: str, argv: list[str]) -> None:
    assert run_with_error_contract(stage, _script(stage), argv) == 0


def _subprocess(stage: str, argv: list[str], ws: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(REPO / "pipeline" / f"{stage}.py"), *argv],
                          cwd=ws, env=env, capture_output=True, text=True, timeout=300)


def _error_lines(stderr: str) -> list[str]:
    """Lines that start a message (progress bars aside)."""
    return [line for line in stderr.splitlines()
            if line.strip() and not line.startswith(("  ", "\r")) and "it/s]" not in line
            and "video/s]" not in line and "row/s]" not in line]


def reference_workspace(ws: Path) -> tuple[Path, list[str]]:
    """``ws`` with tiny prepared data, tracked and rendered by one process (the reference), and
    what data/ held then. conftest.py's session fixture ``shards_workspace`` builds it once for
    the tests here and in test_distributed_embed.py; each writes beside it, under its own names."""
    (ws / "reports").mkdir()
    params = _write_params(ws / "params.yaml")
    prepare(data=load_params(params, "data")["data"], out_dir=ws / "data/raw")
    _in_process("track", _track_args(ws, "data/tracks"))
    _in_process("render", _render_args(ws, "data/overlays"))
    return ws, sorted(p.name for p in (ws / "data").iterdir())


@pytest.fixture
def ws(shards_workspace) -> Path:
    return shards_workspace[0]


def _assert_same_tracks(ws: Path, other: str, reference: str = "data/tracks") -> None:
    for split in SPLITS:
        a = pq.read_table(ws / reference / f"{split}.parquet")
        b = pq.read_table(ws / other / f"{split}.parquet")
        assert a.schema == b.schema and a.schema.metadata == b.schema.metadata
        assert a.num_rows == b.num_rows > 0
        for column in a.column_names:
            if column in ("tracks", "grid"):
                np.testing.assert_allclose(np.stack(b[column].to_numpy(zero_copy_only=False)),
                                           np.stack(a[column].to_numpy(zero_copy_only=False)),
                                           rtol=0, atol=1e-6, err_msg=f"{split}.{column}")
            else:
                assert b[column].to_pylist() == a[column].to_pylist(), f"{split}.{column}"
    summaries = [read_json(ws / f"reports/{Path(name).name}.json", what="summary")
                 for name in (reference, other)]
    for summary in summaries:
        for key in TIMING:
            summary.pop(key, None)
        for split in summary["splits"].values():
            split.pop("seconds")
    assert summaries[0] == summaries[1]
    assert not parts_root(ws / other).exists()


def _assert_same_overlays(ws: Path, other: str, reference: str = "data/overlays") -> None:
    for split in SPLITS:
        ref = sorted((ws / reference / split).glob("*.mp4"))
        got = sorted((ws / other / split).glob("*.mp4"))
        assert ref and [p.name for p in got] == [p.name for p in ref]
        for a, b in zip(ref, got, strict=True):
            assert a.read_bytes() == b.read_bytes(), b
    sheets = [cv2.imread(str(ws / f"reports/{Path(name).name}.png"))
              for name in (reference, other)]
    assert sheets[0] is not None and np.array_equal(sheets[0], sheets[1])
    assert not parts_root(ws / other).exists()


def test_reference_run_leaves_no_parts(shards_workspace):
    ws, after_reference = shards_workspace
    assert after_reference == ["overlays", "raw", "tracks"]
    summary = read_json(ws / "reports/tracks.json", what="summary")
    assert [s["shard"] for s in summary["shards"]] == [0]
    assert summary["splits"]["train"]["videos"] == 6


def test_track_as_slurm_shards_then_merge_equals_one_process(ws):
    for i in range(3):
        _in_process("track", [*_track_args(ws, "data/tracks_s3"), "--shard", str(i),
                              "--num-shards", "3"])
    assert not (ws / "data/tracks_s3").exists()
    assert len(list(parts_root(ws / "data/tracks_s3").iterdir())) == 3
    _in_process("track", [*_track_args(ws, "data/tracks_s3"), "--merge", "--num-shards", "3"])
    _assert_same_tracks(ws, "data/tracks_s3")
    shares = [s["train"]["share"] for s in
              read_json(ws / "reports/tracks_s3.json", what="summary")["shards"]]
    assert shares == [[0, 2], [2, 4], [4, 6]]     # 6 videos of 8 frames each


def test_render_as_slurm_shards_then_merge_equals_one_process(ws):
    for i in range(2):
        _in_process("render", [*_render_args(ws, "data/overlays_s2"), "--shard", str(i),
                               "--num-shards", "2"])
    _in_process("render", [*_render_args(ws, "data/overlays_s2"), "--merge", "--num-shards", "2"])
    _assert_same_overlays(ws, "data/overlays_s2")


def test_merge_with_a_missing_part_fails_with_one_paragraph(ws, capsys):
    _in_process("track", [*_track_args(ws, "data/tracks_m"), "--shard", "0", "--num-shards", "2"])
    capsys.readouterr()
    status = run_with_error_contract("track", _script("track"),
                 [*_track_args(ws, "data/tracks_m"), "--merge", "--num-shards", "2"])
    err = capsys.readouterr().err
    assert status == 2
    (line,) = _error_lines(err)
    assert line.startswith("track: error: ") and "1 of 2 part(s) missing" in line
    assert "shard(s) 1" in line and "--shard i --num-shards 2" in line
    assert "Traceback" not in err and not (ws / "data/tracks_m").exists()
    assert (parts_root(ws / "data/tracks_m") / "shard-00000-of-00002").is_dir()  # kept


def test_merge_refuses_a_part_made_with_other_parameters(ws, capsys):
    other = _write_params(ws / "other.yaml", {"grid": {"erode_iterations": 0}})
    _in_process("track", [*_track_args(ws, "data/tracks_p"), "--shard", "0",
                          "--num-shards", "2"])
    _in_process("track", [*_track_args(ws, "data/tracks_p", params=other), "--shard", "1",
                          "--num-shards", "2"])
    capsys.readouterr()
    status = run_with_error_contract("track", _script("track"),
                 [*_track_args(ws, "data/tracks_p"), "--merge", "--num-shards", "2"])
    (line,) = _error_lines(capsys.readouterr().err)
    assert status == 2 and "shard 1 of 2 was made with other parameters" in line
    assert "--shard 1 --num-shards 2" in line and not (ws / "data/tracks_p").exists()


@pytest.mark.slow
def test_track_with_two_processes_equals_one(ws):
    params = _write_params(ws / "nproc2.yaml", {"dist": {"nproc": 2}})
    proc = _subprocess("track", _track_args(ws, "data/tracks_w2", params=params), ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "2 shards" in proc.stdout
    _assert_same_tracks(ws, "data/tracks_w2")


@pytest.mark.slow
def test_render_with_two_processes_equals_one(ws):
    argv = _render_args(ws, "data/overlays_w2")
    argv[1] = str(_write_params(ws / "nproc2.yaml", {"dist": {"nproc": 2}}))
    proc = _subprocess("render", argv, ws)
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_overlays(ws, "data/overlays_w2")


@pytest.mark.slow
def test_corrupt_video_in_rank_1s_share_stops_both_with_one_message(ws):
    shutil.copytree(ws / "data/raw", ws / "data/raw_bad")
    split = resolve_split(ws / "data/raw_bad", "train")
    data = load_params(ws / "params.yaml", "data")["data"]
    work = video_work(list_samples(split, frames=data.frames, window_stride=data.window_stride,
                                   max_windows=data.max_windows), data.frames)
    last = len(work) - 1
    assert last in contiguous_shares([f for _, f in work], 2)[1]    # rank 1's share only
    bad = ws / "data/raw_bad/train/JPEGImages" / work[last][0] / "00002.jpg"
    bad.write_bytes(b"not a jpeg")
    params = _write_params(ws / "nproc2.yaml", {"dist": {"nproc": 2}})
    proc = _subprocess("track", _track_args(ws, "data/tracks_bad", params=params,
                                            raw="data/raw_bad"), ws)
    assert proc.returncode == 2, proc.stderr[-3000:]
    (line,) = _error_lines(proc.stderr)
    assert line.startswith("track (rank 1 of 2): error: ") and "00002.jpg" in line, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (ws / "data/tracks_bad").exists()
    assert not parts_root(ws / "data/tracks_bad").exists()   # rank 0's part removed too

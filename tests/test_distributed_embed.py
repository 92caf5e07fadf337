"""Sharded embed: the same feature rows whatever the number of processes or shards.

On the tiny workspace of tests/test_distributed_stages.py (tracked once), the embed stage runs
as one process, as a SLURM array of 2 shards then --merge (in-process), and as 2 processes under
torchrun (gloo). Rows must be the same trajectories in the same order with the same samples,
embeddings within 1e-5 (a rank encodes only its own captions, so CLIP's batches differ).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from test_distributed_stages import _in_process, _subprocess

from lang2motion.io import read_json
from lang2motion.sharding import parts_root
from lang2motion.store import load_feature_tensors

SPLITS = ("train", "valid_u")


def _embed_args(ws: Path, out: str) -> list[str]:
    return ["--params", str(ws / "params_embed.yaml"), "--raw", str(ws / "data/raw"),
            "--tracks", str(ws / "data/tracks"), "--out", str(ws / out),
            "--summary", str(ws / f"reports/{Path(out).name}.json")]


@pytest.fixture(scope="module")
def embedded(shards_workspace):
    ws = shards_workspace[0]
    params = yaml.safe_load((ws / "params.yaml").read_text())
    params["clip"].update({"model": "L2M-Tiny", "batch_size": 16})
    (ws / "params_embed.yaml").write_text(yaml.safe_dump(params))
    _in_process("embed", _embed_args(ws, "data/features"))
    return ws


def _assert_same_features(ws: Path, other: str) -> None:
    for split in SPLITS:
        a = load_feature_tensors(ws / "data/features" / split)
        b = load_feature_tensors(ws / other / split)
        assert len(a) > 0 and a.sample_ids == b.sample_ids and a.track_ids == b.track_ids
        assert a.texts == b.texts and a.tags == b.tags and a.row.tolist() == b.row.tolist()
        np.testing.assert_array_equal(a.row_tracks, b.row_tracks)
        for name in ("text_emb", "row_image_emb", "row_image_emb_pooled"):
            np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=0, atol=1e-5,
                                       err_msg=f"{split}.{name}")
    assert not parts_root(ws / other).exists()
    merged = read_json(ws / f"reports/{Path(other).name}.json", what="summary")
    single = read_json(ws / "reports/features.json", what="summary")
    for split in SPLITS:
        for key in ("rows", "samples", "images", "unique_texts", "shards"):
            assert merged["splits"][split][key] == single["splits"][split][key], (split, key)


def test_embed_as_slurm_shards_then_merge_equals_one_process(embedded):
    for i in range(2):
        _in_process("embed", [*_embed_args(embedded, "data/features_s2"), "--shard", str(i),
                              "--num-shards", "2"])
    assert not (embedded / "data/features_s2").exists()
    _in_process("embed", [*_embed_args(embedded, "data/features_s2"), "--merge",
                          "--num-shards", "2"])
    _assert_same_features(embedded, "data/features_s2")


@pytest.mark.slow
def test_embed_with_two_processes_under_torchrun_equals_one(embedded):
    params = yaml.safe_load((embedded / "params_embed.yaml").read_text())
    params["dist"] = {"nproc": 2}
    (embedded / "params_embed.yaml").write_text(yaml.safe_dump(params))
    try:
        proc = _subprocess("embed", _embed_args(embedded, "data/features_w2"), embedded)
    finally:
        params["dist"] = {"nproc": 1}
        (embedded / "params_embed.yaml").write_text(yaml.safe_dump(params))
    assert proc.returncode == 0, proc.stderr[-3000:]
    _assert_same_features(embedded, "data/features_w2")

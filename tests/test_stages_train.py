"""pipeline/train.py end to end on tiny feature shards written with the store."""

from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import load_file
from support.features import FeatureSample, write_feature_shard

from lang2motion.errors import DataError
from lang2motion.store import shard_name

ROOT = Path(__file__).resolve().parents[1]
FRAMES, GRID, DIM = 4, 2, 16


def load_stage():
    spec = importlib.util.spec_from_file_location("train_stage", ROOT / "pipeline" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_split(directory: Path, samples: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = GRID * GRID
    rows = []
    for i in range(samples):
        if i % 2 == 0:     # samples 2k and 2k + 1 share one trajectory
            tracks = np.cumsum(rng.normal(0, 0.05, (FRAMES, points, 2)), axis=0).astype(np.float32)
            image = rng.normal(size=(FRAMES, DIM)).astype(np.float32)
        rows.append(FeatureSample(
            sample_id=f"v{i // 2}/t/00000/e{i}", video_id=f"v{i // 2}", exp_id=f"e{i}",
            text=f"text {i}", track_id=f"v{i // 2}/t/00000", motion_kind="", template_id=-1,
            tags={"phrasing": "seen" if i % 2 else "unseen"},
            start=0, width=64, height=48, tracks=tracks,
            visible=np.ones((FRAMES, points), bool),
            text_emb=rng.normal(size=DIM).astype(np.float32), image_emb=image,
            image_emb_pooled=image.mean(0), clip_model="test", clip_pretrained="none"))
    write_feature_shard(directory / shard_name(0), rows, frames=FRAMES, points=points, dim=DIM)


def write_params(path: Path, grid: int = GRID) -> None:
    path.write_text(yaml.safe_dump({
        "data": {"train_split": "train", "valid_split": "valid_u", "frames": FRAMES},
        "grid": {"size": grid},
        "model": {"latent": DIM, "layers": 1, "heads": 2, "ff": 32, "decoder_hidden": 32},
        "train": {"epochs": 2, "min_steps": 0, "batch_size": 4, "device": "cpu"},
    }))


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    write_split(tmp_path / "features" / "train", 8, seed=0)
    write_split(tmp_path / "features" / "valid_u", 4, seed=1)
    write_params(tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


ARGS = ["--params", "params.yaml", "--features", "features", "--out", "models",
        "--metrics", "reports/train_metrics.json"]


def test_stage_writes_model_metrics_and_dvclive(workdir: Path) -> None:
    load_stage().main(ARGS)
    metrics = json.loads((workdir / "reports" / "train_metrics.json").read_text())
    assert metrics["epoch"] == 2
    assert set(metrics) == {"epoch", "steps", "recon_ade", "text_ade", "r1", "chance_r1",
                            "n_trajectories", "train_r1", "train_chance_r1"}
    assert 0.0 <= metrics["train_r1"] <= 1.0 and 0.0 < metrics["train_chance_r1"] <= 1.0
    assert metrics["chance_r1"] == pytest.approx(0.5)  # 4 valid samples on 2 track rows
    meta = json.loads((workdir / "models" / "model.json").read_text())
    assert meta["model_config"]["points"] == GRID * GRID and meta["grid"]["size"] == GRID
    assert meta["data"]["valid_split"] == "valid_u"
    logged = json.loads((workdir / "dvclive" / "metrics.json").read_text())
    assert logged["valid"]["r1"] == pytest.approx(metrics["r1"])
    assert (workdir / "dvclive" / "plots" / "metrics" / "train" / "total.tsv").exists()


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_git_repo_without_commits_disables_dvclive(workdir: Path) -> None:
    subprocess.run(["git", "init", "-q"], check=True)
    with pytest.warns(UserWarning, match="dvclive logging disabled"):
        load_stage().main(ARGS)
    assert (workdir / "reports" / "train_metrics.json").exists()
    assert json.loads((workdir / "models" / "model.json").read_text())["git_rev"] == "unknown"


def test_grid_size_mismatch_is_a_clear_error(workdir: Path) -> None:
    write_params(workdir / "params.yaml", grid=3)
    with pytest.raises(DataError, match="tracks have 4 points but grid.size = 3"):
        load_stage().main(ARGS)


def _dvclive_history(folder: Path) -> dict[str, list[tuple[str, str]]]:
    """Every dvclive plot file's (step, value) rows; timestamps left out."""
    out = {}
    for tsv in sorted((folder / "plots" / "metrics").rglob("*.tsv")):
        header, *rows = tsv.read_text().splitlines()
        names = header.split("\t")
        step, value = names.index("step"), names.index(tsv.stem)
        out[str(tsv.relative_to(folder))] = [(r.split("\t")[step], r.split("\t")[value])
                                             for r in rows]
    return out


def test_killed_stage_resumes_with_the_whole_dvclive_history(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lang2motion.train as train_module

    (workdir / "params.yaml").write_text(yaml.safe_dump({
        **yaml.safe_load((workdir / "params.yaml").read_text()),
        "train": {"epochs": 3, "min_steps": 0, "batch_size": 4,
                  "device": "cpu"}}))
    load_stage().main([*ARGS[:-4], "--out", "reference", "--metrics", "ref.json",
                       "--live", "reference_live"])
    real_step, calls = train_module.train_step, []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:                            # in epoch 3 (2 steps per epoch)
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", killed)
    with pytest.raises(KeyboardInterrupt):
        load_stage().main(ARGS)
    monkeypatch.setattr(train_module, "train_step", real_step)
    load_stage().main(ARGS)                            # resumes after epoch 2
    reference = _dvclive_history(workdir / "reference_live")
    resumed = _dvclive_history(workdir / "dvclive")
    assert reference and resumed == reference
    assert [step for step, _ in resumed["plots/metrics/valid/r1.tsv"]] == ["0", "1", "2"]


def test_streamed_training_data_train_and_resume_like_in_memory(
        workdir: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    import lang2motion.train as train_module

    params = yaml.safe_load((workdir / "params.yaml").read_text())
    params["train"].update({"epochs": 3, "stream_above_mb": 0, "stream_window": 1})
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    with caplog.at_level(logging.INFO, logger="lang2motion"):
        load_stage().main([*ARGS[:-4], "--out", "reference", "--metrics", "ref.json",
                           "--live", "reference_live"])
    assert "streaming in chunks" in caplog.text and "streamed training data" in caplog.text
    real_step, calls = train_module.train_step, []

    def killed(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:                            # in epoch 3
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", killed)
    with pytest.raises(KeyboardInterrupt):
        load_stage().main(ARGS)
    monkeypatch.setattr(train_module, "train_step", real_step)
    load_stage().main(ARGS)
    reference = load_file(str(workdir / "reference" / "model.safetensors"))
    resumed = load_file(str(workdir / "models" / "model.safetensors"))
    assert all(np.array_equal(reference[k], v) for k, v in resumed.items())

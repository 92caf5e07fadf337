"""The training loop: outputs, logging, deterministic resumption after an interruption."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

import lang2motion.train as train_module
from lang2motion.config import LossConfig, ModelParams, TrainConfig
from lang2motion.errors import DataError
from lang2motion.loader import InMemorySplit, epoch_order
from lang2motion.model import load_model
from lang2motion.store import FeatureTensors

FRAMES, POINTS, DIM = 5, 4, 16
PARAMS = ModelParams(latent=DIM, layers=1, heads=2, ff=32, dropout=0.2, decoder_hidden=32)
# the paper's recipe (constant rate, teacher forcing): epochs may grow between a run and its
# resumption; SCHEDULED below covers the demo's schedule
TRAIN = TrainConfig(epochs=3, min_steps=0, batch_size=4, lr=1e-3, weight_decay=0.01, seed=3,
                    device="cpu", checkpoint_every=1, schedule="constant", warmup_epochs=0.0,
                    grad_clip=0.0, sampling=0.0)


def features(samples: int, *, tracks_per: int = 2, seed: int = 0) -> FeatureTensors:
    """Random-walk tracks; every ``tracks_per`` consecutive samples share one track row."""
    rng = np.random.default_rng(seed)
    rows = -(-samples // tracks_per)
    row_tracks = np.cumsum(rng.normal(0, 0.05, (rows, FRAMES, POINTS, 2)), axis=1)
    row_tracks += rng.uniform(-0.5, 0.5, (rows, 1, POINTS, 2))
    owner = np.arange(samples) // tracks_per
    image_emb = rng.normal(size=(rows, FRAMES, DIM)).astype(np.float32)
    return FeatureTensors(
        sample_ids=[f"s{i}" for i in range(samples)],
        track_ids=[f"t{o}" for o in owner], texts=[f"text {i}" for i in range(samples)],
        motion_kinds=[""] * samples, template_ids=np.full(samples, -1),
        tags=[{}] * samples, video_ids=["v"] * samples, starts=np.zeros(samples, int),
        text_emb=rng.normal(size=(samples, DIM)).astype(np.float32),
        sizes=np.tile([256, 192], (samples, 1)), row=owner,
        row_tracks=row_tracks.astype(np.float32), row_visible=np.ones((rows, FRAMES, POINTS), bool),
        row_image_emb=image_emb, row_image_emb_pooled=image_emb.mean(1))


def in_memory(data: FeatureTensors) -> InMemorySplit:
    return InMemorySplit(data, device=torch.device("cpu"), use_overlay=PARAMS.use_overlay)


class FakeLive:
    """dvclive.Live's logging calls; steps start at 0 as in a fresh Live."""

    def __init__(self) -> None:
        self.step = 0
        self.logged: list[tuple[int, str, float]] = []

    def log_metric(self, name: str, value: float) -> None:
        self.logged.append((self.step, name, value))

    def next_step(self) -> None:
        self.step += 1


def run(out: Path, train_cfg: TrainConfig = TRAIN, live: FakeLive | None = None,
        loss: LossConfig | None = None) -> dict:
    return train_module.train(train_split=in_memory(features(10)), valid_data=features(6, seed=1),
                              model_params=PARAMS, loss=loss or LossConfig(),
                              train_cfg=train_cfg, out_dir=out, live=live,
                              extra_meta={"note": "test"})


def weights(out: Path) -> dict[str, np.ndarray]:
    return load_file(str(out / "model.safetensors"))


def test_outputs_metadata_and_logs(tmp_path: Path) -> None:
    live = FakeLive()
    result = run(tmp_path, TRAIN, live)
    assert result["epoch"] == 3
    assert set(result["valid"]) >= {"recon_ade", "text_ade", "r1", "chance_r1", "loss_total"}
    assert result["valid"]["chance_r1"] == pytest.approx(1 / 3)  # 6 samples, 3 unique tracks
    assert set(result["train"]) >= {"recon", "vel", "range", "text", "image", "text_recon",
                                    "total"}
    model, meta = load_model(tmp_path)
    assert (model.cfg.points, model.cfg.latent) == (POINTS, DIM)
    assert meta["epoch"] == 3 and meta["note"] == "test" and meta["git_rev"]
    assert meta["metrics"] == json.loads(json.dumps(result))
    assert meta["params"]["train"]["seed"] == 3
    assert meta["params"]["loss"]["text_recon"] == LossConfig().text_recon
    assert sorted(p.name for p in (tmp_path / "last").iterdir()) == [
        "state-00003.safetensors", "state.json"]
    steps = sorted({s for s, name, _ in live.logged if name == "valid/r1"})
    assert steps == [0, 1, 2]
    names = {name for _, name, _ in live.logged}
    assert {"train/recon", "train/total", "valid/recon_ade", "valid/text_ade",
            "valid/chance_r1"} <= names


def test_interrupted_run_resumes_to_the_same_weights(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    reference = tmp_path / "reference"
    run(reference)                                   # 3 epochs, uninterrupted

    resumed = tmp_path / "resumed"
    run(resumed, TrainConfig(**{**TRAIN.__dict__, "epochs": 1}))  # stop after epoch 1
    real_step, calls = train_module.train_step, []

    def dying_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:                          # mid epoch 3 (3 steps per epoch)
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run(resumed)                                 # resumes at epoch 1, killed in epoch 3
    assert json.loads((resumed / "last" / "state.json").read_text())["epoch"] == 2
    monkeypatch.setattr(train_module, "train_step", real_step)
    with caplog.at_level(logging.WARNING, logger="lang2motion.train"):
        result = run(resumed)
    assert "resuming after epoch 2 of 3" in caplog.text
    assert result["epoch"] == 3
    ref, got = weights(reference), weights(resumed)
    assert ref.keys() == got.keys()
    assert all(np.array_equal(ref[k], got[k]) for k in ref)


SCHEDULED = TrainConfig(**{**TRAIN.__dict__, "schedule": "cosine", "warmup_epochs": 1.0,
                              "min_lr_ratio": 0.1, "grad_clip": 0.5, "sampling": 0.8,
                              "sampling_start": 0.2, "sampling_end": 0.7})


def _history(live: FakeLive) -> list[tuple[int, str, float]]:
    """Every logged value (none of them a wall-clock rate)."""
    assert not any("samples_per_s" in entry[1] for entry in live.logged)   # no DVC metric
    return list(live.logged)


def test_resumed_run_with_schedule_and_sampling_is_bit_identical_with_the_same_history(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reference_live = FakeLive()
    run(tmp_path / "reference", SCHEDULED, reference_live)
    real_step, calls = train_module.train_step, []

    def dying_step(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:                          # epoch 3's first step (3 per epoch)
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_step", dying_step)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed", SCHEDULED, FakeLive())
    monkeypatch.setattr(train_module, "train_step", real_step)
    resumed_live = FakeLive()                        # a fresh dvclive log, as after a kill
    run(tmp_path / "resumed", SCHEDULED, resumed_live)
    ref, got = weights(tmp_path / "reference"), weights(tmp_path / "resumed")
    assert all(np.array_equal(ref[k], got[k]) for k in ref)
    assert _history(resumed_live) == _history(reference_live)   # every epoch, same values
    assert {s for s, _, _ in resumed_live.logged} == {0, 1, 2}


def test_schedule_reaches_the_logs_and_changing_epochs_starts_fresh(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    live = FakeLive()
    run(tmp_path, SCHEDULED, live)
    lrs = [v for _, name, v in live.logged if name == "train/lr"]
    # 3 epochs x 3 steps, 3 warm-up steps, cosine to 0.1 * lr: the last step is at the floor
    assert lrs[-1] == pytest.approx(0.1 * SCHEDULED.lr)
    shares = [v for _, name, v in live.logged if name == "train/sampling"]
    assert shares[-1] == pytest.approx(0.8)
    with caplog.at_level(logging.WARNING, logger="lang2motion.train"):
        run(tmp_path, TrainConfig(**{**SCHEDULED.__dict__, "epochs": 4}))
    assert "starting fresh" in caplog.text       # the schedule depends on the number of epochs


def test_changed_params_start_fresh(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    short = TrainConfig(**{**TRAIN.__dict__, "epochs": 1})
    run(tmp_path, short)
    first = weights(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lang2motion.train"):
        run(tmp_path, short, loss=LossConfig(vel=0.5))
    assert "starting fresh" in caplog.text and "loss" in caplog.text
    fresh = tmp_path / "fresh"
    run(fresh, short, loss=LossConfig(vel=0.5))
    assert all(np.array_equal(weights(fresh)[k], v) for k, v in weights(tmp_path).items())
    assert any(not np.array_equal(first[k], v) for k, v in weights(tmp_path).items())


def test_bad_data_is_a_clear_error(tmp_path: Path) -> None:
    bad = features(6)
    bad.row_tracks[1, 1, 0, 0] = np.nan
    with pytest.raises(DataError, match="tracks of track row t1"):
        train_module.train(train_split=in_memory(bad), valid_data=features(4), model_params=PARAMS,
                           loss=LossConfig(), train_cfg=TRAIN, out_dir=tmp_path, live=None,
                           extra_meta={})


def test_epoch_order_is_a_function_of_seed_and_epoch() -> None:
    a = epoch_order(50, seed=1, epoch=4)
    assert a.tolist() == epoch_order(50, seed=1, epoch=4).tolist()
    assert sorted(a.tolist()) == list(range(50))
    assert a.tolist() != epoch_order(50, seed=1, epoch=5).tolist()
    assert a.tolist() != epoch_order(50, seed=2, epoch=4).tolist()


def test_finished_run_is_trained_again_from_scratch(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # DVC re-runs `train` only when an input changed (or when forced): never reuse a finished run
    two = TrainConfig(**{**TRAIN.__dict__, "epochs": 2})
    first = run(tmp_path, two)
    before = weights(tmp_path)
    with caplog.at_level(logging.WARNING, logger="lang2motion.train"):
        again = run(tmp_path, two)
    assert "already finished (2 epochs trained, 2 asked for)" in caplog.text
    def drop_timing(result: dict) -> dict:
        return {k: v for k, v in result.items() if k != "speed"}

    assert drop_timing(again) == drop_timing(first)  # deterministic on CPU: same run again
    assert all(np.array_equal(before[k], v) for k, v in weights(tmp_path).items())
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lang2motion.train"):
        result = run(tmp_path, TrainConfig(**{**TRAIN.__dict__, "epochs": 1}))
    assert "2 epochs trained, 1 asked for" in caplog.text and result["epoch"] == 1
    assert any(not np.array_equal(before[k], v) for k, v in weights(tmp_path).items())


def test_changed_training_code_does_not_resume(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    run(tmp_path, TrainConfig(**{**TRAIN.__dict__, "epochs": 1}))
    monkeypatch.setattr(train_module, "code_signature", lambda: "edited")
    with caplog.at_level(logging.WARNING, logger="lang2motion.train"):
        run(tmp_path, TrainConfig(**{**TRAIN.__dict__, "epochs": 2}))
    assert "code" in caplog.text and "starting fresh" in caplog.text
    assert "resuming after" not in caplog.text


def test_min_steps_raises_the_epochs_of_a_small_data_set(tmp_path: Path) -> None:
    """10 samples at batch 4: 3 steps per epoch; 1 epoch and min_steps 7 -> 3 epochs, 9 steps."""
    result = run(tmp_path, TrainConfig(**{**TRAIN.__dict__, "epochs": 1, "min_steps": 7}))
    assert result["epoch"] == 3 and result["steps"] == 9
    _, meta = load_model(tmp_path)
    assert meta["steps"] == 9 and meta["params"]["train"]["epochs"] == 1
    assert meta["machine"]["torch_threads"] >= 1 and meta["machine"]["cpu"]

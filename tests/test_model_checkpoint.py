"""Checkpoints rebuild the model from the JSON alone and refuse mismatched callers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lang2motion.config import ModelParams
from lang2motion.errors import DataError
from lang2motion.model import Lang2Motion, ModelConfig, load_model, save_model
from lang2motion.model.checkpoint import load_train_state, save_train_state

CFG = ModelConfig(points=9, frames=5, latent=16, clip_dim=16, layers=1, heads=2, ff=32,
                  dropout=0.0, decoder="autoregressive", decoder_hidden=32)


def saved(tmp_path: Path, cfg: ModelConfig = CFG) -> torch.nn.Module:
    torch.manual_seed(1)
    model = Lang2Motion(cfg)
    for p in model.parameters():  # also move the zero-initialised head
        torch.nn.init.normal_(p, std=0.1)
    save_model(tmp_path, model, {"epoch": 3, "metrics": {"r1": 0.5}})
    return model


@pytest.mark.parametrize("decoder", ["autoregressive", "direct", "transformer"])
def test_load_model_rebuilds_an_identical_model(tmp_path: Path, decoder: str) -> None:
    cfg = ModelConfig(**{**CFG.to_dict(), "decoder": decoder})
    model = saved(tmp_path, cfg).eval()
    loaded, meta = load_model(tmp_path)
    assert loaded.cfg == cfg and not loaded.training
    assert meta["epoch"] == 3 and meta["metrics"] == {"r1": 0.5}
    assert meta["model_config"] == cfg.to_dict()
    ref, got = model.state_dict(), loaded.state_dict()
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)
    tracks, overlay = torch.rand(2, 5, 9, 2), torch.randn(2, 5, 16)
    assert torch.equal(model.encode(tracks, overlay), loaded.encode(tracks, overlay))
    assert torch.equal(model.generate(overlay[:, 0], tracks[:, 0]),
                       loaded.generate(overlay[:, 0], tracks[:, 0]))


def test_a_checkpoint_from_before_latent_scale_keeps_radius_one(tmp_path: Path) -> None:
    saved(tmp_path)
    meta_path = tmp_path / "model.json"
    meta = json.loads(meta_path.read_text())
    del meta["model_config"]["latent_scale"]         # as written before the field existed
    meta_path.write_text(json.dumps(meta))
    loaded, _ = load_model(tmp_path)
    assert loaded.cfg.latent_scale == 1.0 and CFG.latent_scale == ModelParams().latent_scale != 1.0


def test_missing_or_torn_checkpoints(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no model checkpoint"):
        load_model(tmp_path)
    saved(tmp_path)
    meta = json.loads((tmp_path / "model.json").read_text())
    meta["save_id"] = "another save"
    (tmp_path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match="different saves"):
        load_model(tmp_path)


def test_train_state_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Lang2Motion(CFG)
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.rand(2, 5, 9, 2), torch.randn(2, 5, 16))[1].sum().backward()
    optim.step()
    rng = {"torch": torch.get_rng_state()}
    save_train_state(tmp_path, model=model, optimizer=optim, epoch=2, rng=rng,
                     meta={"signature": {"a": 1}})
    save_train_state(tmp_path, model=model, optimizer=optim, epoch=3, rng=rng,
                     meta={"signature": {"a": 1}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state-00003.safetensors",
                                                         "state.json"]
    fresh = Lang2Motion(CFG)
    fresh_optim = torch.optim.AdamW(fresh.parameters(), lr=1e-3)
    meta, rng_back = load_train_state(tmp_path, model=fresh, optimizer=fresh_optim)
    assert meta["epoch"] == 3 and meta["signature"] == {"a": 1}
    assert torch.equal(rng_back["torch"], rng["torch"])
    for a, b in zip(model.parameters(), fresh.parameters(), strict=True):
        assert torch.equal(a, b)
    ref, got = optim.state_dict(), fresh_optim.state_dict()
    assert ref["param_groups"] == got["param_groups"]
    for index, slots in ref["state"].items():
        for name, value in slots.items():
            assert torch.equal(torch.as_tensor(value), torch.as_tensor(got["state"][index][name]))

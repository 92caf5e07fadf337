"""Shapes and invariants of the encoder and the three decoders (CPU, tiny widths)."""

from __future__ import annotations

import pytest
import torch

from lang2motion.config import DECODERS, ModelParams
from lang2motion.errors import ConfigError
from lang2motion.model import Lang2Motion, ModelConfig

LATENT = 16


def tiny(points: int, frames: int, decoder: str = "autoregressive", *,
         use_overlay: bool = True) -> ModelConfig:
    return ModelConfig(points=points, frames=frames, latent=LATENT, clip_dim=LATENT, layers=1,
                       heads=2, ff=32, dropout=0.0, decoder=decoder, decoder_hidden=32,
                       use_overlay=use_overlay)


def random_tracks(batch: int, frames: int, points: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, frames, points, 2, generator=generator) * 2 - 1


@pytest.mark.parametrize("points", [16, 36])
@pytest.mark.parametrize("frames", [4, 30])
@pytest.mark.parametrize("decoder", DECODERS)
def test_encoder_and_decoder_shapes(points: int, frames: int, decoder: str) -> None:
    torch.manual_seed(0)
    model = Lang2Motion(tiny(points, frames, decoder)).eval()
    tracks = random_tracks(3, frames, points)
    overlay = torch.randn(3, frames, LATENT)
    z = model.encode(tracks, overlay)
    assert z.shape == (3, LATENT)
    for teacher in (tracks, None):
        out = model.decode(z, tracks[:, 0], teacher=teacher)
        assert out.shape == (3, frames, points, 2)
        assert torch.equal(out[:, 0], tracks[:, 0])  # frame 0 is p_0 exactly
    generated = model.generate(torch.randn(3, LATENT), tracks[:, 0])
    assert generated.shape == (3, frames, points, 2)
    assert torch.equal(generated[:, 0], tracks[:, 0])


@pytest.mark.parametrize("decoder", DECODERS)
def test_untrained_decoder_predicts_a_static_grid(decoder: str) -> None:
    # the last layer starts at zero: training begins from the "nothing moves" baseline
    model = Lang2Motion(tiny(4, 5, decoder)).eval()
    grid = random_tracks(2, 1, 4)[:, 0]
    out = model.generate(torch.randn(2, LATENT), grid)
    assert torch.equal(out, grid[:, None].expand(2, 5, 4, 2))


def test_paper_decoder_layer_sizes() -> None:
    model = Lang2Motion(ModelConfig(points=36, frames=30))
    linears = [m for m in model.decoder.mlp if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (584, 1024), (1024, 1024), (1024, 72)]
    assert len(model.encoder.transformer.layers) == 4
    assert model.encoder.pos.shape == (1, 31, 512)


def test_overlay_is_added_only_when_enabled() -> None:
    torch.manual_seed(0)
    tracks = random_tracks(2, 6, 4)
    overlay = torch.randn(2, 6, LATENT)
    with_overlay = Lang2Motion(tiny(4, 6)).eval()
    z1, z2 = with_overlay.encode(tracks, overlay), with_overlay.encode(tracks, overlay * 2)
    assert not torch.allclose(z1, z2)
    with pytest.raises(ValueError, match="overlay"):
        with_overlay.encode(tracks, None)
    plain = Lang2Motion(tiny(4, 6, use_overlay=False)).eval()
    assert plain.encoder.overlay_proj is None
    assert torch.equal(plain.encode(tracks, overlay), plain.encode(tracks, None))


def test_decode_uses_the_latent_direction_only() -> None:
    torch.manual_seed(0)
    model = Lang2Motion(tiny(4, 6)).eval()
    for module in model.decoder.mlp:  # move away from the zero-initialised head
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    latent, grid = torch.randn(2, LATENT), random_tracks(2, 1, 4)[:, 0]
    out = model.decode(latent, grid)
    assert torch.allclose(out, model.decode(latent * 7.5, grid), atol=1e-6)
    assert not torch.allclose(out, model.decode(-latent, grid), atol=1e-3)


def test_latent_scale_is_the_radius_the_decoder_reads() -> None:
    from lang2motion.model.autoencoder import unit_latent
    latent = torch.tensor([[3.0, 4.0] + [0.0] * (LATENT - 2)])
    assert torch.allclose(unit_latent(latent, 4.0)[0, :2], torch.tensor([2.4, 3.2]))
    model = Lang2Motion(ModelConfig(**{**tiny(4, 6).to_dict(), "latent_scale": 2.5})).eval()
    seen = []
    model.decoder.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    model.decode(latent * 7.0, torch.zeros(1, 4, 2))
    assert torch.allclose(seen[0].norm(dim=-1), torch.tensor([2.5]))


def test_teacher_forcing_equals_free_running_on_its_own_output() -> None:
    """Feed the free-running output back as the ground truth: teacher forcing must then
    reproduce it, step for step (eq. 2 with p*_{t-1} = p_{t-1} = p^_{t-1})."""
    torch.manual_seed(0)
    model = Lang2Motion(tiny(9, 7)).eval()
    for module in model.decoder.mlp:
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.2)
    latent, grid = torch.randn(3, LATENT), random_tracks(3, 1, 9)[:, 0]
    with torch.no_grad():
        free = model.decode(latent, grid, teacher=None)
        forced = model.decode(latent, grid, teacher=free)
        assert (free[:, 1:] - grid[:, None]).abs().amax() > 0.1  # it really moves
        assert torch.allclose(forced, free, atol=1e-5)
        # a teacher that differs from the model's own outputs gives a different result
        shifted = model.decode(latent, grid, teacher=free + 0.3)
        assert not torch.allclose(shifted[:, 2:], free[:, 2:], atol=1e-3)


def test_teacher_forcing_is_one_batched_call() -> None:
    model = Lang2Motion(tiny(4, 8)).eval()
    calls = []
    hidden = model.decoder.mlp[2]          # the second layer: on both decoding paths
    hidden.register_forward_hook(lambda *args: calls.append(tuple(args[1][0].shape)))
    tracks = random_tracks(2, 8, 4)
    model.decode(torch.randn(2, LATENT), tracks[:, 0], teacher=tracks)
    assert calls == [(2, 7, hidden.in_features)]           # all 7 steps in one call
    calls.clear()
    model.decode(torch.randn(2, LATENT), tracks[:, 0])
    assert calls == [(2, hidden.in_features)] * 7           # one call per step


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"model.latent \(256\) must equal the CLIP embedding "
                                          r"size \(512\)"):
        ModelConfig.from_params(ModelParams(latent=256), points=36, frames=30, clip_dim=512)
    with pytest.raises(ConfigError, match="decoder"):
        ModelConfig(points=4, frames=5, decoder="lstm")
    with pytest.raises(ConfigError, match="divisible"):
        ModelConfig(points=4, frames=5, latent=30, clip_dim=30, heads=4)
    cfg = ModelConfig.from_params(ModelParams(decoder="direct"), points=16, frames=20,
                                  clip_dim=512)
    assert (cfg.points, cfg.frames, cfg.decoder, cfg.latent) == (16, 20, "direct", 512)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown"):
        ModelConfig.from_dict({**cfg.to_dict(), "colour": "red"})


def test_bad_shapes_are_clear_errors() -> None:
    model = Lang2Motion(tiny(4, 6))
    with pytest.raises(ValueError, match=r"\(B, T, 4, 2\)"):
        model.encode(random_tracks(2, 6, 5), torch.randn(2, 6, LATENT))
    with pytest.raises(ValueError, match="grid"):
        model.decode(torch.randn(2, LATENT), torch.zeros(2, 5, 2))

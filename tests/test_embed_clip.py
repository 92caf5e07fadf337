"""CLIP loading and encoding with the tiny test config (L2M-Tiny: D = 32, 224 px input)."""

import numpy as np
import pytest
import torch

from lang2motion.embed import clip as clip_module
from lang2motion.embed.clip import is_weights_path, load_clip
from lang2motion.errors import ConfigError, DependencyError

TINY = "L2M-Tiny"
TINY_DIM = 32
TEXTS = ["a dog running to the left", "a car turning right", "the bird flies up"]


@pytest.fixture(scope="module")
def tiny():
    return load_clip(model=TINY, pretrained="none", device="cpu")


def _images(b, side, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (b, side, side, 3), dtype=np.uint8)


def test_tiny_encoder_shapes_and_description(tiny):
    assert tiny.dim == TINY_DIM and tiny.image_size == 224
    assert tiny.describe() == {"model": TINY, "pretrained": "none", "dim": TINY_DIM,
                               "device": "cpu", "random": True, "activation": "gelu"}
    text = tiny.encode_text(TEXTS, batch_size=2)
    assert text.shape == (3, TINY_DIM) and text.dtype == np.float32
    assert not np.allclose(text[0], text[1])
    images = tiny.encode_images(_images(5, 224), batch_size=2)
    assert images.shape == (5, TINY_DIM) and images.dtype == np.float32
    assert np.isfinite(images).all()


def test_batching_does_not_change_features(tiny):
    images = _images(5, 224)
    np.testing.assert_allclose(tiny.encode_images(images, batch_size=2),
                               tiny.encode_images(images, batch_size=5), atol=1e-5)
    np.testing.assert_allclose(tiny.encode_text(TEXTS, batch_size=1),
                               tiny.encode_text(TEXTS, batch_size=3), atol=1e-5)


def test_images_of_another_size_are_resized(tiny):
    assert tiny.encode_images(_images(2, 64), batch_size=2).shape == (2, TINY_DIM)


def test_preprocessing_normalises_with_the_model_mean_and_std(tiny):
    white = torch.full((1, 224, 224, 3), 255, dtype=torch.uint8)
    x = tiny.preprocess(white)
    expected = [(1.0 - m) / s for m, s in zip(tiny.mean, tiny.std, strict=True)]
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), expected, rtol=1e-6)


def test_random_weights_are_the_same_on_every_load_and_leave_the_rng_alone(tiny):
    torch.manual_seed(123)
    expected_draw = torch.rand(3)
    torch.manual_seed(123)
    again = load_clip(model=TINY, pretrained="none", device="cpu")
    assert torch.equal(torch.rand(3), expected_draw)  # caller's RNG stream untouched
    images = _images(2, 224, seed=1)
    np.testing.assert_array_equal(again.encode_images(images, batch_size=2),
                                  tiny.encode_images(images, batch_size=2))
    np.testing.assert_array_equal(again.encode_text(TEXTS, batch_size=3),
                                  tiny.encode_text(TEXTS, batch_size=3))


def test_local_weights_file_round_trip(tiny, tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in tiny.model.state_dict().items()}, str(path))
    loaded = load_clip(model=TINY, pretrained=str(path), device="cpu")
    assert loaded.random is False
    images = _images(2, 224, seed=2)
    np.testing.assert_allclose(loaded.encode_images(images, batch_size=2),
                               tiny.encode_images(images, batch_size=2), atol=1e-6)


def test_missing_weights_file_names_the_file_and_model(tmp_path):
    missing = tmp_path / "nowhere" / "clip.pt"
    with pytest.raises(DependencyError, match=rf"{missing}.*{TINY}"):
        load_clip(model=TINY, pretrained=str(missing), device="cpu")


def test_weights_that_do_not_fit_the_model_name_the_file(tmp_path):
    from safetensors.torch import save_file

    bogus = tmp_path / "bogus.safetensors"
    save_file({"not_a_clip_weight": torch.zeros(3)}, str(bogus))
    with pytest.raises(DependencyError, match=rf"{bogus}.*{TINY}"):
        load_clip(model=TINY, pretrained=str(bogus), device="cpu")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"this is not a checkpoint")
    with pytest.raises(DependencyError, match=rf"{garbage}.*{TINY}"):
        load_clip(model=TINY, pretrained=str(garbage), device="cpu")


def test_tag_download_offline_says_what_to_download(monkeypatch):
    import open_clip.factory

    def offline(*args, **kwargs):
        raise OSError("Name or service not known")

    # open_clip would retry the network for about a minute here; fail at once instead.
    monkeypatch.setattr(open_clip.factory, "download_pretrained", offline)
    with pytest.raises(DependencyError, match=r"timm/vit_base_patch32_clip_224\.openai.*"
                                              r"clip\.pretrained"):
        load_clip(model="ViT-B-32", pretrained="openai", device="cpu")


def test_unknown_tag_and_model_are_config_errors():
    with pytest.raises(ConfigError, match="known tags:.*openai"):
        load_clip(model="ViT-B-32", pretrained="no_such_tag", device="cpu")
    with pytest.raises(ConfigError, match="ViT-Q-99"):
        load_clip(model="ViT-Q-99", pretrained="none", device="cpu")


@pytest.mark.parametrize(("value", "is_path"), [
    ("openai", False), ("laion2b_s34b_b79k", False), ("weights.bin", True), ("w.safetensors", True),
    ("models/clip", True), ("/abs/x", True), ("w.pth", True), ("w.pt", True),
])
def test_path_or_tag_rule(value, is_path):
    assert is_weights_path(value) is is_path


def test_local_configs_are_registered_once():
    import open_clip.factory

    clip_module._register_local_configs()
    paths = list(open_clip.factory._MODEL_CONFIG_PATHS)
    clip_module._register_local_configs()
    assert open_clip.factory._MODEL_CONFIG_PATHS == paths
    assert TINY in open_clip.list_models()

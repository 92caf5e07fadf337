"""CLIP weights in the formats users have, the activation they need, and the fast text path.

Weights are random models built directly with open_clip (seed WEIGHTS_SEED, not load_clip's
RANDOM_INIT_SEED, so a loader that ignored the file would fail), saved in each format, loaded
with load_clip and compared with the same weights run by open_clip itself.
"""

import copy
import dataclasses
import json
import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from lang2motion.embed import clip as clip_module
from lang2motion.embed.clip import load_clip
from lang2motion.errors import DependencyError

TINY = "L2M-Tiny"
WEIGHTS_SEED = 1234
ATOL = 1e-5
# Different lengths, an empty one and one longer than the 77-token context.
TEXTS = ["a dog", "", "a red car turning right at the crossing", "word " * 100,
         "the bird flies up"]
OPENAI_EXTRAS = {"input_resolution": torch.tensor(224), "context_length": torch.tensor(77),
                 "vocab_size": torch.tensor(49408)}
IMAGES = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3), dtype=np.uint8)


def _build(name, **kwargs):
    """An open_clip model with WEIGHTS_SEED weights, in eval mode."""
    import open_clip

    clip_module._register_local_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(WEIGHTS_SEED)
        return open_clip.create_model(name, **kwargs).eval()


def _holding(name, state_dict, **kwargs):
    """The reference: open_clip's model ``name`` holding ``state_dict``."""
    model = _build(name, **kwargs)
    model.load_state_dict(state_dict)
    return model.float()


def _openai_style(model):
    """The weights as OpenAI ships them: linear/conv/attention weights in fp16, the rest fp32."""
    from open_clip.model import convert_weights_to_fp16

    convert_weights_to_fp16(model)
    return {k: v.clone() for k, v in model.state_dict().items()}


def _to_gelu(model):
    """The same weights with plain GELU: what loading OpenAI weights under ViT-B-32 used to do."""
    from open_clip.transformer import QuickGELU

    for module in list(model.modules()):
        for name, child in module.named_children():
            if isinstance(child, QuickGELU):
                setattr(module, name, nn.GELU())
    return model


def _reference_embeddings(encoder, reference):
    tokens = encoder.tokenizer(TEXTS)
    with torch.inference_mode():
        text = reference.encode_text(tokens).numpy()
        image = reference.encode_image(encoder.preprocess(torch.from_numpy(IMAGES))).numpy()
    return text, image


def _assert_same_embeddings(encoder, reference):
    text, image = _reference_embeddings(encoder, reference)
    np.testing.assert_allclose(encoder.encode_text(TEXTS, batch_size=2), text, atol=ATOL)
    np.testing.assert_allclose(encoder.encode_images(IMAGES, batch_size=2), image, atol=ATOL)


def _assert_differs(encoder, reference):
    text, _ = _reference_embeddings(encoder, reference)
    assert np.abs(encoder.encode_text(TEXTS, batch_size=2) - text).max() > 100 * ATOL


class _Holder(nn.Module):
    """A TorchScript-able module that only holds tensors under given names."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def _save_torchscript(state_dict, path):
    """A TorchScript archive whose state dict is exactly ``state_dict``, like OpenAI's release."""
    root = _Holder()
    for key, value in state_dict.items():
        *parents, leaf = key.split(".")
        module = root
        for name in parents:
            if not hasattr(module, name):
                module.add_module(name, _Holder())
            module = getattr(module, name)
        module.register_parameter(leaf, nn.Parameter(value.clone(), requires_grad=False))
    with pytest.warns(FutureWarning):  # torch.jit.script is deprecated in recent torch
        torch.jit.script(root).save(str(path))


@pytest.fixture(scope="module")
def tiny_model():
    return _build(TINY)


@pytest.fixture(scope="module")
def tiny_openai():
    """OpenAI-style tiny weights trained 'with QuickGELU', and both references for them."""
    state_dict = _openai_style(_build(TINY, force_quick_gelu=True))
    return (state_dict, _holding(TINY, state_dict, force_quick_gelu=True),
            _holding(TINY, state_dict))


@pytest.fixture(scope="module")
def vit_b32_openai(tmp_path_factory):
    """A random ViT-B-32 saved as OpenAI's plain state dict, loaded under the GELU name."""
    model = _build("ViT-B-32-quickgelu")
    state_dict = _openai_style(model)
    path = tmp_path_factory.mktemp("openai") / "ViT-B-32-openai.pt"
    torch.save({**state_dict, **OPENAI_EXTRAS}, path)
    return load_clip(model="ViT-B-32", pretrained=str(path), device="cpu"), model.float()


def _save(state_dict, path, kind):
    from safetensors.torch import save_file

    if kind == "safetensors":
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(path))
    elif kind == "training_checkpoint":
        torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in state_dict.items()}},
                   path)
    else:
        torch.save(state_dict, path)


@pytest.mark.parametrize(("kind", "file_name"), [
    ("bin", "open_clip_pytorch_model.bin"), ("safetensors", "open_clip_model.safetensors"),
    ("plain", "clip.pt"), ("training_checkpoint", "epoch_3.pt"),
])
def test_open_clip_formats_load_the_same_weights(tiny_model, tmp_path, kind, file_name):
    path = tmp_path / file_name
    _save(tiny_model.state_dict(), path, kind)
    encoder = load_clip(model=TINY, pretrained=str(path), device="cpu")
    assert encoder.activation == "gelu" and not encoder.random
    assert encoder.describe()["activation"] == "gelu"
    _assert_same_embeddings(encoder, tiny_model)


def test_openai_torchscript_archive_loads_with_quick_gelu(tiny_openai, tmp_path, caplog,
                                                          monkeypatch):
    state_dict, quick_reference, gelu_reference = tiny_openai
    path = tmp_path / "ViT-B-32.pt"
    _save_torchscript({**state_dict, **OPENAI_EXTRAS}, path)
    with pytest.raises(RuntimeError, match="TorchScript"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the trap: weights_only refuses the archive
        torch.load(path, weights_only=True)

    def no_code(*args, **kwargs):
        raise AssertionError("the archive's TorchScript code must not run")

    monkeypatch.setattr(torch.jit, "load", no_code)
    with caplog.at_level(logging.WARNING, logger=clip_module.__name__):
        encoder = load_clip(model=TINY, pretrained=str(path), device="cpu")
    assert encoder.activation == "quick_gelu"
    assert any("TorchScript" in r.getMessage() and "quick_gelu" in r.getMessage()
               for r in caplog.records)
    _assert_same_embeddings(encoder, quick_reference)
    _assert_differs(encoder, gelu_reference)


class _Traced(nn.Module):
    """Parameters in two dtypes, a buffer, a view sharing a storage and attention, as OpenAI's
    traced release holds them."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(4, 6)
        self.ln = nn.LayerNorm(6)
        self.attn = nn.MultiheadAttention(6, 2)
        self.pos = nn.Parameter(torch.randn(3, 6).half(), requires_grad=False)
        self.register_buffer("steps", torch.arange(5))
        self.register_buffer("row", self.pos.data[1])  # a view into another tensor's storage

    def forward(self, x):
        y = self.ln(self.proj(x))
        return self.attn(y, y, y)[0] + self.pos.float().sum() + self.steps.sum() + self.row.sum()


def test_torchscript_reader_gives_the_archive_state_dict(tmp_path, monkeypatch):
    path = tmp_path / "traced.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated in recent torch
        torch.jit.trace(_Traced().eval(), torch.randn(3, 1, 4)).save(str(path))
        expected = torch.jit.load(str(path)).state_dict()
    monkeypatch.setattr(torch.jit, "load", None)  # read as data: jit.load must not be needed
    prefix = clip_module._torchscript_prefix(path)
    tensors = clip_module._read_torchscript(path, prefix, "test")
    assert sorted(tensors) == sorted(expected)
    for key, value in expected.items():
        assert tensors[key].dtype == value.dtype and torch.equal(tensors[key], value), key
    assert clip_module._torchscript_prefix(tmp_path / "traced.pt") == "traced/"
    plain = tmp_path / "plain.pt"
    torch.save(expected, plain)
    assert clip_module._torchscript_prefix(plain) is None


def test_openai_plain_state_dict_of_a_small_model_runs_quick_gelu(tiny_openai, tmp_path):
    state_dict, quick_reference, gelu_reference = tiny_openai
    path = tmp_path / "openai.pt"
    torch.save({**state_dict, **OPENAI_EXTRAS}, path)
    encoder = load_clip(model=TINY, pretrained=str(path), device="cpu")
    assert encoder.activation == "quick_gelu"
    _assert_same_embeddings(encoder, quick_reference)
    _assert_differs(encoder, gelu_reference)


@pytest.mark.slow    # a real ViT-B-32 (151 M parameters): about 25 s on 2 cores
def test_openai_plain_state_dict_under_the_gelu_name_runs_quick_gelu(vit_b32_openai):
    encoder, quick_reference = vit_b32_openai
    assert encoder.name == "ViT-B-32" and encoder.activation == "quick_gelu"
    assert encoder.describe()["activation"] == "quick_gelu"
    _assert_same_embeddings(encoder, quick_reference)
    _assert_differs(encoder, _to_gelu(copy.deepcopy(quick_reference)))


def _snapshot(root, files, config=None):
    """A Hugging Face cache repository ``root`` with one snapshot holding ``files``."""
    folder = root / "snapshots" / "0123abcd"
    folder.mkdir(parents=True)
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text("0123abcd")
    for name, (state_dict, kind) in files.items():
        _save(state_dict, folder / name, kind)
    if config is not None:
        (folder / "open_clip_config.json").write_text(json.dumps(config))
    return folder


def test_hugging_face_snapshot_folder(tiny_model, tiny_openai, tmp_path):
    state_dict, quick_reference, _ = tiny_openai
    model_cfg = {**json.loads((clip_module.MODEL_CONFIG_DIR / f"{TINY}.json")
                                          .read_text()), "quick_gelu": True}
    config = {"model_cfg": model_cfg, "preprocess_cfg": {"mean": [0.5, 0.5, 0.5],
                                                         "std": [0.25, 0.25, 0.25]}}
    root = tmp_path / "models--laion--CLIP-L2M-Tiny"
    folder = _snapshot(root, {
        "open_clip_model.safetensors": (state_dict, "safetensors"),
        "open_clip_pytorch_model.bin": (tiny_model.state_dict(), "bin"),  # other weights
    }, config)
    for pretrained in (folder, root):  # the snapshot, or the repository (its refs/main)
        encoder = load_clip(model=TINY, pretrained=str(pretrained), device="cpu")
        assert encoder.activation == "quick_gelu"  # from the config: no OpenAI markers here
        assert encoder.mean == (0.5, 0.5, 0.5) and encoder.std == (0.25, 0.25, 0.25)
        _assert_same_embeddings(encoder, quick_reference)  # the safetensors file was chosen

    gelu_folder = _snapshot(tmp_path / "models--laion--bin-only",
                            {"open_clip_pytorch_model.bin": (tiny_model.state_dict(), "bin")},
                            {"model_cfg": {**model_cfg, "quick_gelu": False}})
    encoder = load_clip(model=TINY, pretrained=str(gelu_folder), device="cpu")
    assert encoder.activation == "gelu"
    _assert_same_embeddings(encoder, tiny_model)


def test_folder_without_weights_says_what_it_looked_for(tmp_path):
    (tmp_path / "open_clip_config.json").write_text("{}")
    with pytest.raises(DependencyError, match=rf"{tmp_path}.*{TINY}.*"
                                              r"open_clip_model\.safetensors"):
        load_clip(model=TINY, pretrained=str(tmp_path), device="cpu")


def test_unloadable_checkpoints_are_dependency_errors(tiny_model, tmp_path):
    pickled = tmp_path / "whole_model.pt"
    torch.save({"model": nn.Linear(2, 2)}, pickled)
    no_tensors = tmp_path / "no_tensors.pt"
    torch.save({"epoch": 3, "step": 10}, no_tensors)
    partial = tmp_path / "partial.pt"
    torch.save({k: v for k, v in tiny_model.state_dict().items() if "visual" not in k}, partial)
    resized = tmp_path / "resized.pt"
    torch.save({**tiny_model.state_dict(), "text_projection": torch.zeros(64, 48)}, resized)
    cases = [(pickled, "Python objects besides tensors.*torch.save"),
             (no_tensors, "no state dict of tensors.*epoch"),
             (partial, "does not fit.*weights missing.*clip.model"),
             (resized, "does not fit.*text_projection.*clip.model")]
    for path, message in cases:
        with pytest.raises(DependencyError) as info:
            load_clip(model=TINY, pretrained=str(path), device="cpu")
        assert str(path) in str(info.value) and TINY in str(info.value)
        assert info.match(message)


def test_download_hint_names_the_activation():
    openai = clip_module._dependency_hint("ViT-B-32", "openai")
    assert "QuickGELU" in openai and "clip.model=ViT-B-32-quickgelu" in openai
    laion = clip_module._dependency_hint("ViT-B-32", "laion2b_s34b_b79k")
    assert "QuickGELU" not in laion and "GELU activation: keep clip.model=ViT-B-32" in laion


def _spy_lengths(encoder, monkeypatch):
    """Record the token positions each text-tower run sees."""
    lengths = []
    transformer = encoder.model.transformer
    forward = transformer.forward

    def spy(x, attn_mask=None):
        lengths.append(x.shape[1])
        return forward(x, attn_mask=attn_mask)

    monkeypatch.setattr(transformer, "forward", spy)
    return lengths


@pytest.mark.parametrize("which", ["tiny", pytest.param("vit_b32", marks=pytest.mark.slow)])
def test_fast_text_path_equals_open_clip(which, vit_b32_openai, monkeypatch):
    encoder = (load_clip(model=TINY, pretrained="none", device="cpu") if which == "tiny"
               else vit_b32_openai[0])
    assert encoder.text_fast_path
    with torch.inference_mode():
        expected = encoder.model.encode_text(encoder.tokenizer(TEXTS)).numpy()
    lengths = _spy_lengths(encoder, monkeypatch)
    np.testing.assert_allclose(encoder.encode_text(TEXTS, batch_size=2), expected, atol=ATOL)
    # Batched by length (2, 4, 6, 10 and 102 tokens): only the long text runs the whole context.
    assert sorted(lengths) == [4, 10, 77]
    np.testing.assert_allclose(encoder.encode_text(TEXTS[:1], batch_size=1), expected[:1],
                               atol=ATOL)


def test_other_text_towers_run_their_own_encode_text(tiny_model):
    tiny = load_clip(model=TINY, pretrained="none", device="cpu")
    custom = _build(TINY, force_custom_text=True)  # CustomTextCLIP: text tower in .text
    encoder = dataclasses.replace(tiny, model=custom)
    assert not encoder.text_fast_path
    with torch.inference_mode():
        expected = custom.encode_text(tiny.tokenizer(TEXTS)).numpy()
    np.testing.assert_array_equal(encoder.encode_text(TEXTS, batch_size=len(TEXTS)), expected)

    bidirectional, last_token = _build(TINY), _build(TINY)
    bidirectional.attn_mask = None
    last_token.text_pool_type = "last"
    assert clip_module._fast_text_applies(tiny_model)
    assert not clip_module._fast_text_applies(bidirectional)
    assert not clip_module._fast_text_applies(last_token)


def test_token_counts_before_truncation():
    tiny = load_clip(model=TINY, pretrained="none", device="cpu")
    assert tiny.context_length == 77
    counts = tiny.token_counts(["", "a dog", "word " * 100])
    assert counts == [2, 4, 102]
    kept = (tiny.tokenizer(["a dog"]) != 0).sum().item()
    assert counts[1] == kept


def test_import_loads_no_open_clip():
    code = ("import sys, lang2motion.embed.clip; "
            "sys.exit('open_clip' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

"""Shared test helpers: a reduced SAM, a tiny trained checkpoint and a tiny prepared data
folder (example frames with masks, feature shards) for the apps and the demo page, and the
sharded stages' tracked workspace, each built once a session, on first use."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

# the tiny checkpoint: L2M-Tiny (a random CLIP) embeds to 32
TINY_FRAMES, TINY_GRID, TINY_DIM = 6, 3, 32
TINY_VALID_SPLIT = "valid_u"

# a reduced SAM: seconds per image on a CPU (vit_b takes 20-60 s), registered for the tests as
# one more segment_anything.sam_model_registry kind, so it loads the way the released ones do
TINY_SAM_KIND = "vit_tiny"
TINY_SAM = dict(encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2,
                encoder_global_attn_indexes=[1])


def _build_tiny_sam(checkpoint=None):
    """A test-only builder with sam_model_registry's signature."""
    build = importlib.import_module("segment_anything.build_sam")
    return build._build_sam(checkpoint=checkpoint, **TINY_SAM)


def _tiny_sam_checkpoint(path, *, full):
    """A random reduced SAM with fixed mask outputs, saved as a state dict; name ``path`` with
    TINY_SAM_KIND in it (``sam_vit_tiny.pth``) for the loader to tell its architecture.

    Zero weights and constant biases in the last upscaling conv and the hypernetwork heads make
    every logit of a mask token GELU(1) * 32 * (+1 or -1): a full or an empty mask whatever the
    prompt. Of the three multimask tokens (1..3) only token 2 is full when ``full``, and the IoU
    head scores it highest, so keeping the best-scoring mask yields the full one.
    """
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = _build_tiny_sam()
    decoder = model.mask_decoder
    with torch.no_grad():
        decoder.output_upscaling[3].weight.zero_()
        decoder.output_upscaling[3].bias.fill_(1.0)
        for token, mlp in enumerate(decoder.output_hypernetworks_mlps):
            mlp.layers[-1].weight.zero_()
            mlp.layers[-1].bias.fill_(1.0 if full and token == 2 else -1.0)
        decoder.iou_prediction_head.layers[-1].weight.zero_()
        decoder.iou_prediction_head.layers[-1].bias.copy_(torch.tensor([0.0, 0.3, 0.9, 0.1]))
    torch.save(model.state_dict(), path)
    return str(path)


@pytest.fixture(scope="session")
def make_sam_checkpoint():
    """``make(path, full=True)``: a reduced random SAM saved as a state dict (see above), its
    kind registered in sam_model_registry while the session runs."""
    pytest.importorskip("segment_anything")
    registry = importlib.import_module("segment_anything.build_sam").sam_model_registry
    registry[TINY_SAM_KIND] = _build_tiny_sam
    yield _tiny_sam_checkpoint
    del registry[TINY_SAM_KIND]


def write_tiny_checkpoint(directory: Path) -> Path:
    """A tiny checkpoint with a decoder that moves (an untrained head outputs zeros), recording
    a random L2M-Tiny CLIP and the valid split its data would come from."""
    import torch

    from lang2motion.model import Lang2Motion, ModelConfig
    from lang2motion.model.checkpoint import save_model

    torch.manual_seed(0)
    cfg = ModelConfig(points=TINY_GRID * TINY_GRID, frames=TINY_FRAMES, latent=TINY_DIM,
                      clip_dim=TINY_DIM, layers=1, heads=2, ff=64, decoder_hidden=64,
                      dropout=0.0)
    model = Lang2Motion(cfg)
    with torch.no_grad():
        for param in model.decoder.parameters():
            param.normal_(0, 0.05)
    save_model(directory, model, {"clip": {"model": "L2M-Tiny", "pretrained": "none"},
                                  "grid": {"size": TINY_GRID, "erode_iterations": 1,
                                           "margin": 0.1},
                                  "overlay": {"color": "cyan", "opacity": 0.5, "size": 64,
                                              "line_width": 2},
                                  "data": {"train_split": "train",
                                           "valid_split": TINY_VALID_SPLIT}})
    return directory


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return write_tiny_checkpoint(tmp_path_factory.mktemp("ckpt") / "models")


def write_tiny_data(data_dir: Path, *, videos: int = 3, seed: int = 0) -> Path:
    """``data_dir/raw/valid_u``: a small synthetic MeViS-format split (frames, masks,
    captions), and ``data_dir/features/valid_u``: one shard of random features for it."""
    from support.features import FeatureSample, write_feature_shard

    from lang2motion.data.synth.generate import generate_split
    from lang2motion.store import shard_name

    generate_split(data_dir / "raw", TINY_VALID_SPLIT, videos=videos, video_frames=4,
                   height=96, width=128, seed=seed, seen_templates=frozenset())
    rng = np.random.default_rng(seed)
    points = TINY_GRID * TINY_GRID
    samples = []
    for i in range(4):
        image = rng.normal(size=(TINY_FRAMES, TINY_DIM)).astype(np.float32)
        samples.append(FeatureSample(
            sample_id=f"v/1/0000{i}/0", video_id="v", exp_id="0", text=f"caption {i}",
            track_id=f"v/1/0000{i}", motion_kind="", template_id=-1, tags={}, start=0,
            width=128, height=96,
            tracks=rng.uniform(-0.5, 0.5, (TINY_FRAMES, points, 2)).astype(np.float32),
            visible=np.ones((TINY_FRAMES, points), bool),
            text_emb=rng.normal(size=TINY_DIM).astype(np.float32), image_emb=image,
            image_emb_pooled=image.mean(0), clip_model="L2M-Tiny", clip_pretrained="none"))
    write_feature_shard(data_dir / "features" / TINY_VALID_SPLIT / shard_name(0), samples,
                        frames=TINY_FRAMES, points=points, dim=TINY_DIM)
    return data_dir


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("data") / "data")


@pytest.fixture(scope="session")
def shards_workspace(tmp_path_factory) -> tuple[Path, list[str]]:
    """The tiny workspace of the sharded stages' tests (test_distributed_stages.py, and
    test_distributed_embed.py), prepared, tracked and rendered once for both."""
    from test_distributed_stages import reference_workspace

    return reference_workspace(tmp_path_factory.mktemp("shards"))


def pytest_addoption(parser):
    group = parser.getgroup("lang2motion demo page (tests/test_demo_browser.py)")
    group.addoption("--demo-model", help="run the browser tests on this checkpoint folder "
                    "instead of the tiny one (e.g. models after make demo)")
    group.addoption("--demo-data", help="...and this data folder (holding raw/ and features/)")
    group.addoption("--demo-screenshot", help="save a screenshot of the page after Generate "
                    "here (the README's docs/demo.png)")

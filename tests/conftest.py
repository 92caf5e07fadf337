"""Shared test helpers."""

from __future__ import annotations

import importlib

import pytest

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

"""Shared test helpers."""

from __future__ import annotations

import importlib

import pytest

# a reduced SAM: seconds per image on a CPU (vit_b takes 20-60 s)
TINY_SAM = dict(encoder_embed_dim=64, encoder_depth=2, encoder_num_heads=2,
                encoder_global_attn_indexes=[1])


def _tiny_sam_checkpoint(path, *, full, config=TINY_SAM):
    """A random reduced SAM with fixed mask outputs, saved as a state dict.

    Zero weights and constant biases in the last upscaling conv and the hypernetwork heads make
    every logit of a mask token GELU(1) * 32 * (+1 or -1): a full or an empty mask whatever the
    prompt. Of the three multimask tokens (1..3) only token 2 is full when ``full``, and the IoU
    head scores it highest, so keeping the best-scoring mask yields the full one.
    """
    torch = pytest.importorskip("torch")
    build = importlib.import_module("segment_anything.build_sam")
    torch.manual_seed(0)
    model = build._build_sam(checkpoint=None, **config)
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
    """``make(path, full=True)``: a reduced random SAM saved as a state dict (see above)."""
    pytest.importorskip("segment_anything")
    return _tiny_sam_checkpoint

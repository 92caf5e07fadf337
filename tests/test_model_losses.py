"""Each loss term (eqs. 4-9) against values computed by hand on N = 2 points, T = 3 frames."""

from __future__ import annotations

import math

import pytest
import torch

from lang2motion.config import LossConfig
from lang2motion.model import losses

# Ground truth: two points, static over three frames.
TARGET = torch.tensor([[[0.0, 0.0], [1.0, 0.0]]] * 3)                       # (T, N, 2)
# Prediction: frame 0 exact; frame 1 point 0 off by dx = 0.1, point 1 by dy = 0.2;
# frame 2 point 0 off by dy = -0.3.
PRED = torch.tensor([[[0.0, 0.0], [1.0, 0.0]],
                     [[0.1, 0.0], [1.0, 0.2]],
                     [[0.0, -0.3], [1.0, 0.0]]])
# Batch of two: sample 0 as above, sample 1 predicted perfectly, so batch means halve.
TARGET_B = torch.stack([TARGET, TARGET])
PRED_B = torch.stack([PRED, TARGET])


def test_recon_l1() -> None:
    # per point |dx| + |dy|: frame 1: 0.1, 0.2; frame 2: 0.3, 0 -> 0.6 / (N T = 6) = 0.1
    assert losses.recon_loss(PRED[None], TARGET[None]).item() == pytest.approx(0.1)
    assert losses.recon_loss(PRED_B, TARGET_B).item() == pytest.approx(0.05)


def test_recon_squared_l2() -> None:
    # per point dx^2 + dy^2: 0.01, 0.04, 0.09 -> 0.14 / 6
    assert losses.recon_loss(PRED[None], TARGET[None], l1=False).item() == pytest.approx(0.14 / 6)
    assert losses.recon_loss(PRED_B, TARGET_B, l1=False).item() == pytest.approx(0.07 / 6)


def test_velocity() -> None:
    # predicted steps: 0->1: (0.1, 0), (0, 0.2); 1->2: (-0.1, -0.3), (0, -0.2); truth static.
    # squared norms 0.01 + 0.04 + 0.10 + 0.04 = 0.19 over N (T - 1) = 4
    assert losses.velocity_loss(PRED[None], TARGET[None]).item() == pytest.approx(0.0475)
    assert losses.velocity_loss(PRED_B, TARGET_B).item() == pytest.approx(0.02375)


def test_range() -> None:
    # truth range per frame (x, y) = (1, 0); predicted: (1, 0), (0.9, 0.2), (1, 0.3)
    # squared differences summed over frames: 0 + (0.01 + 0.04) + 0.09 = 0.14
    assert losses.coordinate_range(PRED[None])[0].flatten().tolist() == pytest.approx(
        [1.0, 0.0, 0.9, 0.2, 1.0, 0.3])
    assert losses.range_loss(PRED[None], TARGET[None]).item() == pytest.approx(0.14)
    assert losses.range_loss(PRED_B, TARGET_B).item() == pytest.approx(0.07)


def test_cosine() -> None:
    emb = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    z = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
    # 1 - 1/sqrt(2) and 1 - (-1) = 2, averaged; the norms do not matter
    expected = (1 - 1 / math.sqrt(2) + 2) / 2
    assert losses.cosine_loss(emb, z).item() == pytest.approx(expected)
    assert losses.cosine_loss(emb * 5, z * 0.1).item() == pytest.approx(expected)


class StubModel:
    """encode -> a fixed z; decode -> PRED_B for z, a fixed text decoding for text_emb."""

    def __init__(self) -> None:
        self.z = torch.tensor([[1.0, 1.0], [0.0, -1.0]])
        self.decodes: list[bool] = []

    def encode(self, tracks, overlay):
        return self.z

    def decode(self, latent, grid, *, teacher=None, sampling=0.0):
        self.decodes.append(teacher is not None)
        if torch.equal(latent, self.z):
            return PRED_B
        return TARGET_B + torch.tensor([0.5, 0.0])  # every point off by dx = 0.5


BATCH = {"tracks": TARGET_B, "overlay": torch.zeros(2, 3, 2),
         "text_emb": torch.tensor([[1.0, 0.0], [0.0, 2.0]]),
         "image_emb_pooled": torch.tensor([[0.0, 1.0], [0.0, -3.0]])}


def test_compute_losses_golden() -> None:
    model = StubModel()
    cfg = LossConfig(l1=True, vel=0.01, range=0.1, text=0.1, image=0.2, text_recon=0.5)
    out = losses.compute_losses(model, BATCH, cfg)
    text = (1 - 1 / math.sqrt(2) + 2) / 2
    image = (1 - 1 / math.sqrt(2) + 0) / 2        # (0,1)~(1,1): 1 - 0.707; (0,-3)~(0,-1): 0
    expected = {"recon": 0.05, "vel": 0.02375, "range": 0.07, "text": text, "image": image,
                "text_recon": 0.5}
    for key, value in expected.items():
        assert out[key].item() == pytest.approx(value), key
    total = 0.05 + 0.01 * 0.02375 + 0.1 * 0.07 + 0.1 * text + 0.2 * image + 0.5 * 0.5
    assert out["total"].item() == pytest.approx(total)
    assert model.decodes == [True, True]  # both decodes teacher-forced in training


def test_compute_losses_l2_applies_to_text_recon() -> None:
    out = losses.compute_losses(StubModel(), BATCH, LossConfig(l1=False))
    assert out["recon"].item() == pytest.approx(0.07 / 6)
    assert out["text_recon"].item() == pytest.approx(0.25)  # 0.5^2 per point


def test_zero_weights_skip_computation(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError("a switched-off term was computed")

    for name in ("velocity_loss", "range_loss", "cosine_loss"):
        monkeypatch.setattr(losses, name, boom)
    model = StubModel()
    cfg = LossConfig(vel=0.0, range=0.0, text=0.0, image=0.0, text_recon=0.0)
    out = losses.compute_losses(model, BATCH, cfg)
    assert model.decodes == [True]  # no second decode for text_recon
    assert out["total"].item() == pytest.approx(0.05)
    assert {k: out[k].item() for k in ("vel", "range", "text", "image", "text_recon")} == {
        "vel": 0.0, "range": 0.0, "text": 0.0, "image": 0.0, "text_recon": 0.0}


def test_text_recon_on_means_a_second_decode() -> None:
    model = StubModel()
    losses.compute_losses(model, BATCH, LossConfig(text_recon=0.5), teacher_forcing=False)
    assert model.decodes == [False, False]

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
        self.rows: list[int] = []

    def encode(self, tracks, overlay):
        return self.z

    def decode(self, latent, grid, *, teacher=None, sampling=0.0):
        """Row by row: a row of z decodes to PRED_B's sample, any other row (a text
        embedding) to the truth with every point off by dx = 0.5; records each call and how
        many rows it decoded."""
        self.decodes.append(teacher is not None)
        self.rows.append(latent.shape[0])
        out = []
        for i, row in enumerate(latent):
            match = [j for j in range(len(self.z)) if torch.equal(row, self.z[j])]
            out.append(PRED_B[match[0]] if match
                       else TARGET_B[i % len(TARGET_B)] + torch.tensor([0.5, 0.0]))
        return torch.stack(out)


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
    assert model.decodes == [True]  # z and text decoded in one teacher-forced call
    assert model.rows == [4]          # 2 latents + 2 text embeddings


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
    assert model.decodes == [True] and model.rows == [2]  # no text rows for text_recon
    assert out["total"].item() == pytest.approx(0.05)
    assert {k: out[k].item() for k in ("vel", "range", "text", "image", "text_recon")} == {
        "vel": 0.0, "range": 0.0, "text": 0.0, "image": 0.0, "text_recon": 0.0}


def test_text_recon_on_means_text_rows_in_the_decode() -> None:
    model = StubModel()
    losses.compute_losses(model, BATCH, LossConfig(text_recon=0.5), teacher_forcing=False)
    assert model.decodes == [False] and model.rows == [4]


def test_contrastive_golden() -> None:
    text = torch.tensor([[1.0, 0.0], [0.0, 3.0]])
    z = torch.tensor([[2.0, 0.0], [1.0, 1.0]])       # unit: (1, 0), (0.7071, 0.7071)
    # cosines: text 0 with z 0, z 1: 1, 0.7071; text 1: 0, 0.7071. At temperature 1:
    # rows (text -> z): log(1 + e^(0.7071 - 1)), log(1 + e^(0 - 0.7071))
    # columns (z -> text): log(1 + e^(0 - 1)), log(1 + e^0) = log 2
    c = 1 / math.sqrt(2)
    rows = (math.log1p(math.exp(c - 1)) + math.log1p(math.exp(-c))) / 2
    cols = (math.log1p(math.exp(-1)) + math.log(2)) / 2
    assert losses.contrastive_loss(text, z, temperature=1.0).item() == pytest.approx(
        (rows + cols) / 2, rel=1e-5)
    # a lower temperature sharpens: the matching pairs win by more, the loss falls
    assert losses.contrastive_loss(text, z, temperature=0.1).item() < (rows + cols) / 2


def test_contrastive_weight_enters_the_total() -> None:
    base = losses.compute_losses(StubModel(), BATCH, LossConfig())
    on = losses.compute_losses(StubModel(), BATCH, LossConfig(contrastive=0.5, temperature=1.0))
    expected = losses.contrastive_loss(BATCH["text_emb"], StubModel().encode(BATCH["tracks"], None),
                                       temperature=1.0).item()
    assert base["contrastive"].item() == 0.0
    assert on["contrastive"].item() == pytest.approx(expected)
    assert on["total"].item() == pytest.approx(base["total"].item() + 0.5 * expected)


@pytest.mark.parametrize("decoder", ["autoregressive", "direct", "transformer"])
@pytest.mark.parametrize("sampling", [0.0, 1.0])
def test_one_decode_call_equals_two_separate_decodes(decoder: str, sampling: float) -> None:
    """compute_losses decodes z and the text embedding in one call of twice the batch; each
    row must come out as it would from a decode of its own."""
    from lang2motion.config import ModelConfig
    from lang2motion.model.autoencoder import Lang2Motion

    torch.manual_seed(0)
    cfg = ModelConfig(points=4, frames=5, latent=8, clip_dim=8, layers=1, heads=2, ff=16,
                      decoder_hidden=16, decoder=decoder, dropout=0.0)
    model = Lang2Motion(cfg).eval()
    for p in model.decoder.parameters():          # the zero-initialised head hides mistakes
        torch.nn.init.normal_(p, std=0.2)
    tracks = torch.randn(3, 5, 4, 2) * 0.3
    batch = {"tracks": tracks, "overlay": torch.randn(3, 5, 8), "text_emb": torch.randn(3, 8),
             "image_emb_pooled": torch.randn(3, 8)}
    out = losses.compute_losses(model, batch, LossConfig(), sampling=sampling)
    z = model.encode(tracks, batch["overlay"])
    alone = {name: model.decode(latent, tracks[:, 0], teacher=tracks, sampling=sampling)
             for name, latent in (("recon", z), ("text_recon", batch["text_emb"]))}
    for name, decoded in alone.items():
        assert out[name].item() == pytest.approx(losses.recon_loss(decoded, tracks).item(),
                                                 rel=1e-5), name

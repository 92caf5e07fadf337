"""The per-epoch inline evaluation against hand-computed ADE and R@1."""

from __future__ import annotations

import pytest
import torch

from lang2motion.evaluate.inline import inline_metrics, unique_track_index
from lang2motion.model import Lang2Motion, ModelConfig

T, N = 3, 2


class StubModel(torch.nn.Module):
    """encode -> a latent fixed per sample; decode -> truth offset by (0.3, 0) from z and by
    (0.3, 0.4) from a text embedding, from frame 1 on."""

    def __init__(self, z: torch.Tensor) -> None:
        super().__init__()
        self.z, self.truth, self.last_z = z, None, None
        self.teachers: list[bool] = []

    def encode(self, tracks, overlay):
        self.truth = tracks
        index = tracks[:, 0, 0, 0].long()  # the sample index is stored in the first coordinate
        self.last_z = self.z[index]
        return self.last_z

    def decode(self, latent, grid, *, teacher=None):
        self.teachers.append(teacher is not None)
        offset = torch.tensor([0.3, 0.0] if latent is self.last_z else [0.3, 0.4])
        out = self.truth.clone()
        out[:, 1:] += offset
        return out


class Tensors(dict):
    """A BatchSource over per-sample tensors (S, ...), as the loader's splits are."""

    @property
    def samples(self) -> int:
        return len(next(iter(self.values())))

    def batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.items()}


def test_unique_track_index() -> None:
    firsts, owner = unique_track_index(["a", "b", "a", "c", "b"])
    assert firsts.tolist() == [0, 1, 3] and owner.tolist() == [0, 1, 0, 2, 1]


def test_inline_metrics_by_hand() -> None:
    samples = 5
    tracks = torch.zeros(samples, T, N, 2)
    tracks[:, :, :, 0] = torch.arange(samples, dtype=torch.float32)[:, None, None]
    track_ids = ["a", "b", "a", "c", "b"]   # unique: a (sample 0), b (1), c (3)
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.1], [-1.0, 0.0], [0.0, 1.0]])
    text = torch.tensor([[1.0, 0.0],    # -> a (own a): hit
                         [1.0, 0.0],    # -> a (own b): miss
                         [0.1, 1.0],    # -> b (own a): miss
                         [-1.0, 0.5],   # -> c (own c): hit
                         [0.0, 1.0]])   # -> b (own b): hit
    model = StubModel(z)
    out = inline_metrics(model, Tensors(tracks=tracks, text_emb=text), track_ids, batch_size=2)
    assert out["recon_ade"] == pytest.approx(0.3)
    assert out["text_ade"] == pytest.approx(0.5)
    assert out["r1"] == pytest.approx(3 / 5)
    assert out["chance_r1"] == pytest.approx(1 / 3) and out["n_trajectories"] == 3
    assert not any(model.teachers)  # decoded with the model's own outputs


def test_retrieval_only_mode_skips_decoding_and_agrees_on_r1():
    torch.manual_seed(0)
    model = Lang2Motion(ModelConfig(points=4, frames=5, latent=16, clip_dim=16, layers=1,
                                    heads=2, ff=32, decoder_hidden=32))
    data = Tensors(tracks=torch.rand(6, 5, 4, 2), text_emb=torch.randn(6, 16),
                   overlay=torch.randn(6, 5, 16))
    ids = ["a", "a", "b", "c", "c", "d"]
    full = inline_metrics(model, data, ids, batch_size=4)
    calls = []
    model.decode = lambda *a, **k: calls.append(1)  # must not be called
    cheap = inline_metrics(model, data, ids, batch_size=4, ade=False)
    assert not calls and "recon_ade" not in cheap
    assert cheap["r1"] == full["r1"] and cheap["chance_r1"] == 0.25


def _split(tracks: torch.Tensor, text: torch.Tensor, kinds, tags, track_ids):
    import numpy as np

    from lang2motion.store import FeatureTensors

    s = len(track_ids)
    arr = tracks.numpy()
    return FeatureTensors(   # one trajectory per sample
        sample_ids=[f"s{i}" for i in range(s)], track_ids=list(track_ids),
        video_ids=["v"] * s, starts=np.zeros(s, int), texts=[""] * s, motion_kinds=list(kinds),
        template_ids=np.full(s, -1), tags=list(tags), row=np.arange(s), row_tracks=arr,
        row_visible=np.ones(arr.shape[:3], bool), text_emb=text.numpy(),
        row_image_emb=np.zeros((s, arr.shape[1], 2), np.float32),
        row_image_emb_pooled=np.zeros((s, 2), np.float32), sizes=np.tile([64, 64], (s, 1)))


def test_reference_adds_baselines_motion_kind_and_tag_slices_by_hand() -> None:
    from lang2motion.evaluate.inline import inline_reference

    samples = 4
    tracks = torch.zeros(samples, T, N, 2)
    tracks[:, :, :, 0] = torch.arange(samples, dtype=torch.float32)[:, None, None]
    tracks[:2, 1:, :, 1] += 1.0        # samples 0, 1 move 1.0 down from frame 1 on ...
    tracks[2:, 1:, :, 0] -= 1.0        # ... 2, 3 move 1.0 left
    text = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    valid = _split(tracks, text, ["down", "down", "left", "left"],
                   [{"phrasing": "seen"}, {"phrasing": "unseen"}] * 2, ["a", "a", "b", "b"])
    train = _split(tracks, text, ["down"] * 4, [{}] * 4, ["a", "b", "c", "d"])
    reference = inline_reference(valid, train)
    assert sorted(reference.slices) == ["", "phrasing_seen/", "phrasing_unseen/"]
    # a still grid misses the whole step; the mean training motion is (-0.5, 0.5), 0.5 * sqrt 2
    # away from either motion
    assert reference.baselines["static_ade"].tolist() == pytest.approx([1.0] * 4)
    assert reference.baselines["mean_motion_ade"].tolist() == pytest.approx([0.5 ** 0.5] * 4)
    model = StubModel(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    out = inline_metrics(model, Tensors(tracks=tracks, text_emb=text), valid.track_ids,
                         batch_size=2, reference=reference)
    assert out["text_ade"] == pytest.approx(0.5) and out["static_ade"] == pytest.approx(1.0)
    assert out["phrasing_seen/static_ade"] == pytest.approx(1.0)
    assert out["phrasing_seen/r1"] == pytest.approx(1.0)      # samples 0 and 2 rank own first
    assert out["phrasing_unseen/r1"] == pytest.approx(0.0)    # 1 and 3 do not
    assert out["phrasing_seen/chance_r1"] == pytest.approx(0.5)
    # the text-decoded trajectory is the truth shifted by (0.3, 0.4): its displacement stays 0.5
    # from its own kind's and 0.92 (down) or 1.9 (left) from the other
    assert out["motion_kind_acc"] == pytest.approx(1.0)
    assert out["motion_kind_chance"] == pytest.approx(0.5)

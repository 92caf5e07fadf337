"""CoTracker3 adapter against a stand-in ``cotracker.predictor`` that honours the documented API.

The stand-in moves every point by VELOCITY px per frame from its query frame on, reports a point
visible while x < VISIBLE_BELOW_X, and forces the query frame to the query position and visible,
as the real predictor does. It records every call so the tests can check the batching.
"""

import sys
import types
from typing import ClassVar

import numpy as np
import pytest
import torch

from lang2motion.config import TrackConfig
from lang2motion.errors import DependencyError
from lang2motion.tracking.base import make_tracker
from lang2motion.tracking.cotracker import CoTracker3Tracker

VELOCITY = torch.tensor([2.0, 1.0])
VISIBLE_BELOW_X = 20.0
FRAMES, HEIGHT, WIDTH = 10, 24, 32


class StandInPredictor(torch.nn.Module):
    created: ClassVar[list] = []

    def __init__(self, checkpoint=None, window_len=60, v2=False):
        super().__init__()
        self.checkpoint, self.window_len, self.v2 = checkpoint, window_len, v2
        self.calls = []
        StandInPredictor.created.append(self)

    def forward(self, video, queries=None, segm_mask=None, grid_size=0, grid_query_frame=0,
                backward_tracking=False):
        assert video.dtype == torch.float32 and video.ndim == 5 and video.shape[2] == 3
        assert queries.dtype == torch.float32 and queries.shape[-1] == 3
        self.calls.append({"video": video.clone(), "queries": queries.clone()})
        num_frames = video.shape[1]
        frame = torch.arange(num_frames, dtype=torch.float32)
        q_t = queries[..., 0]                                            # (B, N)
        steps = (frame[None, :, None] - q_t[:, None, :])[..., None]      # (B, T, N, 1)
        tracks = queries[:, None, :, 1:] + steps * VELOCITY              # (B, T, N, 2)
        visible = tracks[..., 0] < VISIBLE_BELOW_X                       # (B, T, N) bool
        at_query = frame[None, :, None] == q_t[:, None, :]
        visible = visible | at_query
        return tracks, visible


@pytest.fixture
def stand_in(monkeypatch):
    package = types.ModuleType("cotracker")
    predictor = types.ModuleType("cotracker.predictor")
    predictor.CoTrackerPredictor = StandInPredictor
    package.predictor = predictor
    monkeypatch.setitem(sys.modules, "cotracker", package)
    monkeypatch.setitem(sys.modules, "cotracker.predictor", predictor)
    StandInPredictor.created = []
    return StandInPredictor


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "scaled_offline.pth"
    path.write_bytes(b"stand-in weights")
    return str(path)


def _frames(count=FRAMES):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(count, HEIGHT, WIDTH, 3), dtype=np.uint8)


def _queries():
    # two objects' points at window start 0 and one at window start 4, as track_split batches them
    return np.array([[0, 2, 3], [0, 10, 5], [4, 6, 7], [4, 20, 2]], dtype=np.float32)


def _expected(queries, count=FRAMES):
    """(T, N, 2) tracks and (T, N) visibility the adapter must return around the stand-in."""
    frame = np.arange(count, dtype=np.float32)[:, None]
    steps = np.maximum(frame - queries[None, :, 0], 0)
    tracks = queries[None, :, 1:] + steps[..., None] * VELOCITY.numpy()
    started = frame >= queries[None, :, 0]
    visible = started & ((tracks[..., 0] < VISIBLE_BELOW_X) | (frame == queries[None, :, 0]))
    return tracks, visible


def test_one_call_per_video_with_all_queries(stand_in, checkpoint):
    tracker = make_tracker(TrackConfig(backend="cotracker3", checkpoint=checkpoint, device="cpu"))
    assert tracker.name == "cotracker3"
    frames, queries = _frames(), _queries()
    tracks, visible = tracker.track(frames, queries)
    (model,) = stand_in.created
    assert model.checkpoint == checkpoint and model.v2 is False
    assert len(model.calls) == 1
    call = model.calls[0]
    assert call["video"].shape == (1, FRAMES, 3, HEIGHT, WIDTH)
    np.testing.assert_array_equal(call["video"][0].permute(0, 2, 3, 1).numpy(), frames)
    np.testing.assert_array_equal(call["queries"][0].numpy(), queries)
    assert tracks.shape == (FRAMES, 4, 2) and tracks.dtype == np.float32
    assert visible.shape == (FRAMES, 4) and visible.dtype == bool
    expected_tracks, expected_visible = _expected(queries)
    np.testing.assert_allclose(tracks, expected_tracks)
    # before the query frame: not visible (contract); point 3 leaves the visible zone at once
    np.testing.assert_array_equal(visible, expected_visible)
    np.testing.assert_array_equal(visible[:, 3], np.arange(FRAMES) == 4)


@pytest.mark.parametrize(("count", "chunks"), [
    (10, [(0, 4), (3, 7), (6, 10)]),
    (11, [(0, 4), (3, 7), (6, 10), (7, 11)]),     # the last chunk is kept a full window
])
def test_long_video_is_split_into_chained_windows(stand_in, checkpoint, count, chunks):
    tracker = CoTracker3Tracker(checkpoint=checkpoint, device="cpu", window_len=4)
    assert tracker._chunks(count) == chunks
    queries = _queries()
    tracks, visible = tracker.track(_frames(count), queries)
    (model,) = stand_in.created
    # every chunk is one call carrying the points alive in it, never longer than window_len
    assert [c["video"].shape[1] for c in model.calls] == [4] * len(chunks)
    assert [c["queries"].shape[1] for c in model.calls] == [2] + [4] * (len(chunks) - 1)
    expected_tracks, expected_visible = _expected(queries, count)
    np.testing.assert_allclose(tracks, expected_tracks, atol=1e-5)
    # point 1 (x = 10 + 2t) is hidden from frame 5: the hand-over frames (6, and 7 for the
    # 11-frame video) must stay hidden although the predictor reports query frames visible
    assert not visible[5:, 1].any()
    np.testing.assert_array_equal(visible, expected_visible)


def test_hub_is_used_without_a_checkpoint(stand_in, monkeypatch):
    seen = []

    def fake_hub_load(repo, model):
        seen.append((repo, model))
        return StandInPredictor()

    monkeypatch.setattr(torch.hub, "load", fake_hub_load)
    CoTracker3Tracker(checkpoint="", device="cpu")
    assert seen == [("facebookresearch/co-tracker", "cotracker3_offline")]


def test_missing_package_names_the_install_command(monkeypatch, checkpoint):
    monkeypatch.setitem(sys.modules, "cotracker", None)
    monkeypatch.setitem(sys.modules, "cotracker.predictor", None)
    with pytest.raises(DependencyError, match="git\\+https://github.com/facebookresearch/co-tracker"):
        CoTracker3Tracker(checkpoint=checkpoint, device="cpu")


def test_missing_checkpoint_is_named(stand_in, tmp_path):
    missing = tmp_path / "nowhere" / "scaled_offline.pth"
    with pytest.raises(DependencyError, match="nowhere/scaled_offline.pth"):
        CoTracker3Tracker(checkpoint=str(missing), device="cpu")

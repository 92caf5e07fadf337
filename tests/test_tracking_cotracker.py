"""CoTracker3 adapter against a stand-in ``cotracker.predictor`` that honours the documented API.

The stand-in is imported through the import system, like the real package: importing it calls
``torch.manual_seed(0)`` as co-tracker does. Its constructor mirrors the real one
(``checkpoint=None, offline=True, v2=False, window_len=60``): it draws random initial weights,
then loads the checkpoint strictly, so a checkpoint whose ``time_emb`` was made for another
window fails to load as it does in co-tracker. The predictor moves every point by VELOCITY px per
frame from its query frame on, reports a point visible while x < VISIBLE_BELOW_X, and forces the
query frame to the query position and visible, as the real predictor does. It records every call
so the tests can check the batching.
"""

import importlib.abc
import importlib.util
import sys
from typing import ClassVar

import huggingface_hub
import numpy as np
import pytest
import torch

from lang2motion.config import TrackConfig
from lang2motion.errors import DependencyError
from lang2motion.tracking import cotracker
from lang2motion.tracking.cotracker import CoTracker3Tracker
from lang2motion.tracking.track_split import make_tracker

VELOCITY = torch.tensor([2.0, 1.0])
VISIBLE_BELOW_X = 20.0
FRAMES, HEIGHT, WIDTH = 10, 24, 32
TIME_EMB_DIM = 1110            # scaled_offline.pth: time_emb (1, 60, 1110)
STAND_IN_MODULES = ("cotracker", "cotracker.predictor")


class StandInPredictor(torch.nn.Module):
    created: ClassVar[list] = []

    def __init__(self, checkpoint=None, offline=True, v2=False, window_len=60):
        super().__init__()
        self.checkpoint, self.offline, self.v2 = checkpoint, offline, v2
        self.window_len = window_len
        self.head = torch.nn.Linear(4, 4)                 # random init draws from the RNG
        self.register_buffer("time_emb", torch.zeros(1, window_len, TIME_EMB_DIM))
        if checkpoint is not None:                        # as build_cotracker does
            with open(checkpoint, "rb") as f:
                state_dict = torch.load(f, map_location="cpu")
                if "model" in state_dict:
                    state_dict = state_dict["model"]
            self.load_state_dict(state_dict)              # strict: shape mismatch raises
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


class _StandInImporter(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Serves ``cotracker`` and ``cotracker.predictor``; executing the latter seeds torch."""

    def find_spec(self, name, path=None, target=None):
        if name not in STAND_IN_MODULES:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name == "cotracker")

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        if module.__name__ == "cotracker.predictor":
            torch.manual_seed(0)             # as cotracker3_offline.py does at module level
            module.CoTrackerPredictor = StandInPredictor


def _state_dict(window_len=60):
    """A checkpoint for the stand-in, made for ``window_len`` like the released one for 60."""
    return {"head.weight": torch.zeros(4, 4), "head.bias": torch.zeros(4),
            "time_emb": torch.zeros(1, window_len, TIME_EMB_DIM)}


@pytest.fixture(autouse=True)
def no_remote_code(monkeypatch):
    """torch.hub downloads and runs repository code: never. The Hub only where a test allows."""
    def forbidden(*args, **kwargs):
        pytest.fail(f"unexpected network call {args} {kwargs}")

    monkeypatch.setattr(torch.hub, "load", forbidden)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", forbidden)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", forbidden)


@pytest.fixture
def stand_in(monkeypatch):
    for name in STAND_IN_MODULES:
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_StandInImporter(), *sys.meta_path])
    StandInPredictor.created = []
    yield StandInPredictor
    for name in STAND_IN_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "scaled_offline.pth"
    torch.save(_state_dict(), path)
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
    assert model.checkpoint == checkpoint and model.v2 is False and model.offline is True
    assert model.window_len == cotracker.PREDICTOR_WINDOW_LEN == 60
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
    tracker = CoTracker3Tracker(checkpoint=checkpoint, device="cpu", chunk_len=4)
    assert tracker._chunks(count) == chunks
    queries = _queries()
    tracks, visible = tracker.track(_frames(count), queries)
    (model,) = stand_in.created
    # the adapter chunks by 4; the predictor keeps the checkpoint's window whatever the chunking
    assert model.window_len == 60
    # every chunk is one call carrying the points alive in it, never longer than chunk_len
    assert [c["video"].shape[1] for c in model.calls] == [4] * len(chunks)
    assert [c["queries"].shape[1] for c in model.calls] == [2] + [4] * (len(chunks) - 1)
    expected_tracks, expected_visible = _expected(queries, count)
    np.testing.assert_allclose(tracks, expected_tracks, atol=1e-5)
    # point 1 (x = 10 + 2t) is hidden from frame 5: the hand-over frames (6, and 7 for the
    # 11-frame video) must stay hidden although the predictor reports query frames visible
    assert not visible[5:, 1].any()
    np.testing.assert_array_equal(visible, expected_visible)


def test_building_keeps_the_callers_random_stream(stand_in, checkpoint):
    torch.manual_seed(1234)
    undisturbed = torch.rand(2)
    torch.manual_seed(1234)
    before = torch.rand(1)
    CoTracker3Tracker(checkpoint=checkpoint, device="cpu")   # imports (seeds) and builds (draws)
    after = torch.rand(1)
    torch.testing.assert_close(torch.cat([before, after]), undisturbed, rtol=0, atol=0)


def test_empty_checkpoint_uses_the_cached_hugging_face_file(stand_in, checkpoint, monkeypatch):
    seen = []

    def download(repo_id, filename, **kwargs):
        seen.append((repo_id, filename, kwargs))
        return checkpoint

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    CoTracker3Tracker(checkpoint="", device="cpu")
    assert seen == [("facebook/cotracker3", "scaled_offline.pth", {"local_files_only": True})]
    (model,) = stand_in.created
    assert model.checkpoint == checkpoint and model.window_len == 60


def test_empty_checkpoint_downloads_the_file_when_not_cached(stand_in, checkpoint, monkeypatch):
    seen = []

    def download(repo_id, filename, local_files_only=False, **kwargs):
        seen.append((repo_id, filename, local_files_only))
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not in the cache")
        return checkpoint

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", lambda url, timeout: None)
    CoTracker3Tracker(checkpoint="", device="cpu")
    assert seen == [("facebook/cotracker3", "scaled_offline.pth", True),
                    ("facebook/cotracker3", "scaled_offline.pth", False)]
    assert stand_in.created[0].checkpoint == checkpoint


def test_offline_without_a_checkpoint_says_what_to_get(stand_in, monkeypatch):
    probes = []

    def download(repo_id, filename, local_files_only=False, **kwargs):
        if local_files_only:
            raise huggingface_hub.errors.LocalEntryNotFoundError("not in the cache")
        pytest.fail("downloaded although the Hub did not answer")

    def unreachable(url, timeout):
        probes.append(timeout)
        raise ConnectionError("Name or service not known")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(huggingface_hub, "get_hf_file_metadata", unreachable)
    with pytest.raises(DependencyError) as info:
        CoTracker3Tracker(checkpoint="", device="cpu")
    message = str(info.value)
    assert "scaled_offline.pth" in message
    assert "https://huggingface.co/facebook/cotracker3" in message
    assert "-S track.checkpoint=/path/to/scaled_offline.pth" in message
    assert probes == [cotracker.HUB_TIMEOUT_S]
    assert not stand_in.created


@pytest.mark.parametrize("content", ["not a checkpoint", "online window"])
def test_checkpoint_that_does_not_load_is_named(stand_in, tmp_path, content):
    path = tmp_path / "weights" / "scaled_online.pth"
    path.parent.mkdir()
    if content == "online window":
        torch.save(_state_dict(window_len=16), path)   # scaled_online.pth: time_emb (1, 16, 1110)
    else:
        path.write_bytes(b"stand-in weights")
    with pytest.raises(DependencyError, match="weights/scaled_online.pth"):
        CoTracker3Tracker(checkpoint=str(path), device="cpu")


def test_missing_package_names_the_install_command(monkeypatch, checkpoint):
    monkeypatch.setitem(sys.modules, "cotracker", None)
    monkeypatch.setitem(sys.modules, "cotracker.predictor", None)
    with pytest.raises(DependencyError, match="git\\+https://github.com/facebookresearch/co-tracker"):
        CoTracker3Tracker(checkpoint=checkpoint, device="cpu")


def test_missing_checkpoint_is_named(stand_in, tmp_path):
    missing = tmp_path / "nowhere" / "scaled_offline.pth"
    with pytest.raises(DependencyError, match="nowhere/scaled_offline.pth"):
        CoTracker3Tracker(checkpoint=str(missing), device="cpu")

"""CoTracker3 (offline) adapter: the tracker of the Lang2Motion paper, behind the Tracker API.

Legend: B batch, T frames, N points, H height, W width. Pixel (x, y) of the input frames.

co-tracker's ``CoTrackerPredictor`` takes a float video (1, T, 3, H, W) in 0..255 and queries
(1, N, 3) (t, x, y) pixels, and gives tracks (1, T, N, 2) pixels and visibility (1, T, N). Every
query of a video goes in at once, so the model sees the video once; memory grows with T x N, so
longer videos are cut into overlapping chunks of ``chunk_len`` frames, one predictor call each,
a running point handed over to the next chunk as a query at its first frame.

Two lengths, not to be confused: ``PREDICTOR_WINDOW_LEN`` is fixed by the checkpoint (its
``time_emb`` buffer is (1, 60, 1110), so the predictor is always built with 60; the model
interpolates that embedding to any clip length), while ``chunk_len`` is the adapter's own choice
of frames per predictor call, a memory trade-off.

Weights come from a local ``scaled_offline.pth`` (``track.checkpoint``) or, when that is empty,
as a file from the Hugging Face repo facebook/cotracker3 (cached by huggingface_hub). No
repository code is downloaded or executed at run time: the model code is the installed package.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from lang2motion.errors import DependencyError
from lang2motion.runtime import resolve_device
from lang2motion.tracking.base import hold_before_query, start_tracking

INSTALL_HINT = ('pip install "cotracker @ git+https://github.com/facebookresearch/co-tracker.git"'
                ' (or pip install -e ".[cotracker]")')
HF_REPO_ID = "facebook/cotracker3"
CHECKPOINT_FILE = "scaled_offline.pth"
CHECKPOINT_URL = f"https://huggingface.co/{HF_REPO_ID}/resolve/main/{CHECKPOINT_FILE}"
CHECKPOINT_PARAM = "track.checkpoint"
# Seconds to wait for the Hub before giving up; one probe without retries, so that an offline
# machine fails at once instead of after huggingface_hub's backoff (~25 s and more).
HUB_TIMEOUT_S = 5.0
# The predictor's window: the length of the checkpoint's time embedding. Never change it to chunk
# a video: a checkpoint only loads into a predictor built with the window it was trained with.
PREDICTOR_WINDOW_LEN = 60
CHUNK_LEN = 60                 # adapter: frames per predictor call (memory grows with T x N)
CHUNK_OVERLAP = 1              # frames shared by consecutive chunks for the hand-over


@contextlib.contextmanager
def keep_rng_state() -> Iterator[None]:
    """Restore torch's CPU and CUDA RNG states on exit: co-tracker seeds torch when imported
    and draws random initial weights when built; neither may change the caller's stream."""
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        yield


def fetch_checkpoint(*, timeout_s: float = HUB_TIMEOUT_S) -> str:
    """Local path of scaled_offline.pth: the huggingface_hub cache, else a download (at most
    ``timeout_s`` seconds for the Hub's first answer); DependencyError saying what to get."""
    import huggingface_hub

    how = (f"download {CHECKPOINT_FILE} from {CHECKPOINT_URL} and pass "
           f"-S {CHECKPOINT_PARAM}=/path/to/{CHECKPOINT_FILE}")
    with contextlib.suppress(Exception):  # not cached (or unreadable cache): ask the Hub
        return huggingface_hub.hf_hub_download(HF_REPO_ID, CHECKPOINT_FILE, local_files_only=True)
    try:
        # hf_hub_download retries network errors with backoff; one plain HEAD fails fast.
        huggingface_hub.get_hf_file_metadata(
            huggingface_hub.hf_hub_url(HF_REPO_ID, CHECKPOINT_FILE), timeout=timeout_s)
        return huggingface_hub.hf_hub_download(HF_REPO_ID, CHECKPOINT_FILE,
                                               etag_timeout=timeout_s)
    except Exception as exc:  # offline, proxy, HTTP or cache errors all mean: no weights here
        raise DependencyError(f"{CHECKPOINT_PARAM} is empty and the CoTracker3 checkpoint "
                              f"{CHECKPOINT_FILE} could not be fetched from Hugging Face "
                              f"{HF_REPO_ID} ({type(exc).__name__}: {exc}); {how}") from exc


class CoTracker3Tracker:
    """Offline CoTracker3 predictor, loaded once; ``track`` runs it on one whole video."""

    name = "cotracker3"

    def __init__(self, *, checkpoint: str = "", device: str = "auto",
                 chunk_len: int = CHUNK_LEN) -> None:
        if chunk_len <= CHUNK_OVERLAP:
            raise ValueError(f"chunk_len must exceed {CHUNK_OVERLAP}, got {chunk_len}")
        self.device = resolve_device(device, param="track.device")
        self.chunk_len = chunk_len
        if checkpoint and not Path(checkpoint).is_file():
            raise DependencyError(
                f"{CHECKPOINT_PARAM}: CoTracker3 checkpoint {checkpoint} not found; download "
                f"{CHECKPOINT_FILE} from {CHECKPOINT_URL} and give its path, or leave "
                f"{CHECKPOINT_PARAM} empty to fetch it from Hugging Face")
        try:
            with keep_rng_state():  # the import seeds torch's global RNG
                from cotracker.predictor import CoTrackerPredictor
        except ImportError as exc:
            raise DependencyError(f"the cotracker3 backend needs the co-tracker package "
                                  f"({exc}); install it with: {INSTALL_HINT}") from exc
        checkpoint = checkpoint or fetch_checkpoint()
        try:
            with keep_rng_state():  # building draws random initial weights
                model = CoTrackerPredictor(checkpoint=checkpoint, offline=True, v2=False,
                                           window_len=PREDICTOR_WINDOW_LEN)
        except Exception as exc:  # unpickling, missing keys, shape mismatch: not our weights
            raise DependencyError(
                f"{CHECKPOINT_PARAM}: {checkpoint} does not load as the CoTracker3 offline "
                f"checkpoint {CHECKPOINT_FILE} (window {PREDICTOR_WINDOW_LEN}) "
                f"({type(exc).__name__}: {exc}); get it from {CHECKPOINT_URL}") from exc
        self.model = model.to(self.device).eval()

    def _chunks(self, num_frames: int) -> list[tuple[int, int]]:
        """[start, stop) frame ranges of at most chunk_len frames; consecutive ones overlap.

        The overlap is one frame, except that the last chunk starts early enough to be a full
        chunk: a chunk of a couple of frames would give the model almost no temporal context.
        """
        chunks = []
        start = 0
        while True:
            stop = min(start + self.chunk_len, num_frames)
            chunks.append((start, stop))
            if stop == num_frames:
                return chunks
            start = stop - CHUNK_OVERLAP
            if num_frames - start < self.chunk_len:
                start = num_frames - self.chunk_len

    def _predict(self, frames: np.ndarray,
                 queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One predictor call. frames (T, H, W, 3) uint8, queries (N, 3) -> (T, N, 2), (T, N)."""
        video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)[None]
        video = video.to(self.device, dtype=torch.float32)          # (1, T, 3, H, W) 0..255
        query = torch.from_numpy(queries.astype(np.float32))[None].to(self.device)  # (1, N, 3)
        with torch.no_grad():
            tracks, visible = self.model(video, queries=query)
        return (tracks[0].float().cpu().numpy().astype(np.float32),
                visible[0].cpu().numpy().astype(bool))

    def track(
        self,
        frames: np.ndarray,   # (T, H, W, 3) uint8 RGB
        queries: np.ndarray,  # (N, 3) (t, x, y) pixels
    ) -> tuple[np.ndarray, np.ndarray]:
        """Returns tracks (T, N, 2) float32 pixels and visible (T, N) bool."""
        queries = np.asarray(queries, dtype=np.float32)
        t_query, tracks, visible = start_tracking(frames, queries)
        if t_query.size == 0:
            return tracks, visible
        for start, stop in self._chunks(frames.shape[0]):
            # Points queried inside this chunk start at their query; points started earlier are
            # handed over at the chunk's first frame from the previous chunk's estimate.
            alive = np.flatnonzero(t_query < stop)
            fresh = t_query[alive] >= start
            chunk_queries = np.empty((alive.size, 3), dtype=np.float32)
            chunk_queries[:, 0] = np.where(fresh, t_query[alive] - start, 0)
            chunk_queries[:, 1:] = np.where(fresh[:, None], queries[alive, 1:],
                                            tracks[start, alive])
            handed_visible = visible[start, alive].copy()
            chunk_tracks, chunk_visible = self._predict(frames[start:stop], chunk_queries)
            tracks[start:stop, alive] = chunk_tracks
            visible[start:stop, alive] = chunk_visible
            # The overlap frame keeps the earlier chunk's verdict (the predictor forces a query
            # frame visible).
            visible[start, alive[~fresh]] = handed_visible[~fresh]
        hold_before_query(tracks, visible, queries)
        return tracks, visible

"""CoTracker3 (offline) adapter: the tracker of the Lang2Motion paper, behind the Tracker API.

Legend: B batch, T frames, N points, H height, W width. Pixel (x, y) of the input frames.

The adapter meets the predictor contract in reference/cotracker3-api.md: a float video
(1, T, 3, H, W) in 0..255, queries (1, N, 3) as (t, x, y) pixels, and back tracks (1, T, N, 2)
pixels with visibility (1, T, N) bool. The caller hands over every query of a video at once (all
objects, all window starts) so the model sees the video once. Memory grows with T x N, so a
video longer than ``window_len`` frames is cut into chunks of at most ``window_len`` frames that
overlap (by one frame; more for the last chunk, which is kept a full window); a point still
running at the end of a chunk is handed over to the next chunk as a new query at that chunk's
first frame (its position and visibility there come from the earlier chunk).
Each chunk is ONE predictor call carrying every point that is alive in it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lang2motion.errors import DependencyError
from lang2motion.runtime import resolve_device
from lang2motion.tracking.base import check_inputs, hold_before_query

INSTALL_HINT = ('pip install "cotracker @ git+https://github.com/facebookresearch/co-tracker.git"'
                ' (or pip install -e ".[cotracker]")')
HUB_REPO = "facebookresearch/co-tracker"
HUB_MODEL = "cotracker3_offline"
WINDOW_LEN = 60                # frames per predictor call; the offline model's training length
CHUNK_OVERLAP = 1              # frames shared by consecutive chunks for the hand-over


class CoTracker3Tracker:
    """Offline CoTracker3 predictor, loaded once; ``track`` runs it on one whole video."""

    name = "cotracker3"

    def __init__(self, *, checkpoint: str = "", device: str = "auto",
                 window_len: int = WINDOW_LEN) -> None:
        if window_len <= CHUNK_OVERLAP:
            raise ValueError(f"window_len must exceed {CHUNK_OVERLAP}, got {window_len}")
        if checkpoint and not Path(checkpoint).is_file():
            raise DependencyError(
                f"track.checkpoint: CoTracker3 checkpoint {checkpoint} not found; download "
                "scaled_offline.pth from https://huggingface.co/facebook/cotracker3 and give its "
                "path, or leave track.checkpoint empty to fetch it with torch.hub")
        try:
            from cotracker.predictor import CoTrackerPredictor
        except ImportError as exc:
            raise DependencyError(f"the cotracker3 backend needs the co-tracker package "
                                  f"({exc}); install it with: {INSTALL_HINT}") from exc
        import torch

        self.device = resolve_device(device, param="track.device")
        self.window_len = window_len
        if checkpoint:
            model = CoTrackerPredictor(checkpoint=checkpoint, window_len=window_len, v2=False)
        else:
            try:
                model = torch.hub.load(HUB_REPO, HUB_MODEL)
            except Exception as exc:  # network, cache or hub errors all mean: no weights here
                raise DependencyError(
                    f"could not load {HUB_MODEL} from torch.hub ({exc}); without network, "
                    "download scaled_offline.pth from https://huggingface.co/facebook/cotracker3 "
                    "and set track.checkpoint to its path") from exc
        self.model = model.to(self.device).eval()

    def _chunks(self, num_frames: int) -> list[tuple[int, int]]:
        """[start, stop) frame ranges of at most window_len frames; consecutive ones overlap.

        The overlap is one frame, except that the last chunk starts early enough to be a full
        window: a chunk of a couple of frames would give the model almost no temporal context.
        """
        chunks = []
        start = 0
        while True:
            stop = min(start + self.window_len, num_frames)
            chunks.append((start, stop))
            if stop == num_frames:
                return chunks
            start = stop - CHUNK_OVERLAP
            if num_frames - start < self.window_len:
                start = num_frames - self.window_len

    def _predict(self, frames: np.ndarray,
                 queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One predictor call. frames (T, H, W, 3) uint8, queries (N, 3) -> (T, N, 2), (T, N)."""
        import torch

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
        t_query = check_inputs(frames, queries)
        num_frames = frames.shape[0]
        num_points = queries.shape[0]
        tracks = np.zeros((num_frames, num_points, 2), dtype=np.float32)
        visible = np.zeros((num_frames, num_points), dtype=bool)
        if num_points == 0:
            return tracks, visible
        for start, stop in self._chunks(num_frames):
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

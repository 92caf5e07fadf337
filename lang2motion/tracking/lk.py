"""Pyramidal Lucas-Kanade point tracker (OpenCV): the CPU stand-in for CoTracker3.

Legend: T frames, N points, H height, W width. Pixel (x, y), pixel centres at integer coordinates.

Frame to frame with a forward-backward check (Kalal et al. 2010): visible at t+1 only when both
solves converged, the point came back within ``fb_max_error`` px and lies inside the frame. A
point failing the check keeps being tracked, to be re-acquired: it follows a converged forward
estimate inside the frame (a blurred match still moves with the object), else holds its last
position, where an occluded or exiting point most likely comes back.
"""

from __future__ import annotations

import cv2
import numpy as np

from lang2motion.tracking.base import hold_before_query, start_tracking

# Window and levels measured with benchmarks/bench_trackers.py: 21 px / 3 levels gave the best
# < delta_avg on BADJA (real 480p footage) among 15/21/31/41 px and 3/4 levels; the synthetic set
# prefers 15 px by 3 points, real footage matters more.
LK_WIN_SIZE = (21, 21)
LK_MAX_LEVEL = 3               # pyramid levels above full resolution
LK_MAX_ITERATIONS = 30
LK_EPSILON = 0.01              # px; iteration stops when the update is smaller
# A round trip further than this (px) marks the point not visible. 2 px beat 0.5 and 1 px on
# occlusion accuracy (synthetic and BADJA) without hurting AJ; positions do not depend on it.
FB_MAX_ERROR_PX = 2.0


class LKTracker:
    """OpenCV pyramidal Lucas-Kanade with a forward-backward visibility check."""

    name = "lk"

    def __init__(self, *, win_size: tuple[int, int] = LK_WIN_SIZE, max_level: int = LK_MAX_LEVEL,
                 fb_max_error: float = FB_MAX_ERROR_PX) -> None:
        self.win_size = tuple(win_size)
        self.max_level = max_level
        self.fb_max_error = fb_max_error
        self.criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, LK_MAX_ITERATIONS,
                         LK_EPSILON)

    @staticmethod
    def _gray(frame: np.ndarray) -> np.ndarray:
        """(H, W) uint8 luminance of one RGB frame (H, W, 3); LK works on intensity."""
        return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)

    def _flow(self, src: np.ndarray, dst: np.ndarray,
              points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """LK from gray ``src`` to ``dst`` (H, W): points (K, 2) -> (K, 2) float32, ok (K,) bool."""
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            src, dst, points.reshape(-1, 1, 2), None, winSize=self.win_size,
            maxLevel=self.max_level, criteria=self.criteria)
        return moved.reshape(-1, 2), status.reshape(-1).astype(bool)

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
        num_frames, height, width = frames.shape[:3]

        position = queries[:, 1:].copy()   # (N, 2) current estimate of every started point
        first = int(t_query.min())
        current = self._gray(frames[first])
        for t in range(first, num_frames - 1):
            following = self._gray(frames[t + 1])
            # Every point started at or before t, whatever its query frame: one solve per frame.
            active = np.flatnonzero(t_query <= t)
            start = position[active]
            moved, ok_forward = self._flow(current, following, start)
            back, ok_backward = self._flow(following, current, moved)
            finite = np.isfinite(moved).all(axis=1)
            inside = (finite & (moved[:, 0] >= 0) & (moved[:, 0] <= width - 1)
                      & (moved[:, 1] >= 0) & (moved[:, 1] <= height - 1))
            fb_error = np.linalg.norm(back - start, axis=1)
            ok = ok_forward & ok_backward & inside & (fb_error <= self.fb_max_error)
            follow = ok_forward & inside
            new = np.where(follow[:, None], moved, start)
            tracks[t + 1, active] = new
            visible[t + 1, active] = ok
            position[active] = new
            current = following
        hold_before_query(tracks, visible, queries)
        return tracks, visible

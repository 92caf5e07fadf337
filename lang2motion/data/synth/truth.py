"""Exact ground truth of a synthetic split, read back from its sidecar ``synth_gt.json``.

Legend: T frames, N points.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from lang2motion.errors import DataError

SIDECAR_NAME = "synth_gt.json"
SIDECAR_FORMAT = 1
TAG_KEYS = ("phrasing",)       # expression fields that become evaluation tags


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) affine on (N, 2) points."""
    return points @ affine[:, :2].T + affine[:, 2]


class SynthGroundTruth:
    """The sidecar of one synthetic split: motion labels and exact point tracks."""

    def __init__(self, data: dict[str, Any], path: Path):
        self.data = data
        self.path = path
        self._supports: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def find(cls, split_dir: str | Path) -> SynthGroundTruth | None:
        """The sidecar of a synthetic split, or None for any other split (real data)."""
        return cls.load(split_dir) if (Path(split_dir) / SIDECAR_NAME).is_file() else None

    @classmethod
    def load(cls, split_dir: str | Path) -> SynthGroundTruth:
        path = Path(split_dir) / SIDECAR_NAME
        if not path.is_file():
            raise DataError(f"{path}: no synthetic ground truth (not a generated split?)")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != SIDECAR_FORMAT:
            raise DataError(f"{path}: unknown sidecar format {data.get('format')!r}")
        return cls(data, path)

    def _video(self, video_id: str) -> dict[str, Any]:
        try:
            return self.data["videos"][video_id]
        except KeyError:
            raise DataError(f"{self.path}: no video {video_id!r}") from None

    def expression(self, video_id: str, exp_id: str) -> dict[str, Any]:
        try:
            return self._video(video_id)["expressions"][str(exp_id)]
        except KeyError:
            raise DataError(f"{self.path}: video {video_id} has no expression "
                            f"{exp_id!r}") from None

    def motion_kind(self, video_id: str, exp_id: str) -> str:
        return self.expression(video_id, exp_id)["motion_kind"]

    def template_id(self, video_id: str, exp_id: str) -> int:
        return int(self.expression(video_id, exp_id)["template_id"])

    def tags(self, video_id: str, exp_id: str) -> dict[str, str]:
        """Evaluation slices of an expression: its ``phrasing`` (seen | unseen) outside train."""
        info = self.expression(video_id, exp_id)
        return {key: str(info[key]) for key in TAG_KEYS if key in info}

    def objects(self, video_id: str) -> dict[str, dict[str, Any]]:
        return self._video(video_id)["objects"]

    def affines(self, video_id: str, anno_id: str) -> np.ndarray:
        """(T, 2, 3) sprite pixel -> frame pixel transforms of one object."""
        return np.asarray(self._object(video_id, anno_id)["affine"], dtype=np.float64)

    def _object(self, video_id: str, anno_id: str) -> dict[str, Any]:
        try:
            return self.objects(video_id)[str(anno_id)]
        except KeyError:
            raise DataError(f"{self.path}: video {video_id} has no object {anno_id!r}") from None

    def _support(self, video_id: str, anno_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(exact, eroded, dilated) (S, S) bool supports of one object's sprite."""
        key = (video_id, anno_id)
        if key not in self._supports:
            rle = self._object(video_id, anno_id)["sprite_support"]
            exact = mask_utils.decode({"size": rle["size"],
                                       "counts": rle["counts"].encode("ascii")}).astype(np.uint8)
            kernel = np.ones((3, 3), dtype=np.uint8)
            self._supports[key] = (exact.astype(bool),
                                   cv2.erode(exact, kernel, borderValue=0).astype(bool),
                                   cv2.dilate(exact, kernel).astype(bool))
        return self._supports[key]

    @staticmethod
    def _inside(support: np.ndarray, sprite_pts: np.ndarray) -> np.ndarray:
        """(N,) whether the nearest sprite pixel of each (N, 2) sprite point is in the support."""
        ix = np.floor(sprite_pts[:, 0] + 0.5).astype(np.int64)
        iy = np.floor(sprite_pts[:, 1] + 0.5).astype(np.int64)
        h, w = support.shape
        ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = np.zeros(len(sprite_pts), dtype=bool)
        out[ok] = support[iy[ok], ix[ok]]
        return out

    def point_tracks(self, video_id: str, anno_ids: Sequence[str], points_px: np.ndarray,
                     t0: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact tracks (T_video, N, 2) float32 px and visible (T_video, N) of the frame-``t0``
        pixel points ``points_px`` (N, 2) lying on the objects ``anno_ids``.

        Each point rides the front-most covering sprite (inverse affine at t0, then each frame's
        affine); it is visible inside the frame, its sprite, and no nearer object. Visibility is
        conservative by one sprite pixel (eroded own support, dilated occluders), so a visible
        point always falls inside the rendered mask; this holds for scales >= MIN_SCALE.
        """
        video = self._video(video_id)
        points = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        frames = int(self.data["frames"])
        if not 0 <= t0 < frames:
            raise DataError(f"{self.path}: video {video_id}: t0={t0} outside [0, {frames})")
        anno_ids = [str(a) for a in anno_ids]
        objects = video["objects"]
        owners = sorted(anno_ids, key=lambda a: self._object(video_id, a)["depth"])
        owner = np.full(len(points), -1, dtype=np.int64)
        sprite_pts = np.zeros_like(points)
        for level in (0, 2):          # exact support first, then dilated for boundary pixels
            for i, anno_id in enumerate(owners):
                support = self._support(video_id, anno_id)[level]
                inverse = cv2.invertAffineTransform(self.affines(video_id, anno_id)[t0])
                local = _apply(inverse, points)
                take = (owner < 0) & self._inside(support, local)
                owner[take] = i
                sprite_pts[take] = local[take]
        if (owner < 0).any():
            bad = points[owner < 0][0]
            raise DataError(f"{self.path}: video {video_id}: point {bad.tolist()} at frame {t0} "
                            f"lies on none of the objects {anno_ids}")
        height, width = int(self.data["height"]), int(self.data["width"])
        tracks = np.zeros((frames, len(points), 2), dtype=np.float64)
        visible = np.zeros((frames, len(points)), dtype=bool)
        for i, anno_id in enumerate(owners):
            sel = owner == i
            if not sel.any():
                continue
            aff = self.affines(video_id, anno_id)
            own = self._inside(self._support(video_id, anno_id)[1], sprite_pts[sel])
            depth = objects[anno_id]["depth"]
            nearer = [a for a, o in objects.items() if o["depth"] < depth]
            for t in range(frames):
                pts_t = _apply(aff[t], sprite_pts[sel])
                tracks[t, sel] = pts_t
                px = np.floor(pts_t + 0.5)
                vis = own & (px[:, 0] >= 0) & (px[:, 0] < width) & (px[:, 1] >= 0) & (
                    px[:, 1] < height)
                for other in nearer:
                    local = _apply(cv2.invertAffineTransform(self.affines(video_id, other)[t]),
                                   pts_t)
                    vis &= ~self._inside(self._support(video_id, other)[2], local)
                visible[t, sel] = vis
        return tracks.astype(np.float32), visible

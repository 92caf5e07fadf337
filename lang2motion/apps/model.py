"""The Python API: a trained model, loaded once, asked for trajectories and embeddings.

    from lang2motion import Lang2MotionModel
    model = Lang2MotionModel.load("models")
    ball, = model.generate(["a red ball bouncing to the right"], mask=mask)   # (H, W) bool
    model.classify([ball], ["bouncing", "moving left", "spinning"])
    model.interpolate("moving left", "moving right", steps=5, mask=mask)

Every verb of the ``lang2motion`` command calls this class. Text is encoded with the CLIP the
checkpoint records; a trajectory is encoded like in training, its overlays rendered with the
checkpoint's overlay settings over frames you give or over a plain canvas (a frame-less stand-in
for the video: expect the encoder to see it as an unfamiliar background).

Legend: B batch, T frames, N points, D latent (= CLIP embedding size), H/W frame size.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from lang2motion.apps.trajectory import Trajectory
from lang2motion.config import GridConfig, from_dict
from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.recognition import top_k
from lang2motion.evaluate.retrieval import cosine_matrix
from lang2motion.geometry import normalise
from lang2motion.images import binarise_mask
from lang2motion.inference import Inference
from lang2motion.render.animate import plain_canvas
from lang2motion.tracking.grid import place_grid

log = logging.getLogger(__name__)

DEFAULT_CANVAS = (256, 256)       # (W, H) of the frame when neither mask nor image is given
DEFAULT_DISC_FRACTION = 0.3       # radius of the default disc mask, as a fraction of min(W, H)
SLERP_PARALLEL = 1e-6             # below this angle (radians) interpolation is linear
# A canvas side the grid, the animation and a plain-canvas overlay video (T x H x W x 3 bytes:
# 1.5 GB at 4096 px and 30 frames) can all hold; larger sides fail in allocation, not here.
CANVAS_SIDE_RANGE = (16, 4096)
# Interpolation steps decoded and drawn side by side in one animation; beyond this the
# animation alone runs out of memory after minutes.
MAX_INTERPOLATION_STEPS = 64


def check_canvas(size: Sequence[int], *, option: str = "size") -> tuple[int, int]:
    """(W, H) as ints within :data:`CANVAS_SIDE_RANGE`, or a ConfigError naming ``option``."""
    low, high = CANVAS_SIDE_RANGE
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be two whole numbers W H, got {size!r}") from None
    if not (low <= width <= high and low <= height <= high):
        raise ConfigError(f"{option} must be two whole numbers W H between {low} and {high} "
                          f"pixels, got {width} {height}")
    return width, height


def check_k(k: int, *, option: str = "k") -> int:
    """``k`` results: a whole number >= 1 (0 would silently return nothing)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"{option} must be a whole number >= 1, got {k!r}")
    return int(k)


def check_steps(steps: int) -> int:
    """Interpolation steps: 2 (the two ends) to :data:`MAX_INTERPOLATION_STEPS`."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not (
            2 <= steps <= MAX_INTERPOLATION_STEPS):
        raise ConfigError(f"--steps must be a whole number from 2 (the two ends) to "
                          f"{MAX_INTERPOLATION_STEPS}, got {steps!r}")
    return int(steps)


def default_mask(width: int, height: int) -> np.ndarray:
    """(H, W) bool: a centred disc, the object region when the user gives none."""
    mask = np.zeros((height, width), np.uint8)
    radius = int(DEFAULT_DISC_FRACTION * min(width, height))
    cv2.circle(mask, (width // 2, height // 2), radius, 1, thickness=-1)
    return mask.astype(bool)


def unit(vectors: np.ndarray) -> np.ndarray:    # (B, D) -> (B, D), rows of norm 1
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, np.finfo(np.float32).tiny)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:   # (D,), (D,) -> (D,)
    """Spherical interpolation between the directions of ``a`` and ``b``; t=0 gives unit(a),
    t=1 unit(b)."""
    a, b = unit(a[None])[0], unit(b[None])[0]
    omega = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    if omega < SLERP_PARALLEL:
        return (1.0 - t) * a + t * b
    return (math.sin((1.0 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


class Lang2MotionModel:
    """A trained Lang2Motion checkpoint with its CLIP (see the module docstring)."""

    def __init__(self, inference: Inference, path: str | os.PathLike[str]) -> None:
        self.inference = inference
        self.path = Path(path)
        meta = inference.meta
        self.grid_params = from_dict(GridConfig, meta.get("grid") or {}, "checkpoint grid")

    @classmethod
    def load(cls, path: str | os.PathLike[str] = "models", *, device: str = "auto",
             clip_model: str | None = None, clip_pretrained: str | None = None,
             batch_size: int = 64) -> Lang2MotionModel:
        """Load a checkpoint folder (model.safetensors + model.json)."""
        return cls(Inference.load(path, device=device, batch_size=batch_size,
                                  clip_model=clip_model, clip_pretrained=clip_pretrained), path)

    # -- what the checkpoint is -----------------------------------------------------------------
    @property
    def frames(self) -> int:
        return self.inference.model.cfg.frames

    @property
    def points(self) -> int:
        return self.inference.model.cfg.points

    @property
    def random_clip(self) -> bool:
        """True when the CLIP has random weights: prompts then carry no language knowledge."""
        return self.inference.clip_pretrained.lower() == "none"

    def describe(self) -> dict[str, Any]:
        """What trajectory files record about the model that made them."""
        meta = self.inference.meta
        return {"model": {"path": str(self.path), "epoch": meta.get("epoch"),
                          "git_rev": meta.get("git_rev")},
                "clip": {"model": self.inference.clip_model,
                         "pretrained": self.inference.clip_pretrained}}

    # -- inputs ---------------------------------------------------------------------------------
    def grid(self, mask: np.ndarray) -> np.ndarray:      # (H, W) bool -> (N, 2) pixels
        """The initial grid inside ``mask``, placed as training placed it (the checkpoint's grid
        size, erosion and margin)."""
        size = math.isqrt(self.points)
        if size * size != self.points:
            raise ConfigError(f"{self.path}: the model has {self.points} points, not a square "
                              "grid")
        return place_grid(binarise_mask(mask), size=size,
                          erode_iterations=self.grid_params.erode_iterations,
                          margin=self.grid_params.margin)

    def grids(self, count: int, *, mask: np.ndarray | None = None,
              size: tuple[int, int] = DEFAULT_CANVAS) -> tuple[np.ndarray, int, int]:
        """(count, N, 2) normalised grids inside ``mask`` (default: a centred disc on a
        ``size`` (W, H) canvas), and the frame's width and height."""
        if mask is None:
            mask = default_mask(*check_canvas(size))
        mask = binarise_mask(mask)
        height, width = mask.shape
        grid = normalise(self.grid(mask), width, height)
        return np.repeat(grid[None], count, axis=0), width, height

    def check_prompts(self, texts: Sequence[str]) -> list[str]:
        """The prompts, refused when empty; a warning names every prompt longer than the text
        encoder's context (CLIP cuts it)."""
        if isinstance(texts, (str, bytes)):
            texts = [texts]
        texts = list(texts)
        if not texts:
            raise ConfigError("no prompt given")
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise ConfigError(f"prompt {i + 1} is {type(text).__name__}, not text: give a "
                                  "str (decode bytes first, e.g. data.decode('utf-8'))")
            if not text.strip():
                raise ConfigError(f"prompt {i + 1} is empty: give the motion in words, e.g. "
                                  "\"a dog running to the left\"")
        clip = self.inference.clip
        for text, count in zip(texts, clip.token_counts(texts), strict=True):
            if count > clip.context_length:
                log.warning("the prompt %r has %d tokens; %s reads only the first %d (the rest "
                            "is ignored)", text[:60], count, clip.name, clip.context_length)
        return texts

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:      # -> (B, D)
        return self.inference.encode_texts(self.check_prompts(texts))

    def image_embeddings(self, images: np.ndarray) -> np.ndarray:     # (B, H, W, 3) -> (B, D)
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8 or not len(images):
            raise DataError(f"images must be a (B, H, W, 3) uint8 RGB array, got shape "
                            f"{images.shape} and dtype {images.dtype}")
        return self.inference.encode_images(images)

    # -- latent -> trajectory -------------------------------------------------------------------
    def decode(self, latents: np.ndarray, *, mask: np.ndarray | None = None,
               size: tuple[int, int] = DEFAULT_CANVAS, labels: Sequence[str] | None = None,
               source: dict[str, Any] | None = None) -> list[Trajectory]:
        """Trajectories decoded from ``latents`` (B, D) — texts', images' or trajectories'
        embeddings — from the grid inside ``mask`` (H, W)."""
        latents = self.check_latents(latents)
        grids, width, height = self.grids(len(latents), mask=mask, size=size)
        return self.decode_from_grids(latents, grids, width=width, height=height, labels=labels,
                                      source=source)

    def check_latents(self, latents: object) -> np.ndarray:   # -> (B, D) float32
        """Latents as (B, D) float32; DataError for another shape, width or non-finite values
        (a NaN latent decodes to a NaN trajectory)."""
        try:
            array = np.atleast_2d(np.asarray(latents, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise DataError(f"latents must be numbers, (B, D) or (D,): {exc}") from None
        latent = self.inference.model.cfg.latent
        if array.ndim != 2 or array.shape[1] != latent or not len(array):
            raise DataError(f"latents must be (B, {latent}) for this model (or ({latent},)), got "
                            f"{np.shape(latents)}")
        bad = np.flatnonzero(~np.isfinite(array).all(axis=1))
        if len(bad):
            raise DataError(f"latent row(s) {', '.join(map(str, bad[:5].tolist()))} hold NaN or "
                            "inf: nothing to decode")
        return array

    def decode_from_grids(self, latents: np.ndarray, grids: np.ndarray, *, width: int,
                          height: int, labels: Sequence[str] | None = None,
                          source: dict[str, Any] | None = None) -> list[Trajectory]:
        """latents (B, D), grids (B, N, 2) normalised -> trajectories in a W x H frame."""
        latents = self.check_latents(latents)
        grids = np.asarray(grids)
        if grids.ndim != 3 or grids.shape[1:] != (self.points, 2):
            raise DataError(f"grids must be (B, {self.points}, 2) for this model, got "
                            f"{grids.shape}")
        tracks = self.inference.decode(latents, grids)
        labels = list(labels) if labels is not None else [""] * len(tracks)
        return [Trajectory(tracks=t, width=width, height=height, label=label,
                           source=dict(source or {}), meta=self.describe())
                for t, label in zip(tracks, labels, strict=True)]

    def generate(self, texts: str | Sequence[str], *, mask: np.ndarray | None = None,
                 size: tuple[int, int] = DEFAULT_CANVAS) -> list[Trajectory]:
        """Text -> trajectory, one per prompt, all from the same grid inside ``mask``."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return self.decode(self.text_embeddings(texts), mask=mask, size=size, labels=texts,
                           source={"kind": "text"})

    # -- trajectory -> latent -------------------------------------------------------------------
    def encode(self, trajectories: Sequence[Trajectory], *,
               frames: np.ndarray | None = None) -> np.ndarray:           # -> (B, D) z
        """The encoder's latent of each trajectory. Its overlays are drawn over ``frames``
        ((T, H, W, 3) video frames or one (H, W, 3) still, matching the trajectories' frame
        size) or, without frames, over a plain canvas."""
        if not trajectories:
            raise DataError("no trajectory to encode")
        tracks = np.stack([self._fit(t) for t in trajectories])
        overlay = None
        if self.inference.model.cfg.use_overlay:
            overlay = np.stack([self.inference.overlay_features(self.background(t, frames),
                                                                t.tracks)
                                for t in trajectories])
        return self.inference.latents(tracks, overlay)

    def _fit(self, trajectory: Trajectory) -> np.ndarray:
        if trajectory.tracks.shape != (self.frames, self.points, 2):
            name = trajectory.path or f"trajectory {trajectory.label!r}"
            raise DataError(f"{name}: is {trajectory.tracks.shape[:2]} (frames, points); this "
                            f"model encodes ({self.frames}, {self.points}): use a trajectory "
                            "made by this model (or one with its grid size and frame count)")
        return trajectory.tracks

    def overlay_embedding(self, trajectory: Trajectory, *,
                          frames: np.ndarray | None = None) -> np.ndarray:      # -> (D,)
        """The time-pooled CLIP embedding of a trajectory's overlays (Table 8, overlay only)."""
        features = self.inference.overlay_features(self.background(trajectory, frames),
                                                   self._fit(trajectory))
        return features.mean(axis=0)

    def background(self, trajectory: Trajectory, frames: np.ndarray | None) -> np.ndarray:
        """(T, H, W, 3) what a trajectory's overlays are drawn on: ``frames`` (a still is
        repeated) or a plain canvas."""
        if frames is None:
            frames = plain_canvas(trajectory.width, trajectory.height)
        frames = np.asarray(frames)
        if frames.ndim not in (3, 4) or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise DataError(f"frames must be (T, H, W, 3) or (H, W, 3) uint8 RGB, got shape "
                            f"{frames.shape} and dtype {frames.dtype}")
        if frames.ndim == 3:
            frames = np.repeat(frames[None], self.frames, axis=0)
        if frames.shape[1:3] != (trajectory.height, trajectory.width):
            raise DataError(f"frames are {frames.shape[2]}x{frames.shape[1]} but the "
                            f"trajectory {trajectory.label!r} is in a "
                            f"{trajectory.width}x{trajectory.height} frame")
        return frames

    # -- what the latent space supports ---------------------------------------------------------
    def retrieve(self, text: str, latents: np.ndarray, *, k: int
                 ) -> list[tuple[int, float]]:
        """The ``k`` trajectories (rows of ``latents`` (B, D), e.g. from :meth:`encode`) most
        similar to ``text``: (index, cosine), best first."""
        k = check_k(k)
        scores = cosine_matrix(self.text_embeddings([text]), self.check_latents(latents))[0]
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order]

    def latent_of(self, item: str | Trajectory) -> np.ndarray:          # -> (D,)
        """A prompt's CLIP text embedding or a trajectory's latent."""
        if isinstance(item, Trajectory):
            return self.encode([item])[0]
        return self.text_embeddings([item])[0]

    def interpolate(self, a: str | Trajectory, b: str | Trajectory, *, steps: int,
                    mask: np.ndarray | None = None,
                    size: tuple[int, int] = DEFAULT_CANVAS) -> list[Trajectory]:
        """Decode ``steps`` points of the spherical interpolation from ``a`` to ``b`` (prompts or
        trajectories), all from the same grid; step 0 decodes ``a``, the last ``b``."""
        check_steps(steps)
        za, zb = self.latent_of(a), self.latent_of(b)
        ts = np.linspace(0.0, 1.0, steps)
        latents = np.stack([slerp(za, zb, float(t)) for t in ts])
        names = [x.label if isinstance(x, Trajectory) else x for x in (a, b)]
        return self.decode(latents, mask=mask, size=size,
                           labels=[f"t={t:.2f}" for t in ts],
                           source={"kind": "interpolation", "from": names[0], "to": names[1]})

    def edit(self, trajectory: Trajectory, source_text: str, target_text: str, *,
             frames: np.ndarray | None = None) -> Trajectory:
        """MotionCLIP's latent arithmetic: unit(z) + unit(text(target)) - unit(text(source)),
        decoded from the trajectory's own first frame. source == target reconstructs it."""
        z = unit(self.encode([trajectory], frames=frames))[0]
        texts = unit(self.text_embeddings([source_text, target_text]))
        edited = z + texts[1] - texts[0]
        label = f"{trajectory.label or 'trajectory'}: {source_text} -> {target_text}"
        return self.decode_from_grids(
            edited[None], trajectory.grid[None], width=trajectory.width,
            height=trajectory.height, labels=[label],
            source={"kind": "edit", "of": trajectory.label, "from": source_text,
                    "to": target_text})[0]

    def classify(self, latents: np.ndarray, class_names: Sequence[str], *, k: int
                 ) -> list[list[tuple[str, float]]]:
        """Zero-shot: the ``k`` class names whose CLIP text embeddings are closest (cosine) to
        each latent (B, D); best first."""
        k = check_k(k)
        names = list(class_names)
        if not names:
            raise ConfigError("no class names given")
        wrong = [n for n in names if not isinstance(n, str) or not n.strip()]
        if wrong:
            raise ConfigError(f"class names must be non-empty text, got {wrong[0]!r}")
        duplicate = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if duplicate is not None:
            raise ConfigError(f"the class name {duplicate!r} is given twice")
        indices, scores = top_k(latents, self.text_embeddings(names), min(k, len(names)))
        return [[(names[i], float(s)) for i, s in zip(row_i, row_s, strict=True)]
                for row_i, row_s in zip(indices, scores, strict=True)]

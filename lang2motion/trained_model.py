"""A loaded checkpoint (``Lang2Motion`` + model.json) with its recorded CLIP: the one class
behind evaluation (numpy batches: ``encode_tracks``, ``decode_tracks``), the verbs, the demo and
the Python API (:class:`Trajectory` objects: ``generate``, ``encode``, ``edit``...; README).
A trajectory is encoded as in training, its overlays drawn over the frames given or a plain
canvas (an unfamiliar background to the encoder). Legend: B batch, T frames, N points, D latent
(= CLIP embedding size), H/W frame size.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from lang2motion.config import GridConfig, OverlayConfig, from_dict
from lang2motion.embed.clip import ClipEncoder, load_clip
from lang2motion.errors import ConfigError, DataError
from lang2motion.evaluate.recognition import top_k
from lang2motion.evaluate.retrieval import cosine_matrix
from lang2motion.geometry import denormalise, normalise
from lang2motion.images import binarise_mask
from lang2motion.model.autoencoder import Lang2Motion
from lang2motion.model.checkpoint import load_model
from lang2motion.render.animate import plain_canvas
from lang2motion.render.overlay import render_overlays
from lang2motion.runtime import batch_slices, cpu_threads, resolve_device
from lang2motion.tracking.grid import place_grid
from lang2motion.trajectory import Trajectory

log = logging.getLogger(__name__)

DEFAULT_BATCH = 64
SMALL_BATCH = 8          # at most this many items run on one CPU thread (see cpu_threads)
DEFAULT_CANVAS = (256, 256)       # (W, H) of the frame when neither mask nor image is given
DEFAULT_DISC_FRACTION = 0.3       # radius of the default disc mask, as a fraction of min(W, H)
SLERP_PARALLEL = 1e-6             # below this angle (radians) interpolation is linear
# A canvas side the grid, the animation and a plain-canvas overlay video (T x H x W x 3 bytes:
# 1.5 GB at 4096 px and 30 frames) can all hold; larger sides fail in allocation, not here.
CANVAS_SIDE_RANGE = (16, 4096)
# Interpolation steps decoded and drawn side by side in one animation; beyond this the
# animation alone runs out of memory after minutes.
MAX_INTERPOLATION_STEPS = 64


def check_canvas(size: Sequence[int], *, option: str = "size") -> tuple[int, int]:  # (W, H)
    low, high = CANVAS_SIDE_RANGE
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ConfigError(f"{option} must be two whole numbers W H, got {size!r}") from None
    if not (low <= width <= high and low <= height <= high):
        raise ConfigError(f"{option} must be two whole numbers W H between {low} and {high} "
                          f"pixels, got {width} {height}")
    return width, height


def _whole(value: object, low: int, high: float = math.inf) -> bool:
    return (not isinstance(value, bool) and isinstance(value, (int, np.integer))
            and low <= value <= high)


def check_k(k: int, *, option: str = "k") -> int:  # 0 would silently return nothing
    if not _whole(k, 1):
        raise ConfigError(f"{option} must be a whole number >= 1, got {k!r}")
    return int(k)


def check_steps(steps: int) -> int:
    if not _whole(steps, 2, MAX_INTERPOLATION_STEPS):
        raise ConfigError(f"--steps must be a whole number from 2 (the two ends) to "
                          f"{MAX_INTERPOLATION_STEPS}, got {steps!r}")
    return int(steps)


def check_prompts(texts: str | Sequence[str]) -> list[str]:
    texts = [texts] if isinstance(texts, (str, bytes)) else list(texts)
    if not texts:
        raise ConfigError("no prompt given")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ConfigError(f"prompt {i + 1} is {type(text).__name__}, not text: give a "
                              "str (decode bytes first, e.g. data.decode('utf-8'))")
        if not text.strip():
            raise ConfigError(f"prompt {i + 1} is empty: give the motion in words, e.g. "
                              "\"a dog running to the left\"")
    return texts


def check_class_names(names: Sequence[str]) -> list[str]:
    names = list(names)
    if not names:
        raise ConfigError("no class names given")
    wrong = [n for n in names if not isinstance(n, str) or not n.strip()]
    if wrong:
        raise ConfigError(f"class names must be non-empty text, got {wrong[0]!r}")
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise ConfigError(f"the class name {twice!r} is given twice: give each class once")
    return names


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
    """Spherical interpolation from unit(a) (t=0) to unit(b) (t=1)."""
    a, b = unit(a[None])[0], unit(b[None])[0]
    omega = math.acos(float(np.clip(a @ b, -1.0, 1.0)))
    if omega < SLERP_PARALLEL:
        return (1.0 - t) * a + t * b
    return (math.sin((1.0 - t) * omega) * a + math.sin(t * omega) * b) / math.sin(omega)


class Lang2MotionModel:
    """A checkpoint's module (eval mode, on ``device``), its CLIP (built on first use), overlay
    and grid settings."""

    def __init__(self, module: Lang2Motion, meta: dict[str, Any], *,
                 path: str | os.PathLike[str], device: torch.device,
                 clip_model: str, clip_pretrained: str,
                 batch_size: int = DEFAULT_BATCH) -> None:
        self.module = module.eval()
        self.meta = meta                       # the checkpoint's model.json
        self.path = Path(path)
        self.device = device
        self.batch_size = batch_size
        self.clip_model = clip_model           # the CLIP the features were made with
        self.clip_pretrained = clip_pretrained
        self.random_clip = clip_pretrained.lower() == "none"   # prompts carry no language then
        self.frames, self.points = module.cfg.frames, module.cfg.points
        self.overlay = from_dict(OverlayConfig, meta.get("overlay"), "checkpoint overlay")
        self.grid_params = from_dict(GridConfig, meta.get("grid") or {}, "checkpoint grid")
        self._clip: ClipEncoder | None = None

    @classmethod
    def load(cls, path: str | os.PathLike[str] = "models", *, device: str = "auto",
             device_param: str = "--device", batch_size: int = DEFAULT_BATCH,
             clip_model: str | None = None, clip_pretrained: str | None = None
             ) -> Lang2MotionModel:
        """A checkpoint folder with the CLIP it records (``clip_*`` override it);
        ``device_param``: what an error about ``device`` names."""
        target = resolve_device(device, param=device_param)
        module, meta = load_model(path, device=target)
        recorded = meta.get("clip") or {}
        if clip_model and recorded.get("model") and clip_model != recorded["model"]:
            # the same width is not the same embedding space: a model only reads its own CLIP
            raise ConfigError(f"{Path(path)}: the model was trained with CLIP "
                              f"{recorded['model']!r}, not {clip_model!r}; its latents live in "
                              "that CLIP's embedding space. Leave out the CLIP model override "
                              "(use the clip pretrained override to load the same CLIP's "
                              "weights from a local file)")
        name = clip_model or recorded.get("model")
        weights = clip_pretrained or recorded.get("pretrained")
        if not name or not weights:
            raise ConfigError(f"{Path(path)}: the checkpoint does not say which CLIP it was "
                              "trained with; pass the CLIP model and weights explicitly")
        return cls(module, meta, path=path, device=target, clip_model=name,
                   clip_pretrained=weights, batch_size=batch_size)

    def describe(self) -> dict[str, Any]:     # what trajectory files record about the model
        return {"model": {"path": str(self.path), "epoch": self.meta.get("epoch"),
                          "git_rev": self.meta.get("git_rev")},
                "clip": {"model": self.clip_model, "pretrained": self.clip_pretrained}}

    # -- CLIP ------------------------------------------------------------------------------------
    @property
    def clip(self) -> ClipEncoder:
        """The recorded CLIP, built once on first use (the slow part of every command)."""
        if self._clip is None:
            self._clip = load_clip(model=self.clip_model, pretrained=self.clip_pretrained,
                                   device=str(self.device))
            if self._clip.dim != self.module.cfg.latent:
                raise ConfigError(f"CLIP {self.clip_model} embeds to {self._clip.dim} but the "
                                  f"model's latent is {self.module.cfg.latent}: use the CLIP it "
                                  "was trained with")
        return self._clip

    def _threads(self, items: int) -> int | None:    # one thread for a small CPU batch
        return 1 if self.device.type == "cpu" and items <= SMALL_BATCH else None

    def encode_texts(self, texts: list[str]) -> np.ndarray:       # (B, D) float32
        """Unchecked (stored captions); user prompts go through :meth:`text_embeddings`."""
        with cpu_threads(self._threads(len(texts))):
            return self.clip.encode_text(list(texts), batch_size=self.batch_size)

    def image_embeddings(self, images: np.ndarray) -> np.ndarray:     # (B, H, W, 3) -> (B, D)
        """CLIP embeddings of whole frames, squashed to CLIP's square input like overlays."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[3] != 3 or images.dtype != np.uint8 or not len(images):
            raise DataError(f"images must be a (B, H, W, 3) uint8 RGB array, got shape "
                            f"{images.shape} and dtype {images.dtype}")
        return self._overlay_clip(images, np.zeros((len(images), 0, 2)), opacity=0.0)

    def overlay_features(self,
                         frames: np.ndarray,  # (T, H, W, 3) uint8: the video, or a still repeated
                         tracks: np.ndarray,  # (T, N, 2) normalised
                         ) -> np.ndarray:     # (T, D) float32
        height, width = frames.shape[1:3]
        return self._overlay_clip(frames, denormalise(tracks, width, height),
                                  opacity=self.overlay.opacity)

    def _overlay_clip(self, frames: np.ndarray,   # (T, H, W, 3) uint8
                      tracks_px: np.ndarray,      # (T, N, 2) pixels; N = 0: resized frames
                      *, opacity: float) -> np.ndarray:   # (T, D)
        images = render_overlays(frames, tracks_px, np.ones(tracks_px.shape[:2], bool),
                                 size=self.overlay.size, color=self.overlay.color,
                                 opacity=opacity, line_width=self.overlay.line_width)
        return self.clip.encode_images(images, batch_size=self.batch_size)

    # -- the torch module on arrays, in batches --------------------------------------------------
    def _in_batches(self, fn: Callable[..., torch.Tensor],
                    *arrays: np.ndarray | None) -> np.ndarray:
        total = len(arrays[0])
        out = []
        with torch.inference_mode(), cpu_threads(self._threads(total)):
            for part in batch_slices(total, self.batch_size):
                tensors = [None if a is None else
                           torch.from_numpy(np.require(a[part], np.float32, ["C", "W"]))
                           .to(self.device) for a in arrays]
                out.append(fn(*tensors).float().cpu().numpy())
        if not out:
            raise DataError("nothing to run the model on (empty batch)")
        return np.concatenate(out)

    def encode_tracks(self,
                      tracks: np.ndarray,                  # (B, T, N, 2) normalised
                      overlay: np.ndarray | None = None,   # (B, T, D) CLIP overlay features
                      ) -> np.ndarray:                     # (B, D) z
        if self.module.cfg.use_overlay and overlay is None:
            raise DataError("this model encodes trajectories with their overlay features "
                            "(model.use_overlay): give them (see overlay_features)")
        if not self.module.cfg.use_overlay:
            overlay = None
        return self._in_batches(lambda t, o: self.module.encode(t, o), tracks, overlay)

    def decode_tracks(self,
                      latents: np.ndarray,                 # (B, D) z or CLIP embeddings, any norm
                      grids: np.ndarray,                   # (B, N, 2) p_0, normalised
                      teacher: np.ndarray | None = None,   # (B, T, N, 2) ground truth, or None
                      ) -> np.ndarray:                     # (B, T, N, 2)
        if len(latents) != len(grids):
            raise DataError(f"{len(latents)} latents for {len(grids)} grids")
        return self._in_batches(lambda z, g, t: self.module.decode(z, g, teacher=t), latents,
                                grids, teacher)

    # -- inputs ---------------------------------------------------------------------------------
    def grid(self, mask: np.ndarray) -> np.ndarray:      # (H, W) bool -> (N, 2) pixels
        """The initial grid inside ``mask``, placed as training placed it."""
        size = math.isqrt(self.points)
        if size * size != self.points:
            raise ConfigError(f"{self.path}: the model has {self.points} points, not a square "
                              "grid")
        return place_grid(binarise_mask(mask), size=size,
                          erode_iterations=self.grid_params.erode_iterations,
                          margin=self.grid_params.margin)

    def grids(self, count: int, *, mask: np.ndarray | None = None,
              size: tuple[int, int] = DEFAULT_CANVAS) -> tuple[np.ndarray, int, int]:
        """(count, N, 2) normalised grids inside ``mask`` (else a disc on a ``size`` (W, H)
        canvas), and the frame's width and height."""
        if mask is None:
            mask = default_mask(*check_canvas(size))
        mask = binarise_mask(mask)
        height, width = mask.shape
        grid = normalise(self.grid(mask), width, height)
        return np.repeat(grid[None], count, axis=0), width, height

    def check_prompts(self, texts: str | Sequence[str]) -> list[str]:   # warns on long prompts
        texts = check_prompts(texts)
        clip = self.clip
        for text, count in zip(texts, clip.token_counts(texts), strict=True):
            if count > clip.context_length:
                log.warning("the prompt %r has %d tokens; %s reads only the first %d (the rest "
                            "is ignored)", text[:60], count, clip.name, clip.context_length)
        return texts

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:      # -> (B, D)
        return self.encode_texts(self.check_prompts(texts))

    # -- latent -> trajectory -------------------------------------------------------------------
    def decode(self, latents: np.ndarray, *, mask: np.ndarray | None = None,
               size: tuple[int, int] = DEFAULT_CANVAS, labels: Sequence[str] | None = None,
               source: dict[str, Any] | None = None) -> list[Trajectory]:
        """Trajectories decoded from ``latents`` (B, D) from the grid inside ``mask`` (H, W)."""
        latents = self.check_latents(latents)
        grids, width, height = self.grids(len(latents), mask=mask, size=size)
        return self.decode_from_grids(latents, grids, width=width, height=height, labels=labels,
                                      source=source)

    def check_latents(self, latents: object) -> np.ndarray:   # -> (B, D) float32
        try:
            array = np.atleast_2d(np.asarray(latents, dtype=np.float32))
        except (TypeError, ValueError) as exc:
            raise DataError(f"latents must be numbers, (B, D) or (D,): {exc}") from None
        latent = self.module.cfg.latent
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
        tracks = self.decode_tracks(latents, grids)
        labels = list(labels) if labels is not None else [""] * len(tracks)
        return [Trajectory(tracks=t, width=width, height=height, label=label,
                           source=dict(source or {}), meta=self.describe())
                for t, label in zip(tracks, labels, strict=True)]

    def generate(self, texts: str | Sequence[str], *, mask: np.ndarray | None = None,
                 size: tuple[int, int] = DEFAULT_CANVAS) -> list[Trajectory]:
        texts = self.check_prompts(texts)
        return self.decode(self.encode_texts(texts), mask=mask, size=size, labels=texts,
                           source={"kind": "text"})

    # -- trajectory -> latent -------------------------------------------------------------------
    def encode(self, trajectories: Sequence[Trajectory], *,
               frames: np.ndarray | None = None) -> np.ndarray:           # -> (B, D) z
        """The encoder's latent of each trajectory, its overlays drawn over ``frames``
        ((T, H, W, 3) or one (H, W, 3) still) or a plain canvas."""
        if not trajectories:
            raise DataError("no trajectory to encode")
        tracks = np.stack([self._fit(t) for t in trajectories])
        overlay = None
        if self.module.cfg.use_overlay:
            overlay = np.stack([self.overlay_features(self.background(t, frames), t.tracks)
                                for t in trajectories])
        return self.encode_tracks(tracks, overlay)

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
        return self.overlay_features(self.background(trajectory, frames),
                                     self._fit(trajectory)).mean(axis=0)

    def background(self, trajectory: Trajectory, frames: np.ndarray | None) -> np.ndarray:
        """(T, H, W, 3): ``frames`` (a still repeated) or a plain canvas."""
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
        """(index, cosine) of the ``k`` rows of ``latents`` (B, D) closest to ``text``."""
        k = check_k(k)
        scores = cosine_matrix(self.text_embeddings([text]), self.check_latents(latents))[0]
        order = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in order]

    def interpolate(self, a: str | Trajectory, b: str | Trajectory, *, steps: int,
                    mask: np.ndarray | None = None,
                    size: tuple[int, int] = DEFAULT_CANVAS) -> list[Trajectory]:
        """``steps`` decodings along the slerp from ``a`` to ``b`` (prompts or trajectories),
        all from the same grid; step 0 decodes ``a``, the last ``b``."""
        check_steps(steps)
        za, zb = (self.encode([x])[0] if isinstance(x, Trajectory) else
                  self.text_embeddings([x])[0] for x in (a, b))
        ts = np.linspace(0.0, 1.0, steps)
        latents = np.stack([slerp(za, zb, float(t)) for t in ts])
        names = [x.label if isinstance(x, Trajectory) else x for x in (a, b)]
        return self.decode(latents, mask=mask, size=size,
                           labels=[f"t={t:.2f}" for t in ts],
                           source={"kind": "interpolation", "from": names[0], "to": names[1]})

    def edit(self, trajectory: Trajectory, source_text: str, target_text: str, *,
             frames: np.ndarray | None = None) -> Trajectory:
        """MotionCLIP's unit(z) + unit(text(target)) - unit(text(source)), decoded from the
        trajectory's own first frame."""
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
        """Zero-shot: the ``k`` class names closest (cosine) to each latent (B, D)."""
        k = check_k(k)
        names = check_class_names(class_names)
        indices, scores = top_k(latents, self.text_embeddings(names), min(k, len(names)))
        return [[(names[i], float(s)) for i, s in zip(row_i, row_s, strict=True)]
                for row_i, row_s in zip(indices, scores, strict=True)]

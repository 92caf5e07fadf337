"""A trained model with the CLIP it was trained with: texts, images and trajectories to latents,
latents to trajectories, in batches.

The one inference path shared by the evaluate stage and the apps (``lang2motion generate`` and the
Python API), so that both encode a trajectory the way training did: its overlays are rendered with
the overlay settings recorded in the checkpoint and encoded by the recorded CLIP.

Legend: B batch, T frames, N points, D latent (= CLIP embedding size), H/W frame size.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lang2motion.config import OverlayConfig, from_dict
from lang2motion.embed.clip import ClipEncoder, load_clip
from lang2motion.errors import ConfigError, DataError
from lang2motion.geometry import denormalise
from lang2motion.model.autoencoder import Lang2Motion
from lang2motion.model.checkpoint import load_model
from lang2motion.render.overlay import render_overlays
from lang2motion.runtime import batch_slices, cpu_threads, resolve_device

log = logging.getLogger(__name__)

DEFAULT_BATCH = 64
SMALL_BATCH = 8          # at most this many items run on one CPU thread (see cpu_threads)


@dataclass
class Inference:
    """A loaded checkpoint (eval mode, on ``device``) and, loaded on first use, its CLIP."""

    model: Lang2Motion
    meta: dict[str, Any]                 # the checkpoint's model.json
    device: torch.device
    batch_size: int = DEFAULT_BATCH
    clip_model: str = ""                 # the CLIP the features were made with
    clip_pretrained: str = ""
    overlay: OverlayConfig = field(default_factory=OverlayConfig)
    _clip: ClipEncoder | None = None

    @classmethod
    def load(cls, model_dir: str | os.PathLike[str], *, device: str = "auto",
             device_param: str = "--device", batch_size: int = DEFAULT_BATCH,
             clip_model: str | None = None, clip_pretrained: str | None = None) -> Inference:
        """Load ``model_dir`` (model.safetensors + model.json). The CLIP defaults to the one the
        checkpoint records; ``clip_model`` / ``clip_pretrained`` override it."""
        target = resolve_device(device, param=device_param)
        model, meta = load_model(model_dir, device=target)
        recorded = meta.get("clip") or {}
        if clip_model and recorded.get("model") and clip_model != recorded["model"]:
            # the same width is not the same embedding space: a model only reads its own CLIP
            raise ConfigError(f"{Path(model_dir)}: the model was trained with CLIP "
                              f"{recorded['model']!r}, not {clip_model!r}; its latents live in "
                              "that CLIP's embedding space. Leave out the CLIP model override "
                              "(use the clip pretrained override to load the same CLIP's "
                              "weights from a local file)")
        name = clip_model or recorded.get("model")
        weights = clip_pretrained or recorded.get("pretrained")
        if not name or not weights:
            raise ConfigError(f"{Path(model_dir)}: the checkpoint does not say which CLIP it was "
                              "trained with; pass the CLIP model and weights explicitly")
        overlay = from_dict(OverlayConfig, meta.get("overlay"), "checkpoint overlay")
        return cls(model=model.eval(), meta=meta, device=target, batch_size=batch_size,
                   clip_model=name, clip_pretrained=weights, overlay=overlay)

    # -- CLIP ------------------------------------------------------------------------------------
    @property
    def clip(self) -> ClipEncoder:
        """The recorded CLIP, built on first use (text generation needs its text tower only, but
        building it is the slow part of every command: do it once)."""
        if self._clip is None:
            self._clip = load_clip(model=self.clip_model, pretrained=self.clip_pretrained,
                                   device=str(self.device))
            if self._clip.dim != self.model.cfg.latent:
                raise ConfigError(f"CLIP {self.clip_model} embeds to {self._clip.dim} but the "
                                  f"model's latent is {self.model.cfg.latent}: use the CLIP it "
                                  "was trained with")
        return self._clip

    def _threads(self, items: int) -> int | None:
        """One intra-op thread for a small batch on the CPU; else torch's default."""
        return 1 if self.device.type == "cpu" and items <= SMALL_BATCH else None

    def encode_texts(self, texts: list[str]) -> np.ndarray:       # (B, D) float32
        with cpu_threads(self._threads(len(texts))):
            return self.clip.encode_text(list(texts), batch_size=self.batch_size)

    def encode_images(self, images: np.ndarray) -> np.ndarray:   # (B, H, W, 3) -> (B, D)
        """CLIP image embeddings of whole frames, squashed to CLIP's square input like overlays
        (opacity 0: no trails)."""
        count = len(images)
        squares = render_overlays(np.asarray(images), np.zeros((count, 0, 2)),
                                  np.zeros((count, 0), bool), size=self.overlay.size,
                                  color=self.overlay.color, opacity=0.0,
                                  line_width=self.overlay.line_width)   # opacity 0: resize only
        return self.clip.encode_images(squares, batch_size=self.batch_size)

    def overlay_features(self,
                         frames: np.ndarray,  # (T, H, W, 3) uint8: the video, or a still repeated
                         tracks: np.ndarray,  # (T, N, 2) normalised
                         ) -> np.ndarray:     # (T, D) float32
        """The per-frame CLIP embeddings of a trajectory's overlays, rendered as in training."""
        height, width = frames.shape[1:3]
        images = render_overlays(frames, denormalise(tracks, width, height),
                                 np.ones(tracks.shape[:2], bool), size=self.overlay.size,
                                 color=self.overlay.color, opacity=self.overlay.opacity,
                                 line_width=self.overlay.line_width)
        return self.clip.encode_images(images, batch_size=self.batch_size)

    # -- the model -------------------------------------------------------------------------------
    def _run(self, fn, *arrays: np.ndarray | None) -> np.ndarray:
        """``fn`` on batches of equally long arrays (None passes through), on the device."""
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

    def latents(self,
                tracks: np.ndarray,                  # (B, T, N, 2) normalised
                overlay: np.ndarray | None = None,   # (B, T, D) CLIP overlay features
                ) -> np.ndarray:                     # (B, D) z
        if self.model.cfg.use_overlay and overlay is None:
            raise DataError("this model encodes trajectories with their overlay features "
                            "(model.use_overlay): give them (see overlay_features)")
        if not self.model.cfg.use_overlay:
            overlay = None
        return self._run(lambda t, o: self.model.encode(t, o), tracks, overlay)

    def decode(self,
               latents: np.ndarray,                 # (B, D) z or CLIP embeddings, any norm
               grids: np.ndarray,                   # (B, N, 2) p_0, normalised
               teacher: np.ndarray | None = None,   # (B, T, N, 2) ground truth, or None
               ) -> np.ndarray:                     # (B, T, N, 2)
        """Decode from the initial grids: own outputs, or teacher forcing when given."""
        if len(latents) != len(grids):
            raise DataError(f"{len(latents)} latents for {len(grids)} grids")
        return self._run(lambda z, g, t: self.model.decode(z, g, teacher=t), latents, grids,
                         teacher)

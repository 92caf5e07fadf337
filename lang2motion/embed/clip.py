"""A frozen open_clip model that turns captions and overlay images into embeddings.

``load_clip(model=..., pretrained=...)`` accepts three kinds of ``pretrained``:
- ``"none"``: random weights (the offline default). The initialisation is seeded with
  ``RANDOM_INIT_SEED`` inside a forked RNG, so the same model name gives the same weights, hence
  the same features, on every run, without touching the caller's random state. Such features
  are stand-ins that carry no language or image knowledge.
- a local weights file (the value contains a path separator or ends with one of
  ``WEIGHT_SUFFIXES``): loaded strictly into the named architecture.
- anything else is an open_clip tag (``openai``, ``laion2b_s34b_b79k``, ...) downloaded from the
  Hugging Face hub into its cache; offline this fails with a DependencyError saying what to get.
  A tag trained with QuickGELU (``openai``) switches the architecture to QuickGELU itself; for a
  local file of such weights name the matching model (``ViT-B-32-quickgelu``).

Model names are open_clip's registry plus the configs in ``model_configs/`` (``L2M-Tiny``: a tiny
CLIP for fast tests). Legend: B batch, D embedding size, H height, W width.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lang2motion.errors import ConfigError, DataError, DependencyError
from lang2motion.runtime import autocast, resolve_device

log = logging.getLogger(__name__)

MODEL_CONFIG_DIR = Path(__file__).parent / "model_configs"
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".safetensors")
RANDOM_INIT_SEED = 0      # seed of the random ("none") initialisation: same weights every run
PIXEL_MAX = 255.0         # uint8 -> [0, 1]
# Resizing in encode_images only happens when the overlays were rendered at another size than
# the model's input; bicubic with antialiasing is what CLIP's own preprocessing uses.
RESIZE_MODE = "bicubic"


def _register_local_configs() -> None:
    """Add our model configs to open_clip's registry once (not at import: no work at import)."""
    import open_clip

    local = {p.stem for p in MODEL_CONFIG_DIR.glob("*.json")}
    if not local <= set(open_clip.list_models()):
        open_clip.add_model_config(MODEL_CONFIG_DIR)


def is_weights_path(pretrained: str) -> bool:
    """True when ``pretrained`` names a local file rather than an open_clip tag."""
    return "/" in pretrained or "\\" in pretrained or pretrained.endswith(WEIGHT_SUFFIXES)


@dataclass
class ClipEncoder:
    """A frozen CLIP model in eval mode with its tokenizer; encodes text and images to (B, D)."""

    model: Any                 # open_clip CLIP module
    tokenizer: Any             # open_clip tokenizer for this model
    name: str
    pretrained: str
    device: torch.device
    random: bool               # True when the weights are random stand-ins
    dim: int                   # D: the joint embedding size
    image_size: int            # side of the square input image
    mean: tuple[float, ...]    # per-channel normalisation of [0, 1] pixels
    std: tuple[float, ...]

    def describe(self) -> dict[str, Any]:
        """What produced the features, for logs, summaries and the report."""
        return {"model": self.name, "pretrained": self.pretrained, "dim": self.dim,
                "device": str(self.device), "random": self.random}

    def autocast(self) -> Any:
        """The precision context of every encode: fp16 autocast on CUDA, fp32 elsewhere."""
        # fp16 on CUDA halves the encoder's time; CPU stays in fp32 (CPU fp16 is slow).
        return autocast(self.device, torch.float16)

    def encode_text(self, texts: list[str], *, batch_size: int) -> np.ndarray:  # (B, D) float32
        """Unnormalised CLIP text embeddings of ``texts``, in order."""
        if batch_size < 1:
            raise ConfigError(f"clip.batch_size must be >= 1, got {batch_size}")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        with torch.inference_mode(), self.autocast():
            for lo in range(0, len(texts), batch_size):
                tokens = self.tokenizer(list(texts[lo:lo + batch_size])).to(self.device)
                out[lo:lo + len(tokens)] = self.model.encode_text(tokens).float().cpu().numpy()
        return out

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:  # (B, H, W, 3) uint8 -> (B, 3, S, S)
        """uint8 RGB on the model's device -> normalised float input, resized only if needed."""
        x = images.permute(0, 3, 1, 2).float().div_(PIXEL_MAX)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode=RESIZE_MODE,
                              antialias=True, align_corners=False).clamp_(0.0, 1.0)
        mean = torch.tensor(self.mean, device=x.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, -1, 1, 1)
        return (x - mean) / std

    def encode_images(
        self,
        images: np.ndarray,  # (B, H, W, 3) uint8 RGB, normally H = W = image_size
        *,
        batch_size: int,
    ) -> np.ndarray:         # (B, D) float32
        """Unnormalised CLIP image embeddings; preprocessing is a tensor op on the device."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
            raise DataError(f"images must be (B, H, W, 3) uint8, got {images.shape} "
                            f"{images.dtype}")
        if batch_size < 1:
            raise ConfigError(f"clip.batch_size must be >= 1, got {batch_size}")
        out = np.empty((len(images), self.dim), dtype=np.float32)
        pin = self.device.type == "cuda"
        with torch.inference_mode(), self.autocast():
            for lo in range(0, len(images), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(images[lo:lo + batch_size]))
                if pin:
                    batch = batch.pin_memory()
                # Move uint8 (4x fewer bytes than float), convert on the device.
                x = self.preprocess(batch.to(self.device, non_blocking=pin))
                out[lo:lo + len(x)] = self.model.encode_image(x).float().cpu().numpy()
        return out


def _dependency_hint(model: str, tag: str) -> str:
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, tag)
    hub = (cfg.get("hf_hub") or "").rstrip("/")
    where = (f"the Hugging Face repository {hub} (file open_clip_pytorch_model.bin or "
             "open_clip_model.safetensors)" if hub else cfg.get("url", "its source"))
    return (f"download the weights for {model!r} tag {tag!r} on a machine with internet access "
            f"from {where}, copy the file here and set clip.pretrained to its path (e.g. "
            f"-S clip.pretrained=/path/to/open_clip_pytorch_model.bin); or use "
            f"clip.pretrained=none for random stand-in weights")


def load_clip(*, model: str, pretrained: str, device: str = "auto",
              cache_dir: str | None = None) -> ClipEncoder:
    """Build a frozen CLIP: ``pretrained`` is ``none``, a local weights file or a tag.

    Raises ConfigError for an unknown model name or tag, DependencyError when weights are
    missing, unreadable, do not fit ``model``, or cannot be downloaded. ``cache_dir`` is where
    tag downloads are cached (default: the Hugging Face cache).
    """
    import open_clip

    _register_local_configs()
    if model not in open_clip.list_models():
        raise ConfigError(f"clip.model {model!r} is not an open_clip model; see "
                          "open_clip.list_models() (e.g. ViT-B-32) or the configs in "
                          f"{MODEL_CONFIG_DIR}")
    target = resolve_device(device, param="clip.device")
    random_init = pretrained.lower() == "none"
    kwargs: dict[str, Any] = {"device": "cpu", "cache_dir": cache_dir}
    if random_init:
        weights = None
        log.warning("=" * 78)
        log.warning("CLIP %s has RANDOM weights (clip.pretrained=none): its text and image "
                    "features are meaningless stand-ins, not CLIP's. Set clip.pretrained to a "
                    "tag (openai) or a local weights file for real features.", model)
        log.warning("=" * 78)
    elif is_weights_path(pretrained):
        weights = str(Path(pretrained).expanduser())
        if not Path(weights).is_file():
            raise DependencyError(f"CLIP weights file {weights} (clip.pretrained, model "
                                  f"{model}) does not exist")
    else:
        tags = open_clip.list_pretrained_tags_by_model(model)
        if not open_clip.get_pretrained_cfg(model, pretrained):
            raise ConfigError(f"clip.pretrained {pretrained!r} is neither 'none', a weights file "
                              f"(a path, or ending in {', '.join(WEIGHT_SUFFIXES)}) nor a tag of "
                              f"{model}; known tags: {', '.join(tags) or '(none)'}")
        weights = pretrained
        # OpenAI's weights were trained with QuickGELU; a plain config would silently differ.
        tag_quick_gelu = open_clip.get_pretrained_cfg(model, pretrained).get("quick_gelu", False)
        model_quick_gelu = open_clip.get_model_config(model).get("quick_gelu", False)
        kwargs["force_quick_gelu"] = tag_quick_gelu and not model_quick_gelu

    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            clip_model, _, _ = open_clip.create_model_and_transforms(model, pretrained=weights,
                                                                     **kwargs)
    except Exception as exc:  # open_clip raises RuntimeError/OSError/pickle and safetensors errors
        if weights is None:
            raise
        if is_weights_path(pretrained):
            raise DependencyError(f"CLIP weights file {weights} could not be loaded into model "
                                  f"{model} (wrong architecture or not a checkpoint): "
                                  f"{str(exc)[:500]}") from exc
        raise DependencyError(f"CLIP weights {model!r} tag {pretrained!r} could not be "
                              f"downloaded ({str(exc)[:300]}); {_dependency_hint(model, pretrained)}"
                              ) from exc

    clip_model = clip_model.to(target).eval().requires_grad_(False)
    pp_cfg = getattr(clip_model.visual, "preprocess_cfg", {})
    size = pp_cfg.get("size", clip_model.visual.image_size)
    if isinstance(size, (tuple, list)):
        if len(set(size)) != 1:
            raise ConfigError(f"clip.model {model}: non-square input {size} is not supported")
        size = size[0]
    encoder = ClipEncoder(
        model=clip_model, tokenizer=open_clip.get_tokenizer(model), name=model,
        pretrained=pretrained, device=target, random=random_init,
        dim=int(open_clip.get_model_config(model)["embed_dim"]), image_size=int(size),
        mean=tuple(pp_cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)),
        std=tuple(pp_cfg.get("std", open_clip.OPENAI_DATASET_STD)))
    log.info("CLIP %s", encoder.describe())
    return encoder

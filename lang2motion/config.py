"""Typed, frozen views of params.yaml. Unknown or missing keys are clear errors.

Each section of params.yaml maps to one dataclass; stage scripts read only the sections they
declare in dvc.yaml. ``load_params(path, "track", "grid")`` returns a dict of section objects.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lang2motion.errors import ConfigError


@dataclass(frozen=True)
class SynthConfig:
    seed: int = 0
    train_videos: int = 36
    valid_videos: int = 12
    video_frames: int = 32
    height: int = 192
    width: int = 256


@dataclass(frozen=True)
class MevisConfig:
    root: str = "data/mevis"
    download: bool = False
    max_videos: int = 0


@dataclass(frozen=True)
class DataConfig:
    source: str = "synth"
    train_split: str = "train"
    valid_split: str = "valid_u"
    frames: int = 30
    window_stride: int = 15
    max_windows: int = 1
    synth: SynthConfig = field(default_factory=SynthConfig)
    mevis: MevisConfig = field(default_factory=MevisConfig)

    @property
    def splits(self) -> tuple[str, str]:
        return (self.train_split, self.valid_split)

    @property
    def max_videos(self) -> int:
        """Videos per split to use (0 = all): data.mevis.max_videos applies to MeViS only."""
        return self.mevis.max_videos if self.source == "mevis" else 0

    def validate(self) -> None:
        if self.source not in ("synth", "mevis"):
            raise ConfigError(f"data.source must be 'synth' or 'mevis', got {self.source!r}")
        if self.frames < 2:
            raise ConfigError(f"data.frames must be >= 2, got {self.frames}")
        if self.window_stride < 1:
            raise ConfigError(f"data.window_stride must be >= 1, got {self.window_stride}")
        if self.synth.video_frames < self.frames:
            raise ConfigError(f"data.synth.video_frames ({self.synth.video_frames}) must be >= "
                              f"data.frames ({self.frames})")


@dataclass(frozen=True)
class GridConfig:
    size: int = 6
    erode_iterations: int = 3
    margin: float = 0.1

    def validate(self) -> None:
        if self.size < 1:
            raise ConfigError(f"grid.size must be >= 1, got {self.size}")
        if not 0.0 <= self.margin < 0.5:
            raise ConfigError(f"grid.margin must be in [0, 0.5), got {self.margin}")


@dataclass(frozen=True)
class TrackConfig:
    backend: str = "lk"
    checkpoint: str = ""
    device: str = "auto"

    def validate(self) -> None:
        if self.backend not in ("lk", "cotracker3"):
            raise ConfigError(f"track.backend must be 'lk' or 'cotracker3', got {self.backend!r}")


@dataclass(frozen=True)
class OverlayConfig:
    color: str = "cyan"
    opacity: float = 0.5
    size: int = 224
    line_width: int = 2
    fps: int = 10

    def validate(self) -> None:
        if not 0.0 <= self.opacity <= 1.0:
            raise ConfigError(f"overlay.opacity must be in [0, 1], got {self.opacity}")


@dataclass(frozen=True)
class ClipConfig:
    model: str = "ViT-B-32"
    pretrained: str = "none"
    batch_size: int = 32
    device: str = "auto"


@dataclass(frozen=True)
class ModelParams:
    latent: int = 512
    layers: int = 4
    heads: int = 4
    ff: int = 1024
    dropout: float = 0.1
    decoder: str = "autoregressive"
    decoder_hidden: int = 1024
    use_overlay: bool = True

    def validate(self) -> None:
        if self.decoder not in ("autoregressive", "direct", "transformer"):
            raise ConfigError("model.decoder must be autoregressive, direct or transformer, "
                              f"got {self.decoder!r}")


@dataclass(frozen=True)
class LossConfig:
    l1: bool = True
    vel: float = 0.01
    range: float = 0.1
    text: float = 0.1
    image: float = 0.1
    text_recon: float = 0.5


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 0.01
    seed: int = 0
    device: str = "auto"
    checkpoint_every: int = 1


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "grid": GridConfig,
    "track": TrackConfig,
    "overlay": OverlayConfig,
    "clip": ClipConfig,
    "model": ModelParams,
    "loss": LossConfig,
    "train": TrainConfig,
}


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        return from_dict(annotation, value, where)
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def from_dict(cls: type, values: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(f'{where}.{k}' for k in unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def load_params(path: str | Path = "params.yaml", *sections: str) -> dict[str, Any]:
    """Read the named sections of a params file into frozen dataclasses.

    With no section names every section present in the file is read. Sections absent from the
    file get their defaults. Unknown top-level sections are rejected.
    """
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"{path}: parameter file not found") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    unknown = sorted(set(raw) - set(SECTIONS) - {"eval", "report"})
    if unknown:
        raise ConfigError(f"{path}: unknown parameter section(s) {unknown}; known: "
                          f"{sorted(SECTIONS)}")
    wanted = sections or tuple(k for k in SECTIONS if k in raw)
    out = {}
    for name in wanted:
        if name not in SECTIONS:
            raise ConfigError(f"no parameter section named {name!r}")
        out[name] = from_dict(SECTIONS[name], raw.get(name), name)
    return out


def as_dict(obj: Any) -> dict[str, Any]:
    """A plain dict of a config dataclass (for JSON sidecars and checkpoints)."""
    return dataclasses.asdict(obj)

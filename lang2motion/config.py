"""Typed, frozen, validated views of params.yaml: one dataclass per section.

Every field declares its accepted values (``choices``, a range, non-empty) next to its default, so
a bad value fails at load time, in well under a second and before any slow work, with the
parameter's name, its value and what is accepted. Checks that involve several fields, or that
depend on the data source, live in a section's ``validate``. The dataclass defaults are the
project's defaults: ``tests/test_config.py`` keeps params.yaml equal to them.

``load_params(path, "track", "grid")`` returns ``{"track": TrackConfig, "grid": GridConfig}``;
unknown sections or keys are refused with the known names. This module also holds the lists of
choices parameters accept (devices, trackers, decoders, overlay colours): one home for each.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lang2motion.errors import ConfigError
from lang2motion.io import read_text

DEVICE_CHOICES = ("auto", "cpu", "cuda")          # also cuda:<index>
DATA_SOURCES = ("synth", "mevis", "folder")
TRACKER_BACKENDS = ("lk", "cotracker3")
DECODERS = ("autoregressive", "direct", "transformer")
LR_SCHEDULES = ("constant", "cosine", "linear")
PRECISIONS = ("auto", "fp32", "bf16")
# RGB of the trail colours of the paper's Table 7 (overlay.color)
OVERLAY_COLORS: dict[str, tuple[int, int, int]] = {
    "cyan": (0, 255, 255),
    "blue": (0, 0, 255),
    "white": (255, 255, 255),
    "red": (255, 0, 0),
    "green": (0, 255, 0),
    "yellow": (255, 255, 0),
    "black": (0, 0, 0),
}


def param(default: Any = dataclasses.MISSING, *, choices: Sequence[Any] | None = None,
          low: float | None = None, high: float | None = None, low_open: bool = False,
          high_open: bool = False, nonempty: bool = False, device: bool = False,
          factory: Any = dataclasses.MISSING) -> Any:
    """A dataclass field with its accepted values: ``choices``, a range [low, high] (either end
    open with ``*_open``), a non-empty string, or a device name (auto | cpu | cuda[:N])."""
    meta = {"choices": tuple(choices) if choices is not None else None, "low": low, "high": high,
            "low_open": low_open, "high_open": high_open, "nonempty": nonempty,
            "device": device}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def check_device_name(name: str, *, param: str) -> None:
    """ConfigError unless ``name`` is auto, cpu, cuda or cuda:<index> (no CUDA query here)."""
    base, _, index = str(name).partition(":")
    if base not in DEVICE_CHOICES or (index and (base != "cuda" or not index.isdigit())):
        raise ConfigError(f"{param} must be one of {', '.join(DEVICE_CHOICES)} (or cuda:<index>),"
                          f" got {name!r}")


def _range_text(meta: dict[str, Any]) -> str:
    low, high = meta["low"], meta["high"]
    if high is None:
        return f"> {low}" if meta["low_open"] else f">= {low}"
    if low is None:
        return f"< {high}" if meta["high_open"] else f"<= {high}"
    return (f"in {'(' if meta['low_open'] else '['}{low}, {high}"
            f"{')' if meta['high_open'] else ']'}")


def _check_field(value: Any, meta: dict[str, Any], where: str) -> None:
    if meta.get("device"):
        check_device_name(value, param=where)
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"{where} must be one of {', '.join(map(str, meta['choices']))}, "
                          f"got {value!r}")
    if meta.get("nonempty") and not str(value).strip():
        raise ConfigError(f"{where} must not be empty")
    low, high = meta.get("low"), meta.get("high")
    if low is None and high is None:
        return
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where} must be a finite number {_range_text(meta)}, got {value!r}")
    too_low = low is not None and (value <= low if meta["low_open"] else value < low)
    too_high = high is not None and (value >= high if meta["high_open"] else value > high)
    if too_low or too_high:
        raise ConfigError(f"{where} must be {_range_text(meta)}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Sections


@dataclass(frozen=True)
class SynthConfig:
    seed: int = param(0, low=0)
    train_videos: int = param(300, low=1)
    valid_videos: int = param(72, low=1)
    video_frames: int = param(30, low=2)
    height: int = param(192, low=64)
    width: int = param(256, low=64)


@dataclass(frozen=True)
class MevisConfig:
    root: str = param("data/mevis", nonempty=True)
    download: bool = False
    max_videos: int = param(0, low=0)


@dataclass(frozen=True)
class FolderConfig:
    """A user's own clips (``data.source: folder``): see lang2motion/data/folder/."""

    root: str = "examples/own_videos"                   # folder with clips.jsonl or clips.csv
    fps: float = param(6.0, low=0.0, low_open=True)     # MeViS-like frame density
    max_side: int = param(640, low=0)                   # long side in pixels; 0 = keep
    sam_checkpoint: str = ""                            # SAM weights for boxes/clicks; "" = none


@dataclass(frozen=True)
class DataConfig:
    source: str = param("synth", choices=DATA_SOURCES)
    train_split: str = param("train", nonempty=True)
    valid_split: str = param("valid_u", nonempty=True)
    frames: int = param(30, low=2)
    window_stride: int = param(15, low=1)
    max_windows: int = param(3, low=0)
    synth: SynthConfig = param(factory=SynthConfig)
    mevis: MevisConfig = param(factory=MevisConfig)
    folder: FolderConfig = param(factory=FolderConfig)

    @property
    def splits(self) -> tuple[str, str]:
        return (self.train_split, self.valid_split)

    @property
    def max_videos(self) -> int:
        """Videos per split to use (0 = all): data.mevis.max_videos applies to MeViS only."""
        return self.mevis.max_videos if self.source == "mevis" else 0

    def validate(self) -> None:
        if self.train_split == self.valid_split:
            raise ConfigError(f"data.train_split and data.valid_split are both "
                              f"{self.train_split!r}; they must name different splits")
        if self.source == "synth" and self.synth.video_frames < self.frames:
            raise ConfigError(f"data.synth.video_frames ({self.synth.video_frames}) must be >= "
                              f"data.frames ({self.frames}): a sample window needs that many "
                              "frames")
        if self.source == "folder" and not self.folder.root.strip():
            raise ConfigError("data.folder.root must name a folder holding clips.jsonl or "
                              "clips.csv (or the manifest file itself) when data.source is "
                              "folder")


@dataclass(frozen=True)
class GridConfig:
    size: int = param(6, low=1)
    erode_iterations: int = param(3, low=0)
    margin: float = param(0.1, low=0.0, high=0.5, high_open=True)


@dataclass(frozen=True)
class TrackConfig:
    backend: str = param("lk", choices=TRACKER_BACKENDS)
    checkpoint: str = ""
    device: str = param("auto", device=True)


@dataclass(frozen=True)
class OverlayConfig:
    color: str = param("cyan", choices=tuple(OVERLAY_COLORS))
    opacity: float = param(0.5, low=0.0, high=1.0)
    size: int = param(224, low=16)
    line_width: int = param(2, low=1)
    fps: int = param(10, low=1)


@dataclass(frozen=True)
class ClipConfig:
    model: str = param("L2M-Mini512", nonempty=True)
    pretrained: str = param("none", nonempty=True)
    batch_size: int = param(32, low=1)
    device: str = param("auto", device=True)


@dataclass(frozen=True)
class DistConfig:
    """Processes of the sharded preprocessing stages (track, render, embed) on this node: > 1
    makes the stage re-run itself under torchrun; the output is the same whatever the number."""

    nproc: int = param(1, low=1)


@dataclass(frozen=True)
class ModelParams:
    latent: int = param(512, low=1)
    layers: int = param(4, low=1)
    heads: int = param(4, low=1)
    ff: int = param(1024, low=1)
    dropout: float = param(0.0, low=0.0, high=1.0, high_open=True)
    decoder: str = param("autoregressive", choices=DECODERS)
    decoder_hidden: int = param(1024, low=1)
    use_overlay: bool = True
    latent_scale: float = param(8.0, low=0.0, low_open=True)

    def validate(self) -> None:
        if self.latent % self.heads:
            raise ConfigError(f"model.latent ({self.latent}) must be divisible by model.heads "
                              f"({self.heads})")


@dataclass(frozen=True)
class LossConfig:
    l1: bool = True
    vel: float = param(0.01, low=0.0)
    range: float = param(0.1, low=0.0)
    text: float = param(0.1, low=0.0)
    image: float = param(0.1, low=0.0)
    text_recon: float = param(2.0, low=0.0)
    contrastive: float = param(0.0, low=0.0)
    temperature: float = param(0.1, low=0.0, low_open=True)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = param(8, low=0)
    batch_size: int = param(32, low=1)
    lr: float = param(1e-3, low=0.0, low_open=True)
    weight_decay: float = param(0.01, low=0.0)
    seed: int = param(0, low=0)
    device: str = param("auto", device=True)
    checkpoint_every: int = param(1, low=1)
    schedule: str = param("cosine", choices=LR_SCHEDULES)
    warmup_epochs: float = param(0.4, low=0.0)
    min_lr_ratio: float = param(0.0, low=0.0, high=1.0)
    grad_clip: float = param(1.0, low=0.0)
    sampling: float = param(1.0, low=0.0, high=1.0)
    sampling_start: float = param(0.0, low=0.0, high=1.0)
    sampling_end: float = param(0.0, low=0.0, high=1.0)
    precision: str = param("auto", choices=PRECISIONS)
    nproc: int = param(1, low=1)
    stream_above_mb: float = param(4096.0, low=0.0)
    stream_window: int = param(8, low=1)

    def validate(self) -> None:
        if self.sampling and self.sampling_end < self.sampling_start:
            raise ConfigError(f"train.sampling_end ({self.sampling_end}) must not be less than "
                              f"train.sampling_start ({self.sampling_start})")


@dataclass(frozen=True)
class EvalConfig:
    bootstrap: int = param(1000, low=0)
    seed: int = param(0, low=0)
    level: float = param(0.95, low=0.0, high=1.0, low_open=True, high_open=True)
    batch_size: int = param(64, low=1)
    device: str = param("auto", device=True)
    clip_samples: int = param(64, low=0)
    gallery: int = param(6, low=0)
    timing_repeats: int = param(30, low=1)


@dataclass(frozen=True)
class ReportConfig:
    experiments: bool = True


SECTIONS: dict[str, type] = {
    "data": DataConfig,
    "grid": GridConfig,
    "track": TrackConfig,
    "overlay": OverlayConfig,
    "clip": ClipConfig,
    "dist": DistConfig,
    "model": ModelParams,
    "loss": LossConfig,
    "train": TrainConfig,
    "eval": EvalConfig,
    "report": ReportConfig,
}


# ---------------------------------------------------------------------------------------------
# Loading


def coerce(value: Any, annotation: Any, where: str) -> Any:
    """``value`` as the annotated type, or a ConfigError naming ``where`` and the value."""
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
        if isinstance(value, str):     # YAML 1.1 reads 1e-3 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if annotation is str:
        if value is None:
            return ""
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    raise TypeError(f"{where}: unsupported parameter type {annotation!r}")


def check_fields(obj: Any, where: str) -> None:
    """Check every field of a section object against its declared accepted values, then its
    ``validate``: for objects built without :func:`from_dict` (e.g. from a checkpoint)."""
    for f in dataclasses.fields(obj):
        if f.metadata:
            _check_field(getattr(obj, f.name), dict(f.metadata), f"{where}.{f.name}")
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()


def from_dict(cls: type, values: Any, where: str) -> Any:
    """Build dataclass ``cls`` from a mapping: unknown keys, wrong types and values outside the
    accepted ones are ConfigErrors naming ``where.<key>``."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping of parameters, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown parameter(s) {', '.join(f'{where}.{k}' for k in unknown)}; "
                          f"known: {', '.join(f'{where}.{k}' for k in fields)}")
    kwargs = {}
    for name, value in values.items():
        kwargs[name] = coerce(value, hints[name], f"{where}.{name}")
        _check_field(kwargs[name], dict(fields[name].metadata), f"{where}.{name}")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate()
    return obj


def read_params_file(path: str | Path) -> dict[str, Any]:
    """The raw mapping of a params file; ConfigError when missing, unreadable or not a mapping."""
    path = Path(path)
    text = read_text(path, what="parameter file", error=ConfigError)
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections (data:, grid:, ...), got "
                          f"{type(raw).__name__}")
    return raw


def load_params(path: str | Path = "params.yaml", *sections: str) -> dict[str, Any]:
    """Read the named sections of a params file into validated frozen dataclasses.

    With no section names every section present in the file is read. Sections absent from the
    file get their defaults. Unknown sections are refused. A section a stage does not read is
    not validated by that stage.
    """
    raw = read_params_file(path)
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(f"{path}: unknown parameter section(s) {', '.join(unknown)}; known: "
                          f"{', '.join(SECTIONS)}")
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


def defaults() -> dict[str, dict[str, Any]]:
    """Every section's default values, as params.yaml should hold them."""
    return {name: as_dict(cls()) for name, cls in SECTIONS.items()}

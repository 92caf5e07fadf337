"""ModelConfig: everything needed to rebuild a Lang2Motion model, and nothing else.

A checkpoint stores this beside its weights (``model.json``) so that ``load_model`` rebuilds the
model from the checkpoint alone. Legend: N points, T frames, D feature (latent = CLIP size).
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any

from lang2motion.config import DataConfig, ModelParams, check_fields, check_value, coerce
from lang2motion.errors import ConfigError


@dataclass(frozen=True, kw_only=True)
class ModelConfig(ModelParams):
    """The model section of params.yaml (inherited) plus the data shapes it is built for."""

    points: int                      # N, grid.size ** 2
    frames: int                      # T, data.frames
    clip_dim: int = 512              # D of the CLIP text / image features; must equal latent

    def __post_init__(self) -> None:
        check_fields(self, "model")     # the model section's own accepted values
        if self.latent != self.clip_dim:
            raise ConfigError(f"model.latent ({self.latent}) must equal the CLIP embedding size "
                              f"({self.clip_dim})")
        if self.points < 1:
            raise ConfigError(f"model points (grid.size ** 2) must be >= 1, got {self.points}")
        check_value(self.frames, DataConfig, "frames", where="model frames (data.frames)")

    @classmethod
    def from_params(cls, params: ModelParams, *, points: int, frames: int,
                    clip_dim: int) -> ModelConfig:
        """The model section of params.yaml plus the data shapes it is trained on."""
        return cls(points=points, frames=frames, clip_dim=clip_dim,
                   **dataclasses.asdict(params))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, where: str = "model config") -> ModelConfig:
        """Rebuild from :meth:`to_dict` output; unknown or missing keys are a ConfigError."""
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(values).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"{where}: unknown model config key(s) {unknown}")
        missing = sorted({"points", "frames"} - set(values))
        if missing:
            raise ConfigError(f"{where}: model config lacks {missing}")
        # a field added after checkpoints were first written: its ``legacy`` value, the one
        # those checkpoints were trained with, rebuilds the same model from an older model.json
        legacy = {f.name: f.metadata["legacy"] for f in dataclasses.fields(ModelParams)
                  if f.metadata["legacy"] is not dataclasses.MISSING}
        values = {**legacy, **values}
        hints = typing.get_type_hints(cls)
        return cls(**{k: coerce(v, hints[k], f"{where}: model_config.{k}")
                      for k, v in values.items()})

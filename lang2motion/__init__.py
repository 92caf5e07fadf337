"""Lang2Motion: language-guided 2D point trajectories.

    from lang2motion import Lang2MotionModel
    model = Lang2MotionModel.load("models")
    trajectories = model.generate(["a red ball bouncing to the right"])

The package map is in docs/architecture.md. Importing it does no work: the API is loaded on first
use.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {"Lang2MotionModel": "lang2motion.trained_model", "Trajectory": "lang2motion.trajectory"}
__all__ = list(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'lang2motion' has no attribute {name!r}")

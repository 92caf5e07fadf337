"""Lang2Motion: language-guided 2D point trajectories.

    from lang2motion import Lang2MotionModel
    model = Lang2MotionModel.load("models")
    trajectories = model.generate(["a red ball bouncing to the right"])

The package map is in docs/architecture.md. Importing it does no work: the API is loaded on first
use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Lang2MotionModel", "Trajectory"]


def __getattr__(name: str) -> Any:
    if name == "Lang2MotionModel":
        from lang2motion.trained_model import Lang2MotionModel

        return Lang2MotionModel
    if name == "Trajectory":
        from lang2motion.trajectory import Trajectory

        return Trajectory
    raise AttributeError(f"module 'lang2motion' has no attribute {name!r}")

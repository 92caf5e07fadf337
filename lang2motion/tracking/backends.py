"""The factory that builds the tracker named by the track params.

Kept apart from base.py so that the interface module imports none of its backends.
"""

from __future__ import annotations

from lang2motion.config import TrackConfig
from lang2motion.errors import ConfigError
from lang2motion.tracking.base import Tracker
from lang2motion.tracking.cotracker import CoTracker3Tracker
from lang2motion.tracking.lk import LKTracker


def make_tracker(cfg: TrackConfig) -> Tracker:
    """The backend named by ``cfg.backend`` (lk | cotracker3), built from the track params."""
    if cfg.backend == "lk":
        return LKTracker()
    if cfg.backend == "cotracker3":
        return CoTracker3Tracker(checkpoint=cfg.checkpoint, device=cfg.device)
    raise ConfigError(f"track.backend: unknown tracker {cfg.backend!r}")

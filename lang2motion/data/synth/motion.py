"""Motion kinds of the synthetic set: per-frame offset, rotation and scale of an object.

Each kind is a closed-form function of time (pixels per frame as a fraction of the frame size),
so the ground truth is exact. Legend: T frames, H height, W width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lang2motion.errors import DataError

MOTION_KINDS = (
    "moving_left", "moving_right", "moving_up", "moving_down", "moving_diagonally",
    "circling_clockwise", "circling_counterclockwise", "spinning", "bouncing", "jumping",
    "zigzag", "speeding_up", "slowing_down", "approaching", "receding", "shaking",
    "standing_still",
)
MOVING_KINDS = tuple(k for k in MOTION_KINDS if k != "standing_still")


def choose(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    """One of ``options``, drawn from ``rng`` (the scene and caption generators' one draw)."""
    return options[int(rng.integers(len(options)))]


def weighted(rng: np.random.Generator, table: dict[Any, float]) -> Any:
    """A key of ``table`` drawn with probability proportional to its value."""
    keys = list(table)
    p = np.asarray([table[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]

SPEEDS = {"slow": 0.008, "medium": 0.014, "fast": 0.02}   # fraction of min(H, W) per frame
CIRCLE_REVOLUTIONS = {"slow": 0.7, "medium": 1.0, "fast": 1.4}
SPIN_RAD_PER_FRAME = {"slow": 0.07, "medium": 0.13, "fast": 0.2}
CIRCLE_RADIUS_FRAC = 0.17          # of min(H, W)
BOUNCE_DROP_FRAC = 0.35            # fall height, fraction of H
BOUNCE_FIRST_FALL_FRAC = 0.25      # the first fall lasts this fraction of the video
BOUNCE_RESTITUTION = 0.8
BOUNCE_DRIFT = 0.5                 # horizontal drift speed, fraction of the speed
JUMP_HEIGHT_FRAC = (0.15, 0.25)    # of H
JUMP_COUNTS = (2, 3)
ZIGZAG_AMPLITUDE_FRAC = 0.08       # of min(H, W)
ZIGZAG_PERIOD = (8, 12)            # frames
SLOW_STOP_FRAC = 0.6               # slowing_down stops at this fraction of the video
SCALE_SMALL, SCALE_LARGE = (0.78, 0.85), (1.3, 1.45)
MIN_SCALE = 0.75                   # point_tracks' visibility margin assumes scale >= 0.75
BASE_SCALE = (0.9, 1.1)
SHAKE_AMPLITUDE_PX = (2.5, 4.5)
SHAKE_PERIOD = (3, 5)              # frames
PLACEMENT_TRIES = 50
FIT_SHRINK = 0.8                   # shrink a motion that does not fit in the frame

DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
DIAGONALS = {"up_left": (-1.0, -1.0), "up_right": (1.0, -1.0), "down_left": (-1.0, 1.0),
             "down_right": (1.0, 1.0)}


@dataclass
class Motion:
    kind: str
    direction: str
    speed: str
    dx: np.ndarray        # (T,) offset from the start position, px
    dy: np.ndarray        # (T,)
    angle: np.ndarray     # (T,) radians; positive is clockwise on screen (y points down)
    scale: np.ndarray     # (T,)
    rotates: bool = False


def motion_for(kind: str, rng: np.random.Generator, frames: int, height: int, width: int,
            *, speed: str, direction: str = "") -> Motion:
    t = np.arange(frames, dtype=np.float64)
    last = frames - 1
    unit = min(height, width)
    v = SPEEDS[speed] * unit
    zeros = np.zeros(frames)
    base = rng.uniform(*BASE_SCALE)
    scale = np.full(frames, base)
    angle = zeros.copy()
    dx, dy = zeros.copy(), zeros.copy()
    rotates = False

    def along(dist: np.ndarray, name: str) -> tuple[np.ndarray, np.ndarray]:
        ux, uy = DIRECTIONS.get(name) or DIAGONALS[name]
        norm = math.hypot(ux, uy)
        return dist * ux / norm, dist * uy / norm

    if kind.startswith("moving_") and kind != "moving_diagonally":
        direction = kind.removeprefix("moving_")
        dx, dy = along(v * t, direction)
    elif kind == "moving_diagonally":
        direction = direction or list(DIAGONALS)[rng.integers(len(DIAGONALS))]
        dx, dy = along(v * t, direction)
    elif kind in ("circling_clockwise", "circling_counterclockwise"):
        sign = 1.0 if kind == "circling_clockwise" else -1.0
        radius = CIRCLE_RADIUS_FRAC * unit
        phase0 = rng.uniform(0, 2 * math.pi)
        theta = phase0 + sign * 2 * math.pi * CIRCLE_REVOLUTIONS[speed] * t / last
        dx = radius * (np.cos(theta) - math.cos(phase0))
        dy = radius * (np.sin(theta) - math.sin(phase0))
    elif kind == "spinning":
        direction = direction or ("cw" if rng.random() < 0.5 else "ccw")
        angle = (1.0 if direction == "cw" else -1.0) * SPIN_RAD_PER_FRAME[speed] * t
        rotates = True
    elif kind == "bouncing":
        direction = direction or ("left" if rng.random() < 0.5 else "right")
        drop = BOUNCE_DROP_FRAC * height
        gravity = 2 * drop / (BOUNCE_FIRST_FALL_FRAC * last) ** 2
        y, vy = 0.0, 0.0
        for i in range(1, frames):
            vy += gravity
            y += vy
            if y > drop:
                y = drop - (y - drop) * BOUNCE_RESTITUTION
                vy = -vy * BOUNCE_RESTITUTION
            dy[i] = y
        dx, _ = along(BOUNCE_DRIFT * v * t, direction)
    elif kind == "jumping":
        height_px = rng.uniform(*JUMP_HEIGHT_FRAC) * height
        jumps = JUMP_COUNTS[rng.integers(len(JUMP_COUNTS))]
        dy = -height_px * np.abs(np.sin(math.pi * jumps * t / last))
    elif kind == "zigzag":
        direction = direction or ("left" if rng.random() < 0.5 else "right")
        period = rng.uniform(*ZIGZAG_PERIOD)
        amplitude = ZIGZAG_AMPLITUDE_FRAC * unit
        phase = (t / period) % 1.0
        tri = 4 * np.abs(phase - 0.5) - 1.0          # triangle wave in [-1, 1], 1 at t = 0
        dx, _ = along(v * t, direction)
        dy = amplitude * (tri - 1.0)
    elif kind == "speeding_up":
        direction = direction or list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
        accel = 2 * v / last                          # final speed 2v, same distance as v * T
        dx, dy = along(0.5 * accel * t ** 2, direction)
    elif kind == "slowing_down":
        direction = direction or list(DIRECTIONS)[rng.integers(len(DIRECTIONS))]
        stop = max(1.0, round(SLOW_STOP_FRAC * last))
        v0 = 2 * v
        tt = np.minimum(t, stop)
        dx, dy = along(v0 * tt - v0 * tt ** 2 / (2 * stop), direction)
    elif kind in ("approaching", "receding"):
        small, large = rng.uniform(*SCALE_SMALL), rng.uniform(*SCALE_LARGE)
        s0, s1 = (small, large) if kind == "approaching" else (large, small)
        scale = s0 + (s1 - s0) * t / last
    elif kind == "shaking":
        amplitude = rng.uniform(*SHAKE_AMPLITUDE_PX)
        period = rng.integers(SHAKE_PERIOD[0], SHAKE_PERIOD[1] + 1)
        dx = amplitude * np.sin(2 * math.pi * t / period)
    elif kind != "standing_still":
        raise ValueError(f"unknown motion kind {kind!r}")
    return Motion(kind, direction, speed, dx, dy, angle, np.maximum(scale, MIN_SCALE), rotates)


def extent(size: int, motion: Motion) -> np.ndarray:
    """(T,) half extent of the warped sprite around its centre (rotation-safe when it spins)."""
    half = size / 2.0 * motion.scale
    return half * math.sqrt(2.0) if motion.rotates else half


def fit_motion(motion: Motion, size: int, height: int, width: int) -> Motion:
    """Shrink the motion's displacement until the object stays inside the frame."""
    ext = extent(size, motion)
    for _ in range(PLACEMENT_TRIES):
        span_x = np.ptp(motion.dx) + 2 * ext.max()
        span_y = np.ptp(motion.dy) + 2 * ext.max()
        if span_x <= width - 1 and span_y <= height - 1:
            return motion
        motion.dx, motion.dy = motion.dx * FIT_SHRINK, motion.dy * FIT_SHRINK
    raise DataError(f"sprite of {size} px cannot move inside a {width}x{height} frame")


def start_range(motion: Motion, size: int, length: int, offsets: np.ndarray) -> tuple[float,
                                                                                          float]:
    ext = extent(size, motion)
    low = float(np.max(ext - offsets))
    high = float(np.min(length - 1 - ext - offsets))
    return low, high


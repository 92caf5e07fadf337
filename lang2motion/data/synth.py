"""A synthetic data set in the exact MeViS layout, with exact ground-truth motion.

Legend: T frames, H height, W width, N points, K objects.

Every object is a textured canonical sprite (its texture moves with it, so point trackers have
something to follow) warped into each frame by a 2x3 affine ``A_t`` (sprite pixel -> frame pixel:
rotation, scale, translation) with ``cv2.warpAffine`` (nearest for the mask, linear for colour).
Objects are composited back to front by depth; an object's mask is its visible region and is
null when nothing of it is visible, as in MeViS. The sidecar ``<split>/synth_gt.json`` stores
every affine, depth and sprite support, and each expression's motion kind and caption template,
so :class:`SynthGroundTruth` can give exact point tracks. Splits other than ``train`` use
caption templates never used in ``train`` (paraphrase generalisation).
"""

from __future__ import annotations

import hashlib
import json
import math
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

from lang2motion.data.mevis import Expression, VideoRecord, encode_rle, write_split
from lang2motion.errors import DataError
from lang2motion.io import write_text_atomic

SIDECAR_NAME = "synth_gt.json"
SIDECAR_FORMAT = 1
TRAIN_SPLIT = "train"
TRAIN_GROUP, VALID_GROUP = "train", "valid"
VIDEO_ID_HEX = 12

# -- motion ------------------------------------------------------------------------------------
MOTION_KINDS = (
    "moving_left", "moving_right", "moving_up", "moving_down", "moving_diagonally",
    "circling_clockwise", "circling_counterclockwise", "spinning", "bouncing", "jumping",
    "zigzag", "speeding_up", "slowing_down", "approaching", "receding", "shaking",
    "standing_still",
)
MOVING_KINDS = tuple(k for k in MOTION_KINDS if k != "standing_still")
CROSSING_KINDS = ("moving_right", "moving_left")
# a spinning circle looks static apart from its texture: give spinning to other shapes
SPIN_EXCLUDED_SHAPES = ("circle",)

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
CROSS_MEET_FRAC = (0.35, 0.65)     # crossing objects meet at this fraction of the video
CROSS_Y_JITTER_PX = 6
TOGETHER_GAP_PX = 8
PLACEMENT_TRIES = 50
FIT_SHRINK = 0.8                   # shrink a motion that does not fit in the frame
VIDEO_TRIES = 20
MIN_START_VISIBLE = 0.5            # visible fraction of each object at frame 0

DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
DIAGONALS = {"up_left": (-1.0, -1.0), "up_right": (1.0, -1.0), "down_left": (-1.0, 1.0),
             "down_right": (1.0, 1.0)}
DIR_WORDS = {"left": "to the left", "right": "to the right", "up": "upwards",
             "down": "downwards", "up_left": "up and to the left",
             "up_right": "up and to the right", "down_left": "down and to the left",
             "down_right": "down and to the right", "cw": "clockwise",
             "ccw": "counter-clockwise", "": ""}

# -- appearance --------------------------------------------------------------------------------
SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross")
SHAPE_NOUNS = {"circle": ("ball", "circle", "disc"), "square": ("square", "box"),
               "triangle": ("triangle",), "star": ("star",), "diamond": ("diamond",),
               "hexagon": ("hexagon",), "cross": ("cross", "plus sign")}
PLURALS = {"box": "boxes", "cross": "crosses", "plus sign": "plus signs"}
COLOURS = {"red": (215, 45, 40), "green": (45, 170, 65), "blue": (45, 85, 215),
           "yellow": (235, 205, 45), "orange": (240, 135, 30), "purple": (135, 60, 185),
           "pink": (240, 125, 180), "white": (238, 238, 238), "cyan": (45, 195, 210)}
TEXTURES = ("blobs", "checker", "stripes", "speckle")
SPRITE_SIZE_FRAC = (0.24, 0.34)    # of min(H, W): about 46-64 px at 256x192
SPRITE_SIZE_PX = (16, 64)
SPRITE_MARGIN = 2                  # empty border of a sprite (room for the 3x3 dilation)
POLY_SHIFT = 4                     # cv2.fillPoly fixed-point bits: sub-pixel vertices
CIRCLE_VERTICES = 64
STAR_INNER = 0.45
SQUARE_HALF = 0.85
CROSS_HALF_WIDTH = 0.38
TEXTURE_CONTRAST = 0.35            # multiplicative modulation of the base colour
TEXTURE_LOWRES = 5                 # cells of the smooth noise across a sprite
CHECKER_CELL_PX = (5, 9)
CHECKER_LEVELS = (0.78, 1.15)
STRIPE_PERIOD_PX = (6, 11)
SPECKLE_BLUR = 0.8
SPOTS = (3, 6)                     # dark spots on a sprite: corners for the tracker
SPOT_RADIUS_FRAC = (0.05, 0.1)
SPOT_LEVEL = 0.55
SPOT_CENTRE_RANGE = (0.25, 0.75)   # spot centres, fraction of the sprite size
SPECKLE_CLIP = 1.5                 # blurred speckle noise is clipped at this many std
BG_LEVEL = (75.0, 165.0)
BG_SATURATION = 0.3                # backgrounds are muted so object colours stay nameable
BG_LOWRES_PX = 16
BG_SMOOTH_AMPLITUDE = 22.0
BG_COLOUR_AMPLITUDE = 6.0
BG_GRAIN_AMPLITUDE = 9.0
BG_GRAIN_BLUR = 1.0
BG_TILE_PX = (16, 32)
BG_TILE_AMPLITUDE = 14.0
BG_GROUT = 0.75
BG_TILES_P = 0.5                   # share of backgrounds with tiles over the smooth noise
AFFINE_DECIMALS = 6                # affines are rounded before rendering: the sidecar is exact

# -- scene mix ---------------------------------------------------------------------------------
OBJECT_COUNT_P = {1: 0.3, 2: 0.4, 3: 0.3}
SCENARIO_P = {"independent": 0.4, "one_moves": 0.25, "crossing": 0.2, "together": 0.15}
SINGLE_PER_OBJECT = (2, 3)         # expressions per object (inclusive range)
MULTI_PER_GROUP = (1, 2)
SHORT_NP_P = 0.3                   # "the triangle" instead of "the red triangle" when unique
PLURAL_COUNT_NP_P = 0.5            # "the two squares" instead of "the red and blue squares"

# -- caption templates ---------------------------------------------------------------------------
# {np} noun phrase; {dir} direction words; agreement: {s} {es} {its} {it} {is}. Every pattern
# reads for one object and for several. Per kind: (train patterns, valid-only patterns).
_TEMPLATE_TEXT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "moving_left": (
        ("{np} moving to the left", "{np} going left", "{np} that slide{s} towards the left",
         "{np} heading left"),
        ("{np} travelling to the left side", "{np} that make{s} {its} way leftwards")),
    "moving_right": (
        ("{np} moving to the right", "{np} going right",
         "{np} that slide{s} towards the right", "{np} heading right"),
        ("{np} travelling to the right side", "{np} that make{s} {its} way rightwards")),
    "moving_up": (
        ("{np} moving up", "{np} rising", "{np} that go{es} upwards", "{np} heading to the top"),
        ("{np} climbing towards the top of the frame", "{np} that travel{s} upward")),
    "moving_down": (
        ("{np} moving down", "{np} falling", "{np} that go{es} downwards",
         "{np} heading to the bottom"),
        ("{np} sinking towards the bottom of the frame", "{np} that descend{s}")),
    "moving_diagonally": (
        ("{np} moving diagonally {dir}", "{np} drifting {dir}",
         "{np} that go{es} {dir} at an angle", "{np} sliding diagonally {dir}"),
        ("{np} crossing the frame on a slant, {dir}", "{np} that travel{s} obliquely {dir}")),
    "circling_clockwise": (
        ("{np} circling clockwise", "{np} moving in a clockwise circle",
         "{np} that go{es} round and round clockwise", "{np} turning in circles clockwise"),
        ("{np} tracing a loop in the clockwise direction", "{np} that orbit{s} clockwise")),
    "circling_counterclockwise": (
        ("{np} circling counter-clockwise", "{np} moving in an anticlockwise circle",
         "{np} that go{es} round and round counter-clockwise",
         "{np} turning in circles anticlockwise"),
        ("{np} tracing a loop in the counter-clockwise direction",
         "{np} that orbit{s} anticlockwise")),
    "spinning": (
        ("{np} spinning in place", "{np} rotating {dir} on the spot",
         "{np} that turn{s} around without moving", "{np} spinning {dir}"),
        ("{np} twirling where {it} {is}", "{np} that whirl{s} around in one place")),
    "bouncing": (
        ("{np} bouncing {dir}", "{np} that bounce{s} along {dir}",
         "{np} dropping and bouncing {dir}", "{np} bouncing on the ground while moving {dir}"),
        ("{np} rebounding off the floor as {it} drift{s} {dir}",
         "{np} that keep{s} hitting the ground and bouncing back up, heading {dir}")),
    "jumping": (
        ("{np} jumping up and down", "{np} jumping in place", "{np} that leap{s} repeatedly",
         "{np} making small jumps"),
        ("{np} hopping on the spot", "{np} that spring{s} up again and again")),
    "zigzag": (
        ("{np} zig-zagging {dir}", "{np} moving in a zigzag {dir}",
         "{np} that weave{s} up and down while going {dir}",
         "{np} following a zigzag path {dir}"),
        ("{np} darting back and forth as {it} move{s} {dir}",
         "{np} that snake{s} {dir} in sharp turns")),
    "speeding_up": (
        ("{np} speeding up {dir}", "{np} accelerating {dir}",
         "{np} that move{s} {dir} faster and faster", "{np} moving {dir} and gaining speed"),
        ("{np} picking up pace while heading {dir}",
         "{np} that start{s} slowly {dir} and then rush{es}")),
    "slowing_down": (
        ("{np} slowing to a stop", "{np} that stop{s} after moving {dir}",
         "{np} moving {dir} and then stopping", "{np} slowing down while going {dir}"),
        ("{np} gradually coming to a halt after travelling {dir}",
         "{np} that decelerate{s} {dir} until {it} stand{s} still")),
    "approaching": (
        ("{np} coming closer", "{np} getting bigger", "{np} that approach{es} the camera",
         "{np} moving towards us"),
        ("{np} growing larger and larger", "{np} that draw{s} nearer to the viewer")),
    "receding": (
        ("{np} moving away", "{np} getting smaller", "{np} that shrink{s} into the distance",
         "{np} going away from the camera"),
        ("{np} receding from the viewer", "{np} that become{s} smaller and smaller")),
    "shaking": (
        ("{np} shaking", "{np} trembling", "{np} that jitter{s} in place",
         "{np} shaking from side to side"),
        ("{np} vibrating quickly", "{np} that wobble{s} back and forth on the spot")),
    "standing_still": (
        ("{np} standing still", "{np} not moving", "{np} that stay{s} in place",
         "{np} staying where {it} {is}"),
        ("{np} remaining motionless", "{np} that never move{s}")),
}
_AGREEMENT = {False: {"s": "s", "es": "es", "its": "its", "it": "it", "is": "is"},
              True: {"s": "", "es": "", "its": "their", "it": "they", "is": "are"}}
TOGETHER_SUFFIX = " together"


@dataclass(frozen=True)
class Template:
    template_id: int
    kind: str
    pattern: str
    group: str      # TRAIN_GROUP or VALID_GROUP


def _build_templates() -> tuple[Template, ...]:
    out = []
    for kind in MOTION_KINDS:
        train, valid = _TEMPLATE_TEXT[kind]
        for group, patterns in ((TRAIN_GROUP, train), (VALID_GROUP, valid)):
            for pattern in patterns:
                out.append(Template(len(out), kind, pattern, group))
    return tuple(out)


TEMPLATES = _build_templates()


def template_group(split: str) -> str:
    """Caption templates a split draws from: ``train`` has its own, every other split the rest."""
    return TRAIN_GROUP if split == TRAIN_SPLIT else VALID_GROUP


# ----------------------------------------------------------------------------------------------
# Sprites and backgrounds


def _polygon(shape: str, centre: float, radius: float) -> list[np.ndarray]:
    def ring(count: int, radii: Sequence[float], phase: float) -> np.ndarray:
        angles = phase + np.arange(count) * 2 * math.pi / count
        r = np.resize(np.asarray(radii, dtype=np.float64), count)
        return np.stack([centre + r * np.cos(angles), centre + r * np.sin(angles)], axis=1)

    if shape == "circle":
        return [ring(CIRCLE_VERTICES, [radius], 0.0)]
    if shape == "square":
        h = radius * SQUARE_HALF
        return [np.array([[centre - h, centre - h], [centre + h, centre - h],
                          [centre + h, centre + h], [centre - h, centre + h]])]
    if shape == "triangle":
        return [ring(3, [radius], -math.pi / 2)]
    if shape == "star":
        return [ring(10, [radius, radius * STAR_INNER], -math.pi / 2)]
    if shape == "diamond":
        return [ring(4, [radius], -math.pi / 2)]
    if shape == "hexagon":
        return [ring(6, [radius], 0.0)]
    if shape == "cross":
        w = radius * CROSS_HALF_WIDTH
        return [np.array([[centre - w, centre - radius], [centre + w, centre - radius],
                          [centre + w, centre + radius], [centre - w, centre + radius]]),
                np.array([[centre - radius, centre - w], [centre + radius, centre - w],
                          [centre + radius, centre + w], [centre - radius, centre + w]])]
    raise ValueError(f"unknown shape {shape!r}")


def sprite_support(shape: str, size: int) -> np.ndarray:
    """(S, S) uint8 0/1 support of a canonical sprite; its centre is ((S-1)/2, (S-1)/2)."""
    canvas = np.zeros((size, size), dtype=np.uint8)
    centre = (size - 1) / 2.0
    radius = size / 2.0 - SPRITE_MARGIN
    scale = 1 << POLY_SHIFT
    polys = [np.round(p * scale).astype(np.int32) for p in _polygon(shape, centre, radius)]
    for poly in polys:
        cv2.fillPoly(canvas, [poly], 1, lineType=cv2.LINE_8, shift=POLY_SHIFT)
    return canvas


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """(H, W) float32 smooth noise in about [-1, 1]."""
    low = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1)).astype(np.float32)
    return cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)


def _sprite_texture(rng: np.random.Generator, colour: tuple[int, int, int], size: int,
                    support: np.ndarray) -> tuple[np.ndarray, str]:
    """(S, S, 3) uint8 textured sprite in the colour's family; outside the support: the colour."""
    kind = TEXTURES[rng.integers(len(TEXTURES))]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if kind == "blobs":
        factor = 1.0 + TEXTURE_CONTRAST * _smooth_noise(rng, size, size, TEXTURE_LOWRES)
    elif kind == "checker":
        cell = int(rng.integers(CHECKER_CELL_PX[0], CHECKER_CELL_PX[1] + 1))
        parity = ((yy // cell + xx // cell) % 2).astype(np.float32)
        factor = CHECKER_LEVELS[0] + (CHECKER_LEVELS[1] - CHECKER_LEVELS[0]) * parity
    elif kind == "stripes":
        period = rng.uniform(*STRIPE_PERIOD_PX)
        angle = rng.uniform(0, math.pi)
        phase = (xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period
        factor = 1.0 + TEXTURE_CONTRAST * np.sin(phase)
    else:
        noise = rng.normal(0.0, 1.0, (size, size)).astype(np.float32)
        blurred = cv2.GaussianBlur(noise, (0, 0), SPECKLE_BLUR)
        clipped = np.clip(blurred, -SPECKLE_CLIP, SPECKLE_CLIP)
        factor = 1.0 + TEXTURE_CONTRAST * clipped / SPECKLE_CLIP
    for _ in range(int(rng.integers(SPOTS[0], SPOTS[1] + 1))):
        cy, cx = rng.uniform(SPOT_CENTRE_RANGE[0] * size, SPOT_CENTRE_RANGE[1] * size, 2)
        r = rng.uniform(*SPOT_RADIUS_FRAC) * size
        factor = np.where((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r, SPOT_LEVEL, factor)
    base = np.asarray(colour, dtype=np.float32)
    rgb = np.clip(base[None, None, :] * factor[..., None], 0, 255)
    rgb = np.where(support[..., None].astype(bool), rgb, base[None, None, :])
    return rgb.round().astype(np.uint8), kind


def _background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, str]:
    """(H, W, 3) uint8 muted textured background (smooth noise, or tiles on smooth noise)."""
    level = rng.uniform(*BG_LEVEL, 3)
    level = level.mean() + (level - level.mean()) * BG_SATURATION
    cells = max(height, width) // BG_LOWRES_PX
    img = np.broadcast_to(level.astype(np.float32), (height, width, 3)).copy()
    img += BG_SMOOTH_AMPLITUDE * _smooth_noise(rng, height, width, cells)[..., None]
    for c in range(3):
        img[..., c] += BG_COLOUR_AMPLITUDE * _smooth_noise(rng, height, width, cells)
    grain = rng.normal(0.0, 1.0, (height, width, 3)).astype(np.float32)
    img += BG_GRAIN_AMPLITUDE * cv2.GaussianBlur(grain, (0, 0), BG_GRAIN_BLUR)
    kind = "tiles" if rng.random() < BG_TILES_P else "noise"
    if kind == "tiles":
        tile = int(rng.integers(BG_TILE_PX[0], BG_TILE_PX[1] + 1))
        offsets = rng.normal(0.0, BG_TILE_AMPLITUDE, (height // tile + 1, width // tile + 1))
        yy, xx = np.mgrid[0:height, 0:width]
        img += offsets[yy // tile, xx // tile].astype(np.float32)[..., None]
        grout = (yy % tile == 0) | (xx % tile == 0)
        img[grout] *= BG_GROUT
    return np.clip(img, 0, 255).round().astype(np.uint8), kind


# ----------------------------------------------------------------------------------------------
# Motion


@dataclass
class _Motion:
    kind: str
    direction: str
    speed: str
    dx: np.ndarray        # (T,) offset from the start position, px
    dy: np.ndarray        # (T,)
    angle: np.ndarray     # (T,) radians; positive is clockwise on screen (y points down)
    scale: np.ndarray     # (T,)
    rotates: bool = False


def _motion(kind: str, rng: np.random.Generator, frames: int, height: int, width: int,
            *, speed: str, direction: str = "") -> _Motion:
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
    return _Motion(kind, direction, speed, dx, dy, angle, np.maximum(scale, MIN_SCALE), rotates)


def _extent(size: int, motion: _Motion) -> np.ndarray:
    """(T,) half extent of the warped sprite around its centre (rotation-safe when it spins)."""
    half = size / 2.0 * motion.scale
    return half * math.sqrt(2.0) if motion.rotates else half


def _fit(motion: _Motion, size: int, height: int, width: int) -> _Motion:
    """Shrink the motion's displacement until the object stays inside the frame."""
    ext = _extent(size, motion)
    for _ in range(PLACEMENT_TRIES):
        span_x = np.ptp(motion.dx) + 2 * ext.max()
        span_y = np.ptp(motion.dy) + 2 * ext.max()
        if span_x <= width - 1 and span_y <= height - 1:
            return motion
        motion.dx, motion.dy = motion.dx * FIT_SHRINK, motion.dy * FIT_SHRINK
    raise DataError(f"sprite of {size} px cannot move inside a {width}x{height} frame")


def _start_range(motion: _Motion, size: int, length: int, offsets: np.ndarray) -> tuple[float,
                                                                                          float]:
    ext = _extent(size, motion)
    low = float(np.max(ext - offsets))
    high = float(np.min(length - 1 - ext - offsets))
    return low, high


# ----------------------------------------------------------------------------------------------
# Scenes


@dataclass
class _Object:
    anno_id: str
    obj_id: int
    shape: str
    colour: str
    size: int
    support: np.ndarray       # (S, S) uint8
    sprite: np.ndarray        # (S, S, 3) uint8
    texture: str
    motion: _Motion
    depth: int = 0
    x0: float = 0.0
    y0: float = 0.0
    placed: bool = False
    affines: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 3)))   # (T, 2, 3)

    def compute_affines(self) -> None:
        m = self.motion
        cos, sin = np.cos(m.angle) * m.scale, np.sin(m.angle) * m.scale
        centre = (self.size - 1) / 2.0
        tx = self.x0 + m.dx - (cos * centre - sin * centre)
        ty = self.y0 + m.dy - (sin * centre + cos * centre)
        affines = np.stack([np.stack([cos, -sin, tx], axis=1),
                            np.stack([sin, cos, ty], axis=1)], axis=1)
        self.affines = np.round(affines, AFFINE_DECIMALS)


def _choose(rng: np.random.Generator, options: Sequence[Any]) -> Any:
    return options[int(rng.integers(len(options)))]


def _weighted(rng: np.random.Generator, table: dict[Any, float]) -> Any:
    keys = list(table)
    p = np.asarray([table[k] for k in keys], dtype=np.float64)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _new_object(rng: np.random.Generator, *, obj_id: int, kind: str, used: set[tuple[str, str]],
                frames: int, height: int, width: int, shape: str | None = None,
                direction: str = "", speed: str | None = None) -> _Object:
    shapes = [s for s in SHAPES if not (kind == "spinning" and s in SPIN_EXCLUDED_SHAPES)]
    for _ in range(PLACEMENT_TRIES):
        pick_shape = shape or _choose(rng, shapes)
        colour = _choose(rng, list(COLOURS))
        if (colour, pick_shape) not in used and colour not in {c for c, _ in used}:
            break
    used.add((colour, pick_shape))
    unit = min(height, width)
    lo, hi = (int(np.clip(f * unit, *SPRITE_SIZE_PX)) for f in SPRITE_SIZE_FRAC)
    size = int(rng.integers(lo, hi + 1))
    support = sprite_support(pick_shape, size)
    sprite, texture = _sprite_texture(rng, COLOURS[colour], size, support)
    motion = _motion(kind, rng, frames, height, width, speed=speed or _choose(rng, list(SPEEDS)),
                     direction=direction)
    motion = _fit(motion, size, height, width)
    return _Object("", obj_id, pick_shape, colour, size, support, sprite, texture, motion)


def _place(rng: np.random.Generator, obj: _Object, height: int, width: int) -> None:
    lx, hx = _start_range(obj.motion, obj.size, width, obj.motion.dx)
    ly, hy = _start_range(obj.motion, obj.size, height, obj.motion.dy)
    obj.x0 = rng.uniform(lx, max(lx, hx))
    obj.y0 = rng.uniform(ly, max(ly, hy))
    obj.placed = True


def _scene(rng: np.random.Generator, frames: int, height: int, width: int, primary: str
           ) -> tuple[str, list[_Object], list[list[int]]]:
    """Objects with placed motions; also the groups that get multi-object expressions.

    ``primary`` is the motion kind of the video's first moving object (a balanced schedule per
    split keeps every kind represented).
    """
    count = _weighted(rng, OBJECT_COUNT_P)
    scenario = "independent" if count == 1 else _weighted(rng, SCENARIO_P)
    if scenario == "crossing" and count == 2 and primary not in CROSSING_KINDS:
        scenario = "independent"
    used: set[tuple[str, str]] = set()
    objects: list[_Object] = []
    groups: list[list[int]] = []

    def add(kind: str, **kw: Any) -> _Object:
        obj = _new_object(rng, obj_id=len(objects), kind=kind, used=used, frames=frames,
                          height=height, width=width, **kw)
        objects.append(obj)
        return obj

    if scenario == "crossing":
        _crossing_pair(rng, add(CROSSING_KINDS[0]), add(CROSSING_KINDS[1]), frames, height,
                       width)
        if count == 3:
            add(primary)
    elif scenario == "together":
        a = add(primary)
        b = add(primary, shape=a.shape, direction=a.motion.direction, speed=a.motion.speed)
        b.size, b.support = a.size, a.support
        b.sprite, b.texture = _sprite_texture(rng, COLOURS[b.colour], a.size, a.support)
        b.motion = _Motion(primary, a.motion.direction, a.motion.speed, a.motion.dx.copy(),
                           a.motion.dy.copy(), a.motion.angle.copy(), a.motion.scale.copy(),
                           a.motion.rotates)
        _place_pair(rng, a, b, height, width)
        groups.append([0, 1])
    elif scenario == "one_moves":
        add(primary)
        while len(objects) < count:
            add("standing_still")
        if count >= 3:
            groups.append(list(range(1, count)))
    else:
        add(primary)
    while len(objects) < count:
        add(_choose(rng, MOVING_KINDS))
    for obj in objects:
        if not obj.placed:
            _place(rng, obj, height, width)
    depths = rng.permutation(len(objects))
    for obj, depth in zip(objects, depths, strict=True):
        obj.depth = int(depth)
        obj.compute_affines()
    return scenario, objects, groups


def _crossing_pair(rng: np.random.Generator, a: _Object, b: _Object, frames: int, height: int,
                   width: int) -> None:
    """a moves right, b moves left; they meet mid-frame at about the same height (occlusion)."""
    meet_t = rng.uniform(*CROSS_MEET_FRAC) * (frames - 1)
    meet_x = width / 2.0
    ya = rng.uniform(*_start_range(a.motion, a.size, height, np.zeros(1)))
    for obj, sign in ((a, 1.0), (b, -1.0)):
        ext = float(_extent(obj.size, obj.motion).max())
        speed = min(abs(obj.motion.dx[-1]) / (frames - 1), (meet_x - ext) / meet_t,
                    (width - 1 - ext - meet_x) / (frames - 1 - meet_t))
        obj.motion.dx = sign * speed * np.arange(frames, dtype=np.float64)
        obj.x0 = meet_x - sign * speed * meet_t
        obj.y0 = float(np.clip(ya + rng.uniform(-CROSS_Y_JITTER_PX, CROSS_Y_JITTER_PX),
                               ext, height - 1 - ext))
        obj.placed = True


def _place_pair(rng: np.random.Generator, a: _Object, b: _Object, height: int,
                width: int) -> None:
    """Place two objects with the same motion side by side (perpendicular to the motion)."""
    mx, my = a.motion.dx[-1] - a.motion.dx[0], a.motion.dy[-1] - a.motion.dy[0]
    norm = math.hypot(mx, my)
    px, py = (-my / norm, mx / norm) if norm > 0 else (1.0, 0.0)
    gap = 2 * float(max(_extent(a.size, a.motion).max(), _extent(b.size, b.motion).max()))
    gap += TOGETHER_GAP_PX
    for _ in range(PLACEMENT_TRIES):
        for sign in rng.permutation([-1.0, 1.0]):
            ox, oy = sign * px * gap, sign * py * gap
            # a's start must keep both a and b = a + offset inside the frame
            lxa, hxa = _start_range(a.motion, a.size, width, a.motion.dx)
            lya, hya = _start_range(a.motion, a.size, height, a.motion.dy)
            lxb, hxb = _start_range(b.motion, b.size, width, b.motion.dx)
            lyb, hyb = _start_range(b.motion, b.size, height, b.motion.dy)
            lx, hx = max(lxa, lxb - ox), min(hxa, hxb - ox)
            ly, hy = max(lya, lyb - oy), min(hya, hyb - oy)
            if lx <= hx and ly <= hy:
                a.x0, a.y0 = rng.uniform(lx, hx), rng.uniform(ly, hy)
                b.x0, b.y0 = a.x0 + ox, a.y0 + oy
                a.placed = b.placed = True
                return
        for obj in (a, b):
            obj.motion.dx, obj.motion.dy = obj.motion.dx * FIT_SHRINK, obj.motion.dy * FIT_SHRINK
    raise DataError(f"cannot place two objects of {a.size} px side by side in a "
                    f"{width}x{height} frame")


def _render(objects: list[_Object], background: np.ndarray, frames: int
            ) -> tuple[np.ndarray, dict[int, list[np.ndarray | None]], dict[int, np.ndarray]]:
    """Frames (T, H, W, 3), visible masks per object (None when hidden), full areas (T,)."""
    height, width = background.shape[:2]
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    visible: dict[int, list[np.ndarray | None]] = {o.obj_id: [] for o in objects}
    full_area = {o.obj_id: np.zeros(frames, dtype=np.int64) for o in objects}
    far_to_near = sorted(objects, key=lambda o: -o.depth)
    for t in range(frames):
        frame = background.copy()
        warped = []
        for obj in far_to_near:
            m = obj.affines[t]
            mask = cv2.warpAffine(obj.support, m, (width, height), flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=0).astype(bool)
            colour = cv2.warpAffine(obj.sprite, m, (width, height), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REPLICATE)
            frame[mask] = colour[mask]
            warped.append((obj, mask))
            full_area[obj.obj_id][t] = int(mask.sum())
        covered = np.zeros((height, width), dtype=bool)
        for obj, mask in reversed(warped):
            vis = mask & ~covered
            covered |= mask
            visible[obj.obj_id].append(vis if vis.any() else None)
        out[t] = frame
    return out, visible, full_area


# ----------------------------------------------------------------------------------------------
# Captions


def _noun(rng: np.random.Generator, shape: str) -> str:
    return _choose(rng, SHAPE_NOUNS[shape])


def _plural(noun: str) -> str:
    return PLURALS.get(noun, noun + "s")


def _single_np(rng: np.random.Generator, obj: _Object, objects: list[_Object]) -> str:
    unique_shape = sum(o.shape == obj.shape for o in objects) == 1
    if unique_shape and rng.random() < SHORT_NP_P:
        return f"the {_noun(rng, obj.shape)}"
    return f"the {obj.colour} {_noun(rng, obj.shape)}"


def _group_np(rng: np.random.Generator, members: list[_Object]) -> str:
    shapes = {o.shape for o in members}
    if len(shapes) == 1:
        noun = _plural(_noun(rng, members[0].shape))
        if len(members) == 2 and rng.random() < PLURAL_COUNT_NP_P:
            return f"the two {noun}"
        colours = [o.colour for o in members]
        return f"the {', '.join(colours[:-1])} and {colours[-1]} {noun}"
    parts = [f"the {o.colour} {_noun(rng, o.shape)}" for o in members]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _caption(template: Template, np_text: str, direction: str, plural: bool) -> str:
    text = template.pattern.format(np=np_text, dir=DIR_WORDS[direction], **_AGREEMENT[plural])
    return " ".join(text.split())


def _pick_templates(rng: np.random.Generator, kind: str, group: str, count: int
                    ) -> list[Template]:
    options = [t for t in TEMPLATES if t.kind == kind and t.group == group]
    picks = rng.permutation(len(options))[:count]
    return [options[int(i)] for i in picks]


def _expressions(rng: np.random.Generator, objects: list[_Object], groups: list[list[int]],
                 split: str) -> list[tuple[Expression, dict[str, Any]]]:
    group_name = template_group(split)
    out: list[tuple[Expression, dict[str, Any]]] = []

    def emit(members: list[_Object], template: Template, text: str) -> None:
        exp = Expression(str(len(out)), text, tuple(o.obj_id for o in members),
                         tuple(o.anno_id for o in members))
        kinds = [o.motion.kind for o in members]
        out.append((exp, {"anno_ids": list(exp.anno_ids), "motion_kind": template.kind,
                          "motion_kinds": kinds, "template_id": template.template_id,
                          "template_group": group_name, "split": split,
                          "multi": len(members) > 1, "direction": members[0].motion.direction}))

    for obj in objects:
        count = int(rng.integers(SINGLE_PER_OBJECT[0], SINGLE_PER_OBJECT[1] + 1))
        for template in _pick_templates(rng, obj.motion.kind, group_name, count):
            emit([obj], template, _caption(template, _single_np(rng, obj, objects),
                                           obj.motion.direction, plural=False))
    for group in groups:
        members = [objects[i] for i in group]
        kind = members[0].motion.kind
        count = int(rng.integers(MULTI_PER_GROUP[0], MULTI_PER_GROUP[1] + 1))
        for template in _pick_templates(rng, kind, group_name, count):
            text = _caption(template, _group_np(rng, members), members[0].motion.direction,
                            plural=True)
            if kind != "standing_still":
                text += TOGETHER_SUFFIX
            emit(members, template, text)
    return out


# ----------------------------------------------------------------------------------------------
# Generation


def video_id_for(seed: int, split: str, index: int) -> str:
    """12 hex characters, a pure function of (seed, split, index)."""
    return hashlib.sha256(f"lang2motion-synth/{seed}/{split}/{index}".encode()).hexdigest()[
        :VIDEO_ID_HEX]


def _video_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode()), index]))


def kind_schedule(seed: int, split: str, videos: int) -> list[str]:
    """Primary motion kind of each video: shuffled rounds over every moving kind (balanced)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(split.encode())]))
    rounds = -(-videos // len(MOVING_KINDS))
    order = np.concatenate([rng.permutation(len(MOVING_KINDS)) for _ in range(rounds)])
    return [MOVING_KINDS[int(i)] for i in order[:videos]]


def _make_video(rng: np.random.Generator, frames: int, height: int, width: int, primary: str
                ) -> tuple[str, list[_Object], list[list[int]], np.ndarray, dict, str]:
    for _ in range(VIDEO_TRIES):
        scenario, objects, groups = _scene(rng, frames, height, width, primary)
        background, bg_kind = _background(rng, height, width)
        video, visible, full = _render(objects, background, frames)
        ok = all(visible[o.obj_id][0] is not None
                 and visible[o.obj_id][0].sum() >= MIN_START_VISIBLE * full[o.obj_id][0]
                 for o in objects)
        if ok:
            return scenario, objects, groups, video, visible, bg_kind
    raise DataError(f"could not lay out a synthetic video with every object visible at frame 0 "
                    f"in {VIDEO_TRIES} tries ({width}x{height} is too small?)")


def generate_split(out_root: str | Path, split: str, *, videos: int, video_frames: int,
                   height: int, width: int, seed: int) -> dict[str, Any]:
    """Write one synthetic split (MeViS layout + sidecar); return its summary."""
    if videos < 1 or video_frames < 2:
        raise DataError(f"synthetic split {split}: need videos >= 1 and video_frames >= 2")
    out_root = Path(out_root)
    if (out_root / split).exists() and any((out_root / split).iterdir()):
        raise DataError(f"{out_root / split}: already exists; delete it before generating")
    sidecar: dict[str, Any] = {"format": SIDECAR_FORMAT, "split": split, "seed": seed,
                               "template_group": template_group(split), "height": height,
                               "width": width, "frames": video_frames, "videos": {}}
    kinds: Counter[str] = Counter()
    object_kinds: Counter[str] = Counter()
    next_anno = 0
    expressions_total = 0
    schedule = kind_schedule(seed, split, videos)
    for index in tqdm(range(videos), desc=f"synth {split}", leave=False, disable=None):
        rng = _video_rng(seed, split, index)
        video_id = video_id_for(seed, split, index)
        scenario, objects, groups, frames, visible, bg_kind = _make_video(
            rng, video_frames, height, width, schedule[index])
        for obj in objects:
            obj.anno_id = str(next_anno)
            next_anno += 1
        exps = _expressions(rng, objects, groups, split)
        record = VideoRecord(video_id=video_id, frames=frames,
                             masks={o.anno_id: visible[o.obj_id] for o in objects},
                             expressions=[e for e, _ in exps])
        write_split(out_root, split, [record], append=True)
        sidecar["videos"][video_id] = {
            "scenario": scenario, "background": bg_kind,
            "objects": {o.anno_id: _object_entry(o) for o in objects},
            "expressions": {e.exp_id: info for e, info in exps}}
        kinds.update(info["motion_kind"] for _, info in exps)
        object_kinds.update(o.motion.kind for o in objects)
        expressions_total += len(exps)
    sidecar["templates"] = {str(t.template_id): {"kind": t.kind, "pattern": t.pattern,
                                                 "group": t.group} for t in TEMPLATES}
    write_text_atomic(out_root / split / SIDECAR_NAME,
                      json.dumps(sidecar, sort_keys=True, separators=(",", ":")) + "\n")
    return {"videos": videos, "expressions": expressions_total, "frames": videos * video_frames,
            "objects": next_anno, "motion_kinds": dict(sorted(kinds.items())),
            "object_motion_kinds": dict(sorted(object_kinds.items()))}


def _object_entry(obj: _Object) -> dict[str, Any]:
    return {"obj_id": obj.obj_id, "shape": obj.shape, "colour": obj.colour,
            "texture": obj.texture, "sprite_size": [obj.size, obj.size],
            "sprite_support": encode_rle(obj.support.astype(bool)), "depth": obj.depth,
            "motion_kind": obj.motion.kind, "direction": obj.motion.direction,
            "speed": obj.motion.speed, "affine": obj.affines.tolist()}


def generate_synthetic(out_root: str | Path, *, splits: dict[str, int], video_frames: int,
                       height: int, width: int, seed: int) -> dict[str, Any]:
    """Write ``<out_root>/<split>/`` for every ``split -> number of videos``; return a summary.

    Same arguments, byte-identical files. The split folders must not exist yet.
    """
    summary: dict[str, Any] = {"seed": seed, "height": height, "width": width,
                               "video_frames": video_frames, "splits": {}}
    for split, count in splits.items():
        summary["splits"][split] = generate_split(out_root, split, videos=count,
                                                  video_frames=video_frames, height=height,
                                                  width=width, seed=seed)
    return summary


# ----------------------------------------------------------------------------------------------
# Ground truth


def _apply(affine: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(2, 3) affine on (N, 2) points."""
    return points @ affine[:, :2].T + affine[:, 2]


def _invert(affine: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine."""
    return cv2.invertAffineTransform(affine.astype(np.float64))


class SynthGroundTruth:
    """The sidecar of one synthetic split: motion labels and exact point tracks."""

    def __init__(self, data: dict[str, Any], path: Path):
        self.data = data
        self.path = path
        self._supports: dict[tuple[str, str], tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    @classmethod
    def load(cls, split_dir: str | Path) -> SynthGroundTruth:
        path = Path(split_dir) / SIDECAR_NAME
        if not path.is_file():
            raise DataError(f"{path}: no synthetic ground truth (not a generated split?)")
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != SIDECAR_FORMAT:
            raise DataError(f"{path}: unknown sidecar format {data.get('format')!r}")
        return cls(data, path)

    def _video(self, video_id: str) -> dict[str, Any]:
        try:
            return self.data["videos"][video_id]
        except KeyError:
            raise DataError(f"{self.path}: no video {video_id!r}") from None

    def expression(self, video_id: str, exp_id: str) -> dict[str, Any]:
        try:
            return self._video(video_id)["expressions"][str(exp_id)]
        except KeyError:
            raise DataError(f"{self.path}: video {video_id} has no expression "
                            f"{exp_id!r}") from None

    def motion_kind(self, video_id: str, exp_id: str) -> str:
        return self.expression(video_id, exp_id)["motion_kind"]

    def template_id(self, video_id: str, exp_id: str) -> int:
        return int(self.expression(video_id, exp_id)["template_id"])

    def video_ids(self) -> list[str]:
        return list(self.data["videos"])

    def objects(self, video_id: str) -> dict[str, dict[str, Any]]:
        return self._video(video_id)["objects"]

    def affines(self, video_id: str, anno_id: str) -> np.ndarray:
        """(T, 2, 3) sprite pixel -> frame pixel transforms of one object."""
        return np.asarray(self._object(video_id, anno_id)["affine"], dtype=np.float64)

    def _object(self, video_id: str, anno_id: str) -> dict[str, Any]:
        try:
            return self.objects(video_id)[str(anno_id)]
        except KeyError:
            raise DataError(f"{self.path}: video {video_id} has no object {anno_id!r}") from None

    def _support(self, video_id: str, anno_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(exact, eroded, dilated) (S, S) bool supports of one object's sprite."""
        key = (video_id, anno_id)
        if key not in self._supports:
            rle = self._object(video_id, anno_id)["sprite_support"]
            exact = mask_utils.decode({"size": rle["size"],
                                       "counts": rle["counts"].encode("ascii")}).astype(np.uint8)
            kernel = np.ones((3, 3), dtype=np.uint8)
            self._supports[key] = (exact.astype(bool),
                                   cv2.erode(exact, kernel, borderValue=0).astype(bool),
                                   cv2.dilate(exact, kernel).astype(bool))
        return self._supports[key]

    @staticmethod
    def _inside(support: np.ndarray, sprite_pts: np.ndarray) -> np.ndarray:
        """(N,) whether the nearest sprite pixel of each (N, 2) sprite point is in the support."""
        ix = np.floor(sprite_pts[:, 0] + 0.5).astype(np.int64)
        iy = np.floor(sprite_pts[:, 1] + 0.5).astype(np.int64)
        h, w = support.shape
        ok = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = np.zeros(len(sprite_pts), dtype=bool)
        out[ok] = support[iy[ok], ix[ok]]
        return out

    def point_tracks(self, video_id: str, anno_ids: Sequence[str], points_px: np.ndarray,
                     t0: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact tracks of frame-``t0`` pixel points lying on the objects ``anno_ids``.

        points_px: (N, 2) x, y in pixels (pixel centres at integers) at frame t0.
        Returns tracks (T_video, N, 2) float32 px and visible (T_video, N) bool.

        Each point belongs to the front-most object of the set whose sprite covers it at t0; it
        is carried to the sprite by the inverse affine and to every frame by that frame's
        affine. It is visible where it lies inside the frame, inside its own sprite and not
        under any nearer object of the video. Visibility is conservative by one sprite pixel at
        every sprite edge (eroded own support, dilated occluders) so that a point marked
        visible always falls inside the rendered mask despite nearest-pixel rounding; this holds
        for scales >= MIN_SCALE.
        """
        video = self._video(video_id)
        points = np.asarray(points_px, dtype=np.float64).reshape(-1, 2)
        frames = int(self.data["frames"])
        if not 0 <= t0 < frames:
            raise DataError(f"{self.path}: video {video_id}: t0={t0} outside [0, {frames})")
        anno_ids = [str(a) for a in anno_ids]
        objects = video["objects"]
        owners = sorted(anno_ids, key=lambda a: self._object(video_id, a)["depth"])
        owner = np.full(len(points), -1, dtype=np.int64)
        sprite_pts = np.zeros_like(points)
        for level in (0, 2):          # exact support first, then dilated for boundary pixels
            for i, anno_id in enumerate(owners):
                support = self._support(video_id, anno_id)[level]
                local = _apply(_invert(self.affines(video_id, anno_id)[t0]), points)
                take = (owner < 0) & self._inside(support, local)
                owner[take] = i
                sprite_pts[take] = local[take]
        if (owner < 0).any():
            bad = points[owner < 0][0]
            raise DataError(f"{self.path}: video {video_id}: point {bad.tolist()} at frame {t0} "
                            f"lies on none of the objects {anno_ids}")
        height, width = int(self.data["height"]), int(self.data["width"])
        tracks = np.zeros((frames, len(points), 2), dtype=np.float64)
        visible = np.zeros((frames, len(points)), dtype=bool)
        for i, anno_id in enumerate(owners):
            sel = owner == i
            if not sel.any():
                continue
            aff = self.affines(video_id, anno_id)
            own = self._inside(self._support(video_id, anno_id)[1], sprite_pts[sel])
            depth = objects[anno_id]["depth"]
            nearer = [a for a, o in objects.items() if o["depth"] < depth]
            for t in range(frames):
                pts_t = _apply(aff[t], sprite_pts[sel])
                tracks[t, sel] = pts_t
                px = np.floor(pts_t + 0.5)
                vis = own & (px[:, 0] >= 0) & (px[:, 0] < width) & (px[:, 1] >= 0) & (
                    px[:, 1] < height)
                for other in nearer:
                    local = _apply(_invert(self.affines(video_id, other)[t]), pts_t)
                    vis &= ~self._inside(self._support(video_id, other)[2], local)
                visible[t, sel] = vis
        return tracks.astype(np.float32), visible

"""Scenes of the synthetic set: objects with motions, placed, layered and rendered.

Every object is a textured canonical sprite warped into each frame by a 2x3 affine ``A_t``
(sprite pixel -> frame pixel: rotation, scale, translation) with ``cv2.warpAffine`` (nearest for
the mask, linear for colour). Objects are composited back to front by depth; an object's mask
is its visible region and is None when nothing of it is visible, as in MeViS.
Legend: T frames, H height, W width, S sprite side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from lang2motion.data.synth.motion import (
    FIT_SHRINK,
    MOVING_KINDS,
    SPEEDS,
    Motion,
    choose,
    extent,
    fit_motion,
    motion_for,
    start_range,
    weighted,
)
from lang2motion.data.synth.sprites import (
    COLOURS,
    SHAPES,
    SPRITE_SIZE_FRAC,
    SPRITE_SIZE_PX,
    sprite_support,
    sprite_texture,
)
from lang2motion.errors import DataError

CROSSING_KINDS = ("moving_right", "moving_left")
# a spinning circle looks static apart from its texture: give spinning to other shapes
SPIN_EXCLUDED_SHAPES = ("circle",)
CROSS_MEET_FRAC = (0.35, 0.65)     # crossing objects meet at this fraction of the video
CROSS_Y_JITTER_PX = 6
TOGETHER_GAP_PX = 8
PLACEMENT_TRIES = 50
VIDEO_TRIES = 20
MIN_START_VISIBLE = 0.5            # visible fraction of each object at frame 0
AFFINE_DECIMALS = 6                # affines are rounded before rendering: the sidecar is exact
OBJECT_COUNT_P = {1: 0.3, 2: 0.4, 3: 0.3}
SCENARIO_P = {"independent": 0.4, "one_moves": 0.25, "crossing": 0.2, "together": 0.15}


@dataclass
class SceneObject:
    anno_id: str
    obj_id: int
    shape: str
    colour: str
    size: int
    support: np.ndarray       # (S, S) uint8
    sprite: np.ndarray        # (S, S, 3) uint8
    texture: str
    motion: Motion
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


def _new_object(rng: np.random.Generator, *, obj_id: int, kind: str, used: set[tuple[str, str]],
                frames: int, height: int, width: int, shape: str | None = None,
                direction: str = "", speed: str | None = None) -> SceneObject:
    shapes = [s for s in SHAPES if not (kind == "spinning" and s in SPIN_EXCLUDED_SHAPES)]
    for _ in range(PLACEMENT_TRIES):
        pick_shape = shape or choose(rng, shapes)
        colour = choose(rng, list(COLOURS))
        if (colour, pick_shape) not in used and colour not in {c for c, _ in used}:
            break
    used.add((colour, pick_shape))
    unit = min(height, width)
    lo, hi = (int(np.clip(f * unit, *SPRITE_SIZE_PX)) for f in SPRITE_SIZE_FRAC)
    size = int(rng.integers(lo, hi + 1))
    support = sprite_support(pick_shape, size)
    sprite, texture = sprite_texture(rng, COLOURS[colour], size, support)
    motion = motion_for(kind, rng, frames, height, width, speed=speed or choose(rng, list(SPEEDS)),
                     direction=direction)
    motion = fit_motion(motion, size, height, width)
    return SceneObject("", obj_id, pick_shape, colour, size, support, sprite, texture, motion)


def make_scene(rng: np.random.Generator, frames: int, height: int, width: int, primary: str
           ) -> tuple[str, list[SceneObject], list[list[int]]]:
    """Objects with placed motions; also the groups that get multi-object expressions.

    ``primary`` is the motion kind of the video's first moving object (a balanced schedule per
    split keeps every kind represented).
    """
    count = weighted(rng, OBJECT_COUNT_P)
    scenario = "independent" if count == 1 else weighted(rng, SCENARIO_P)
    if scenario == "crossing" and count == 2 and primary not in CROSSING_KINDS:
        scenario = "independent"
    used: set[tuple[str, str]] = set()
    objects: list[SceneObject] = []
    groups: list[list[int]] = []

    def add(kind: str, **kw: Any) -> SceneObject:
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
        b.sprite, b.texture = sprite_texture(rng, COLOURS[b.colour], a.size, a.support)
        b.motion = Motion(primary, a.motion.direction, a.motion.speed, a.motion.dx.copy(),
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
        add(choose(rng, MOVING_KINDS))
    for obj in objects:
        if not obj.placed:
            lx, hx = start_range(obj.motion, obj.size, width, obj.motion.dx)
            ly, hy = start_range(obj.motion, obj.size, height, obj.motion.dy)
            obj.x0 = rng.uniform(lx, max(lx, hx))
            obj.y0 = rng.uniform(ly, max(ly, hy))
            obj.placed = True
    depths = rng.permutation(len(objects))
    for obj, depth in zip(objects, depths, strict=True):
        obj.depth = int(depth)
        obj.compute_affines()
    return scenario, objects, groups


def _crossing_pair(rng: np.random.Generator, a: SceneObject, b: SceneObject, frames: int,
                   height: int, width: int) -> None:
    """a moves right, b moves left; they meet mid-frame at about the same height (occlusion)."""
    meet_t = rng.uniform(*CROSS_MEET_FRAC) * (frames - 1)
    meet_x = width / 2.0
    ya = rng.uniform(*start_range(a.motion, a.size, height, np.zeros(1)))
    for obj, sign in ((a, 1.0), (b, -1.0)):
        ext = float(extent(obj.size, obj.motion).max())
        speed = min(abs(obj.motion.dx[-1]) / (frames - 1), (meet_x - ext) / meet_t,
                    (width - 1 - ext - meet_x) / (frames - 1 - meet_t))
        obj.motion.dx = sign * speed * np.arange(frames, dtype=np.float64)
        obj.x0 = meet_x - sign * speed * meet_t
        obj.y0 = float(np.clip(ya + rng.uniform(-CROSS_Y_JITTER_PX, CROSS_Y_JITTER_PX),
                               ext, height - 1 - ext))
        obj.placed = True


def _place_pair(rng: np.random.Generator, a: SceneObject, b: SceneObject, height: int,
                width: int) -> None:
    """Place two objects with the same motion side by side (perpendicular to the motion)."""
    mx, my = a.motion.dx[-1] - a.motion.dx[0], a.motion.dy[-1] - a.motion.dy[0]
    norm = math.hypot(mx, my)
    px, py = (-my / norm, mx / norm) if norm > 0 else (1.0, 0.0)
    gap = 2 * float(max(extent(a.size, a.motion).max(), extent(b.size, b.motion).max()))
    gap += TOGETHER_GAP_PX
    for _ in range(PLACEMENT_TRIES):
        for sign in rng.permutation([-1.0, 1.0]):
            ox, oy = sign * px * gap, sign * py * gap
            # a's start must keep both a and b = a + offset inside the frame
            lxa, hxa = start_range(a.motion, a.size, width, a.motion.dx)
            lya, hya = start_range(a.motion, a.size, height, a.motion.dy)
            lxb, hxb = start_range(b.motion, b.size, width, b.motion.dx)
            lyb, hyb = start_range(b.motion, b.size, height, b.motion.dy)
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


def render_scene(objects: list[SceneObject], background: np.ndarray, frames: int
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


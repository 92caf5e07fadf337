"""Appearance of the synthetic set: shapes, textured sprites and muted backgrounds.

Sprites carry texture and dark spots so that point trackers have something to follow.
Legend: S sprite side, H height, W width.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

SHAPES = ("circle", "square", "triangle", "star", "diamond", "hexagon", "cross")
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


def sprite_texture(rng: np.random.Generator, colour: tuple[int, int, int], size: int,
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


def make_background(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, str]:
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


"""Trajectory overlays: point trails drawn over video frames (Lang2Motion section 3, Table 7).

Each frame is squashed to ``size x size`` (the CLIP input; or a (width, height) pair for people)
with every point's trail up to that frame drawn over it in one colour: what CLIP sees and the
render stage's MP4s show. Squashed, not CLIP's resize + centre-crop: a crop would cut away trails
near the edges of a wide frame, and motion there is part of the caption ("moving to the left").

Legend: T frames, N points, H height, W width, S output side (``size``), h/w output height/width.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from lang2motion.config import OVERLAY_COLORS, OverlayConfig
from lang2motion.errors import ConfigError, DataError
from lang2motion.geometry import denormalise

if TYPE_CHECKING:
    from lang2motion.store import TrackRow

# Sub-pixel precision of the drawn segments: cv2 takes fixed-point coordinates with this many
# fractional bits, so trails do not jitter by rounding each position to a whole pixel.
SUBPIXEL_BITS = 4
_SUBPIXEL_SCALE = float(1 << SUBPIXEL_BITS)
_MASK_ON = 255          # value drawn into the single-channel trail mask
_UINT8_LEVELS = 256     # size of the per-channel blending lookup table


class FrameSource(Protocol):
    """Anything that reads RGB frames of a video (a prepared MeViS or synthetic split)."""

    def read_frames(self, video_id: str, start: int, stop: int) -> np.ndarray:
        """(T, H, W, 3) uint8 RGB frames ``start`` (inclusive) to ``stop`` (exclusive)."""
        ...


def color_rgb(name: str) -> tuple[int, int, int]:
    """The RGB triple of a Table 7 colour name; a ConfigError lists the known names."""
    try:
        return OVERLAY_COLORS[name]
    except KeyError:
        raise ConfigError(f"overlay.color {name!r} is not a known colour; known: "
                          f"{', '.join(OVERLAY_COLORS)}") from None


def output_size(size: int | tuple[int, int]) -> tuple[int, int]:
    """(w, h) of an overlay ``size``: S for an S x S square, or a (w, h) pair; each >= 1."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        width = height = int(size)
    elif (isinstance(size, (tuple, list)) and len(size) == 2
          and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in size)):
        width, height = (int(v) for v in size)
    else:
        raise ConfigError(f"overlay size must be an integer side or a (width, height) pair of "
                          f"integers, got {size!r}")
    if width < 1 or height < 1:
        raise ConfigError(f"overlay size must be >= 1 on each side, got {size!r}")
    return width, height


def _blend_lut(color: tuple[int, int, int], opacity: float) -> np.ndarray:
    """(256, 1, 3) uint8: round((1 - a) * v + a * c) for every input value v and channel c."""
    values = np.arange(_UINT8_LEVELS, dtype=np.float64)[:, None]
    blended = (1.0 - opacity) * values + opacity * np.asarray(color, dtype=np.float64)[None, :]
    return np.clip(np.rint(blended), 0, _UINT8_LEVELS - 1).astype(np.uint8)[:, None, :]


def render_overlays(
    frames: np.ndarray,     # (T, H, W, 3) uint8 RGB
    tracks_px: np.ndarray,  # (T, N, 2) float, (x, y) in source pixels
    visible: np.ndarray,    # (T, N) bool
    *,
    size: int | tuple[int, int],  # S (an S x S square) or (w, h)
    color: str,
    opacity: float,
    line_width: int,
) -> np.ndarray:            # (T, S, S, 3) uint8, or (T, h, w, 3) for size=(w, h)
    """Draw every point's trail up to each frame over that frame, resized (INTER_AREA) to
    ``size``; ``line_width`` in output pixels.

    Frame t adds, per visible finite point, the segment from t-1 to t (a dot where it was not
    drawable at t-1); trails accumulate. They are drawn into one mask and blended once, pixel =
    round((1 - opacity) * frame + opacity * colour), so crossings do not darken.
    """
    frames = np.asarray(frames)
    tracks_px = np.asarray(tracks_px, dtype=np.float64)
    visible = np.asarray(visible, dtype=bool)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise DataError(f"frames must be (T, H, W, 3) uint8, got {frames.shape} {frames.dtype}")
    n_frames, height, width = frames.shape[:3]
    if tracks_px.ndim != 3 or tracks_px.shape[0] != n_frames or tracks_px.shape[2] != 2:
        raise DataError(f"tracks_px must be (T={n_frames}, N, 2), got {tracks_px.shape}")
    if visible.shape != tracks_px.shape[:2]:
        raise DataError(f"visible must be (T, N) = {tracks_px.shape[:2]}, got {visible.shape}")
    out_w, out_h = output_size(size)
    if line_width < 1:
        raise ConfigError(f"overlay line_width must be >= 1, got {line_width}")
    if not 0.0 <= opacity <= 1.0:
        raise ConfigError(f"overlay.opacity must be in [0, 1], got {opacity}")
    rgb = color_rgb(color)

    out = np.empty((n_frames, out_h, out_w, 3), dtype=np.uint8)
    for t in range(n_frames):
        if (height, width) == (out_h, out_w):
            out[t] = frames[t]
        else:
            cv2.resize(frames[t], (out_w, out_h), dst=out[t], interpolation=cv2.INTER_AREA)
    if opacity == 0.0 or tracks_px.shape[1] == 0:
        return out

    # Positions in output pixels, fixed point for cv2; a segment needs both ends drawable.
    scale = np.array([out_w / width, out_h / height])
    fixed = np.rint(tracks_px * scale * _SUBPIXEL_SCALE)
    drawable = visible & np.isfinite(fixed).all(axis=-1)
    fixed = np.where(drawable[..., None], fixed, 0).astype(np.int32)
    # Segment ends: the position at t-1, or at t itself (a dot) at t = 0 and where the point
    # was hidden at t-1, so a point that starts or reappears is seen at once.
    previous = np.concatenate([fixed[:1], fixed[:-1]])
    previous_ok = np.concatenate([np.zeros_like(drawable[:1]), drawable[:-1]])
    previous = np.where(previous_ok[..., None], previous, fixed)
    segments = np.stack([previous, fixed], axis=2)                  # (T, N, 2 ends, 2)

    mask = np.zeros((out_h, out_w), dtype=np.uint8)
    masks = np.empty((n_frames, out_h, out_w), dtype=bool)
    for t in range(n_frames):
        chosen = segments[t][drawable[t]]
        if len(chosen):
            cv2.polylines(mask, list(chosen[:, :, None, :]), isClosed=False, color=_MASK_ON,
                          thickness=line_width, lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
        np.not_equal(mask, 0, out=masks[t])

    # One lookup-table pass over all frames at once, then copy where any trail lies.
    flat = out.reshape(n_frames * out_h, out_w, 3)
    blended = cv2.LUT(flat, _blend_lut(rgb, opacity)).reshape(out.shape)
    np.copyto(out, blended, where=masks[..., None])
    return out


def overlay_track_row(
    row: TrackRow,
    source: FrameSource,
    *,
    overlay: OverlayConfig,
) -> np.ndarray:  # (T, S, S, 3) uint8
    """A track row's overlays (its frames from ``source``, which must have the row's size): the
    one definition behind the render stage's MP4s and the embed stage's CLIP inputs."""
    n_frames = row.tracks.shape[0]
    frames = source.read_frames(row.video_id, row.start, row.start + n_frames)
    expected = (n_frames, row.height, row.width, 3)
    if frames.shape != expected or frames.dtype != np.uint8:
        raise DataError(f"{row.track_id}: frames {row.start}..{row.start + n_frames} of video "
                        f"{row.video_id} are {frames.shape} {frames.dtype}, expected {expected} "
                        "uint8 (the tracks table and the raw split disagree)")
    tracks_px = denormalise(row.tracks, row.width, row.height)
    return render_overlays(frames, tracks_px, row.visible, size=overlay.size,
                           color=overlay.color, opacity=overlay.opacity,
                           line_width=overlay.line_width)

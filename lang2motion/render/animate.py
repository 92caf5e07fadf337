"""Trajectory animations for people: trails growing over a still background, labelled panels.

Pure functions on arrays: trails by :func:`lang2motion.render.overlay.render_overlays` at an
aspect-keeping size, plus a dot at each point's current position so the motion reads at a glance.

Legend: T frames, N points, H/W source height/width, h/w output height/width.
"""

from __future__ import annotations

import unicodedata

import cv2
import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.render.overlay import SUBPIXEL_BITS, color_rgb, output_size, render_overlays
from lang2motion.render.video import check_frames, check_image

TRAIL_OPACITY = 1.0               # solid trails: crisp on any background, and few GIF colours
DOT_RADIUS = 3                    # output pixels, the current position of each point
DOT_OUTLINE_RGB = (30, 30, 30)    # ring around the dot, so it shows on its own trail colour
DOT_OUTLINE_WIDTH = 1
CANVAS_RGB = (240, 240, 240)      # plain background where no video frame exists
MASK_TINT_RGB = (200, 204, 214)   # the object's mask on the plain canvas: a cool light grey
HEADER_HEIGHT = 20                # pixels of the label strip above a panel
HEADER_RGB = (255, 255, 255)
HEADER_TEXT_RGB = (20, 20, 20)
HEADER_PAD = 4                    # left and right margin of the label, pixels
FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_SCALE = 0.4                  # about 9 px capitals: legible in a 20 px strip
FONT_THICKNESS = 1
ELLIPSIS = "..."
BACKDROP_RGB = (255, 255, 255)    # gaps between panels and tiles
STRIP_GAP = 4                     # pixels between the tiles of a strip
_SUBPIXEL_SCALE = float(1 << SUBPIXEL_BITS)


def display_size(width: int, height: int, *, longest: int) -> tuple[int, int]:
    """(w, h) with the longer side ``longest`` and the aspect of ``width x height``, both even.

    Each side is rounded to the nearest even number (at least 2): MP4's yuv420p needs even
    sizes, and the aspect changes by under one pixel per side.
    """
    if width < 1 or height < 1:
        raise DataError(f"display_size: width and height must be >= 1, got {width} x {height}")
    if longest < 2:
        raise ConfigError(f"display_size: longest must be >= 2, got {longest}")
    scale = longest / max(width, height)
    return (max(2, 2 * int(np.floor(width * scale / 2 + 0.5))),
            max(2, 2 * int(np.floor(height * scale / 2 + 0.5))))


def trail_animation(
    background: np.ndarray,  # (H, W, 3) uint8 RGB: the first frame, or a plain_canvas
    tracks_px: np.ndarray,   # (T, N, 2) float, (x, y) in source pixels
    *,
    color: str,
    size: tuple[int, int],   # (w, h) output, e.g. display_size(W, H, longest=...)
    line_width: int,
    visible: np.ndarray | None = None,  # (T, N) bool; None: all visible
) -> np.ndarray:             # (T, h, w, 3) uint8
    """Every point's trail up to frame t over the still ``background``, plus a dot at its
    position at t (hidden or non-finite points get neither), resized to ``size``."""
    background = np.asarray(background)
    check_image(background, "background")
    tracks_px = np.asarray(tracks_px, dtype=np.float64)
    if tracks_px.ndim != 3 or tracks_px.shape[-1] != 2:
        raise DataError(f"tracks_px must be (T, N, 2), got {tracks_px.shape}")
    visible = (np.ones(tracks_px.shape[:2], dtype=bool) if visible is None
               else np.asarray(visible, dtype=bool))
    n_frames = tracks_px.shape[0]
    height, width = background.shape[:2]
    frames = np.broadcast_to(background, (n_frames, height, width, 3))
    out = render_overlays(frames, tracks_px, visible, size=size, color=color,
                          opacity=TRAIL_OPACITY, line_width=line_width)
    out_w, out_h = output_size(size)

    scale = np.array([out_w / width, out_h / height])
    fixed = np.rint(tracks_px * scale * _SUBPIXEL_SCALE)
    drawable = visible & np.isfinite(fixed).all(axis=-1)
    radius = int(DOT_RADIUS * _SUBPIXEL_SCALE)
    rgb = color_rgb(color)
    for t in range(n_frames):
        for x, y in fixed[t][drawable[t]].astype(np.int64):
            centre = (int(x), int(y))
            cv2.circle(out[t], centre, radius, rgb, thickness=cv2.FILLED,
                       lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
            cv2.circle(out[t], centre, radius, DOT_OUTLINE_RGB, thickness=DOT_OUTLINE_WIDTH,
                       lineType=cv2.LINE_8, shift=SUBPIXEL_BITS)
    return out


def plain_canvas(
    width: int,
    height: int,
    *,
    mask: np.ndarray | None = None,  # (H, W) bool: the object, tinted
) -> np.ndarray:                     # (H, W, 3) uint8
    """A light neutral background for animations without a video frame."""
    if width < 1 or height < 1:
        raise DataError(f"plain_canvas: width and height must be >= 1, got {width} x {height}")
    canvas = np.full((height, width, 3), CANVAS_RGB, dtype=np.uint8)
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (height, width):
            raise DataError(f"plain_canvas: mask must be (H, W) = ({height}, {width}), got "
                            f"{mask.shape}")
        canvas[mask.astype(bool)] = MASK_TINT_RGB
    return canvas


def _ascii(text: str) -> str:
    """``text`` as the ASCII cv2's Hershey fonts draw: accents dropped, other symbols '?'."""
    decomposed = unicodedata.normalize("NFKD", " ".join(text.split()))
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return kept.encode("ascii", "replace").decode("ascii")


def _text_width(text: str) -> int:
    return cv2.getTextSize(text, FONT, FONT_SCALE, FONT_THICKNESS)[0][0]


def _fit(text: str, room: int) -> str:
    """``text``, or its longest prefix + ELLIPSIS whose drawn width fits in ``room`` pixels."""
    if _text_width(text) <= room:
        return text
    low, high = 0, len(text)        # the longest fitting prefix has length in [low, high)
    while high - low > 1:
        mid = (low + high) // 2
        if _text_width(text[:mid].rstrip() + ELLIPSIS) <= room:
            low = mid
        else:
            high = mid
    fitted = text[:low].rstrip() + ELLIPSIS
    return fitted if _text_width(fitted) <= room else ""


def labelled(
    frames: np.ndarray,  # (T, h, w, 3) uint8
    label: str,
) -> np.ndarray:         # (T, h + HEADER_HEIGHT, w, 3) uint8
    """``frames`` under a header strip holding ``label`` (ellipsised when it does not fit)."""
    frames = np.asarray(frames)
    check_frames(frames, "labelled: frames")
    n_frames, height, width = frames.shape[:3]
    header = np.full((HEADER_HEIGHT, width, 3), HEADER_RGB, dtype=np.uint8)
    text = _fit(_ascii(label), width - 2 * HEADER_PAD)
    if text:
        (_, text_h), _ = cv2.getTextSize(text, FONT, FONT_SCALE, FONT_THICKNESS)
        baseline_y = (HEADER_HEIGHT + text_h) // 2
        cv2.putText(header, text, (HEADER_PAD, baseline_y), FONT, FONT_SCALE, HEADER_TEXT_RGB,
                    FONT_THICKNESS, cv2.LINE_AA)
    return np.concatenate([np.broadcast_to(header, (n_frames, *header.shape)), frames], axis=1)


def side_by_side(
    panels: list[np.ndarray],  # each (T, h, w_i, 3) uint8
    *,
    gap: int,
) -> np.ndarray:               # (T, h, sum w_i + gap * (len - 1), 3) uint8
    """Panels left to right with ``gap`` backdrop pixels between them; same T and h needed."""
    if not panels:
        raise DataError("side_by_side: no panels")
    if gap < 0:
        raise ConfigError(f"side_by_side: gap must be >= 0, got {gap}")
    panels = [np.asarray(p) for p in panels]
    for i, panel in enumerate(panels):
        check_frames(panel, f"side_by_side: panel {i}")
        if panel.shape[:2] != panels[0].shape[:2]:
            raise DataError(f"side_by_side: panel {i} has (T, h) = {panel.shape[:2]}, panel 0 "
                            f"has {panels[0].shape[:2]}; all panels need the same T and h")
    n_frames, height = panels[0].shape[:2]
    total = sum(p.shape[2] for p in panels) + gap * (len(panels) - 1)
    out = np.full((n_frames, height, total, 3), BACKDROP_RGB, dtype=np.uint8)
    x = 0
    for panel in panels:
        out[:, :, x:x + panel.shape[2]] = panel
        x += panel.shape[2] + gap
    return out


def strip(
    frames_list: list[np.ndarray],  # each (h, w, 3) uint8, all the same size
    *,
    columns: int,
    gap: int = STRIP_GAP,
) -> np.ndarray:  # (rows * h + gaps, columns * w + gaps, 3) uint8
    """Still images in a grid, row by row, ``gap`` backdrop pixels apart (empty cells blank)."""
    if not frames_list:
        raise DataError("strip: no images")
    if columns < 1 or gap < 0:
        raise ConfigError(f"strip: columns must be >= 1 and gap >= 0, got {columns}, {gap}")
    images = [np.asarray(f) for f in frames_list]
    for i, image in enumerate(images):
        check_image(image, f"strip: image {i}")
        if image.shape != images[0].shape:
            raise DataError(f"strip: image {i} is {image.shape}, image 0 is {images[0].shape}; "
                            "all images need the same size")
    height, width = images[0].shape[:2]
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    out = np.full((rows * height + (rows - 1) * gap, columns * width + (columns - 1) * gap, 3),
                  BACKDROP_RGB, dtype=np.uint8)
    for i, image in enumerate(images):
        y, x = (i // columns) * (height + gap), (i % columns) * (width + gap)
        out[y:y + height, x:x + width] = image
    return out


def still(frames: np.ndarray) -> np.ndarray:  # frames (T, h, w, 3) -> (h, w, 3) uint8
    """The final frame (every trail complete): the PNG still of an animation."""
    frames = np.asarray(frames)
    check_frames(frames, "still: frames")
    return frames[-1].copy()

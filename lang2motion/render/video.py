"""Files a person opens: MP4 videos, animated GIFs and PNG contact sheets, written atomically.

Legend: T frames, H height, W width.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lang2motion.errors import ConfigError, DataError
from lang2motion.io import atomic_path

if TYPE_CHECKING:
    from PIL import Image

MP4_CODEC = "libx264"
# yuv420p is the pixel format every browser and player decodes; it needs even sizes.
MP4_PIXEL_FORMAT = "yuv420p"
MP4_QUALITY = 8            # imageio's 0..10 scale; trails are thin, keep them crisp
# We pad to even sizes ourselves, so imageio must not rescale to its default 16-pixel blocks
# (that would shift the trails by a resampling the embed stage never sees).
MP4_MACRO_BLOCK = 2

# GIF: one palette for the whole animation (frames then differ only where trails grow, which
# Pillow stores as small delta rectangles) and no dithering (error diffusion would spread a
# changed pixel's error across the rest of the frame, so every frame would differ everywhere).
GIF_COLORS = 256            # the GIF maximum; thin coloured trails need their exact colour
GIF_PALETTE_FRAMES = 8      # frames, evenly spaced and always with the last, the palette is fit on
GIF_PALETTE_STRIDE = 2      # ...every 2nd pixel of every 2nd row of them: the same palette here
                            # (trails stay exact, tested) in a quarter of the time
# GIF delays are whole centiseconds, and browsers play delays under 2 cs at 10 cs: above 50 fps
# an animation would play several times too slowly, so such rates are refused (use MP4).
GIF_MAX_FPS = 50
GIF_CENTISECONDS_PER_SECOND = 100
GIF_MS_PER_CENTISECOND = 10
GIF_MAX_LOOP = 65535        # the NETSCAPE loop count is 16 bits; 0 loops forever

SHEET_TILE_INCHES = 2.4    # width and height of one tile in the contact sheet
SHEET_LABEL_INCHES = 0.45  # room under a tile for its label
SHEET_DPI = 100
SHEET_FONT_SIZE = 7
SHEET_LABEL_CHARS = 40     # wrap labels at this many characters per line
SHEET_PAD = 0.02           # margin around each image, as a fraction of its tile


def check_frames(frames: np.ndarray, what: str) -> None:
    """DataError naming ``what`` unless ``frames`` is (T, H, W, 3) uint8 with T >= 1."""
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise DataError(f"{what}: expected (T, H, W, 3) uint8 frames with T >= 1, got "
                        f"{frames.shape} {frames.dtype}")


def check_image(image: np.ndarray, what: str) -> None:
    """DataError naming ``what`` unless ``image`` is (H, W, 3) uint8."""
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
        raise DataError(f"{what}: expected an (H, W, 3) uint8 image, got {image.shape} "
                        f"{image.dtype}")


def write_mp4(
    path: str | os.PathLike[str],
    frames: np.ndarray,  # (T, H, W, 3) uint8 RGB
    *,
    fps: int,
) -> None:
    """Write an H.264 MP4 (yuv420p) that any player opens, atomically; odd sizes are padded by
    one edge pixel (yuv420p needs even sizes), nothing is rescaled."""
    import imageio.v2 as imageio

    frames = np.asarray(frames)
    check_frames(frames, str(path))
    if fps < 1:
        raise DataError(f"{path}: fps must be >= 1, got {fps}")
    # yuv420p needs even sizes: one replicated pixel at the bottom/right where H or W is odd
    frames = np.pad(frames, ((0, 0), (0, frames.shape[1] % 2), (0, frames.shape[2] % 2), (0, 0)),
                    mode="edge")
    with atomic_path(path) as tmp:
        with imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec=MP4_CODEC,
                                pixelformat=MP4_PIXEL_FORMAT, quality=MP4_QUALITY,
                                macro_block_size=MP4_MACRO_BLOCK) as writer:
            for frame in frames:
                writer.append_data(frame)


def _gif_palette(frames: np.ndarray) -> Image.Image:  # frames (T, H, W, 3) uint8
    """A "P" image whose palette (median cut) is fit on a few frames spread over the animation."""
    from PIL import Image

    picks = np.unique(np.linspace(0, len(frames) - 1, GIF_PALETTE_FRAMES).round().astype(int))
    step = GIF_PALETTE_STRIDE
    sample = Image.fromarray(np.concatenate(frames[picks][:, ::step, ::step], axis=0))
    return sample.quantize(colors=GIF_COLORS, method=Image.Quantize.MEDIANCUT)


def write_gif(
    path: str | os.PathLike[str],
    frames: np.ndarray,  # (T, H, W, 3) uint8 RGB
    *,
    fps: int,
    loop: int = 0,
) -> None:
    """Write an animated GIF that browsers and GitHub play, atomically, one shared palette
    (see GIF_*). ``loop`` 0 repeats forever, n plays n + 1 times. Pillow stores identical
    consecutive frames once with their delays summed: a reader may count fewer frames."""
    from PIL import Image

    frames = np.asarray(frames)
    check_frames(frames, str(path))
    if not 1 <= fps <= GIF_MAX_FPS:
        raise DataError(f"{path}: a GIF's fps must be in [1, {GIF_MAX_FPS}] (browsers slow "
                        f"faster GIFs down; write an MP4 instead), got {fps}")
    if not 0 <= loop <= GIF_MAX_LOOP:
        raise DataError(f"{path}: loop must be in [0, {GIF_MAX_LOOP}] (0 = forever), got {loop}")
    palette = _gif_palette(frames)
    images = [Image.fromarray(frame).quantize(palette=palette, dither=Image.Dither.NONE)
              for frame in frames]
    delay_ms = round(GIF_CENTISECONDS_PER_SECOND / fps) * GIF_MS_PER_CENTISECOND
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:],
                       duration=delay_ms, loop=loop, optimize=True)


ANIMATION_WRITERS = {".gif": write_gif, ".mp4": write_mp4}


def write_animation(
    path: str | os.PathLike[str],
    frames: np.ndarray,  # (T, H, W, 3) uint8 RGB
    *,
    fps: int,
) -> None:
    """Write ``frames`` as a GIF or an MP4, chosen by the suffix of ``path`` (case ignored)."""
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATION_WRITERS:
        named = repr(suffix) if suffix else "(no suffix)"
        raise ConfigError(f"{path}: cannot write an animation with suffix {named}; accepted: "
                          f"{', '.join(ANIMATION_WRITERS)}")
    ANIMATION_WRITERS[suffix](path, frames, fps=fps)


def contact_sheet(
    path: str | os.PathLike[str],
    images: list[np.ndarray],  # each (H, W, 3) uint8 RGB; sizes may differ
    *,
    columns: int,
    labels: list[str] | None = None,
) -> None:
    """Tile images in a grid of ``columns`` columns, each with its wrapped label below, into
    a PNG written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not images:
        raise DataError(f"{path}: no images for the contact sheet")
    if columns < 1:
        raise DataError(f"{path}: columns must be >= 1, got {columns}")
    if labels is not None and len(labels) != len(images):
        raise DataError(f"{path}: {len(labels)} labels for {len(images)} images")
    for i, image in enumerate(images):
        check_image(image, f"{path}: image {i}")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    # Tiles take the widest image's shape: a side-by-side panel (about 3:1) in a square tile
    # left most of the sheet blank and its label over the picture.
    aspect = max(image.shape[1] / image.shape[0] for image in images)          # width / height
    tile_w = SHEET_TILE_INCHES * max(aspect, 1.0)
    image_h = tile_w / aspect
    label_h = SHEET_LABEL_INCHES if labels else 0.0
    # Figure + Agg canvas directly: no pyplot global state, safe in any thread or process.
    fig = Figure(figsize=(columns * tile_w, rows * (image_h + label_h)), dpi=SHEET_DPI)
    FigureCanvasAgg(fig)
    wrap = int(SHEET_LABEL_CHARS * max(aspect, 1.0))
    for i, image in enumerate(images):
        row, col = divmod(i, columns)
        # axes placed by hand in figure fractions: image on top of its tile, label room below
        cell_w, cell_h = 1.0 / columns, 1.0 / rows                 # figure fractions
        image_frac = image_h / (image_h + label_h)                  # of a cell's height
        ax = fig.add_axes((col * cell_w + SHEET_PAD * cell_w,
                           1.0 - (row + image_frac) * cell_h + SHEET_PAD * cell_h,
                           (1 - 2 * SHEET_PAD) * cell_w, (image_frac - 2 * SHEET_PAD) * cell_h))
        ax.imshow(image)
        ax.set_axis_off()
        if labels:
            ax.text(0.5, -0.02, "\n".join(textwrap.wrap(labels[i], wrap)) or " ",
                    transform=ax.transAxes, ha="center", va="top", fontsize=SHEET_FONT_SIZE)
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")

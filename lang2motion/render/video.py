"""Files a person opens: MP4 videos and PNG contact sheets, written atomically.

Legend: T frames, H height, W width.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import numpy as np

from lang2motion.errors import DataError
from lang2motion.io import atomic_path

MP4_CODEC = "libx264"
# yuv420p is the pixel format every browser and player decodes; it needs even sizes.
MP4_PIXEL_FORMAT = "yuv420p"
MP4_QUALITY = 8            # imageio's 0..10 scale; trails are thin, keep them crisp
# We pad to even sizes ourselves, so imageio must not rescale to its default 16-pixel blocks
# (that would shift the trails by a resampling the embed stage never sees).
MP4_MACRO_BLOCK = 2

SHEET_TILE_INCHES = 2.4    # width and height of one tile in the contact sheet
SHEET_LABEL_INCHES = 0.45  # room under a tile for its label
SHEET_DPI = 100
SHEET_FONT_SIZE = 7
SHEET_LABEL_CHARS = 40     # wrap labels at this many characters per line


def _check_images(frames: np.ndarray, what: str) -> None:
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or not len(frames):
        raise DataError(f"{what}: expected (T, H, W, 3) uint8 frames with T >= 1, got "
                        f"{frames.shape} {frames.dtype}")


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad the bottom/right edge by one replicated pixel where H or W is odd (yuv420p)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if not pad_h and not pad_w:
        return frames
    return np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")


def write_mp4(
    path: str | os.PathLike[str],
    frames: np.ndarray,  # (T, H, W, 3) uint8 RGB
    *,
    fps: int,
) -> None:
    """Write an H.264 MP4 (yuv420p) that any player opens; atomically (temp name, rename).

    Odd heights or widths are padded by one edge pixel (yuv420p needs even sizes); nothing is
    rescaled.
    """
    import imageio.v2 as imageio

    frames = np.asarray(frames)
    _check_images(frames, str(path))
    if fps < 1:
        raise DataError(f"{path}: fps must be >= 1, got {fps}")
    frames = _pad_even(frames)
    with atomic_path(path) as tmp:
        writer = imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec=MP4_CODEC,
                                    pixelformat=MP4_PIXEL_FORMAT, quality=MP4_QUALITY,
                                    macro_block_size=MP4_MACRO_BLOCK)
        try:
            for frame in frames:
                writer.append_data(frame)
        finally:
            writer.close()


def contact_sheet(
    path: str | os.PathLike[str],
    images: list[np.ndarray],  # each (H, W, 3) uint8 RGB; sizes may differ
    *,
    columns: int,
    labels: list[str] | None = None,
) -> None:
    """Tile images in a grid with ``columns`` columns, each with its label below; write a PNG.

    Written atomically. Labels are wrapped to stay under their tile.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not images:
        raise DataError(f"{path}: no images for the contact sheet")
    if columns < 1:
        raise DataError(f"{path}: columns must be >= 1, got {columns}")
    if labels is not None and len(labels) != len(images):
        raise DataError(f"{path}: {len(labels)} labels for {len(images)} images")
    for i, image in enumerate(images):
        if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint8:
            raise DataError(f"{path}: image {i} must be (H, W, 3) uint8, got "
                            f"{image.shape} {image.dtype}")
    columns = min(columns, len(images))
    rows = -(-len(images) // columns)
    tile_h = SHEET_TILE_INCHES + (SHEET_LABEL_INCHES if labels else 0.0)
    # Figure + Agg canvas directly: no pyplot global state, safe in any thread or process.
    fig = Figure(figsize=(columns * SHEET_TILE_INCHES, rows * tile_h), dpi=SHEET_DPI)
    FigureCanvasAgg(fig)
    for i, image in enumerate(images):
        ax = fig.add_subplot(rows, columns, i + 1)
        ax.imshow(image)
        ax.set_axis_off()
        if labels:
            ax.set_title("\n".join(textwrap.wrap(labels[i], SHEET_LABEL_CHARS)) or " ",
                         fontsize=SHEET_FONT_SIZE, y=-0.02, va="top")
    fig.tight_layout()
    with atomic_path(Path(path)) as tmp:
        fig.savefig(tmp, format="png")

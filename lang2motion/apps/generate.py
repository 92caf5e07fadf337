"""Text -> trajectory: encode a prompt with CLIP's text encoder and decode it from an initial grid.

No video is needed (paper section 3, inference). The grid is placed inside a first-frame object
mask, or inside a centred disc when no mask is given.

Legend: N points, T frames, D CLIP embedding size, H/W frame height/width.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from lang2motion.errors import DataError
from lang2motion.geometry import denormalise, normalise

DEFAULT_CANVAS = (256, 256)       # (W, H) when no mask is given
DEFAULT_DISC_FRACTION = 0.3       # radius of the default disc mask, as a fraction of min(W, H)
MASK_THRESHOLD = 127              # soft masks (0..255) are binarised at this level


@dataclass
class Generated:
    text: str
    tracks: np.ndarray    # (T, N, 2) float32, normalised [-1, 1]
    width: int
    height: int

    @property
    def tracks_px(self) -> np.ndarray:
        """(T, N, 2) float32 pixel coordinates."""
        return denormalise(self.tracks, self.width, self.height)


def read_mask(path: str | Path) -> np.ndarray:
    """A mask PNG -> (H, W) bool, thresholded at MASK_THRESHOLD."""
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise DataError(f"{path}: mask image is missing or unreadable")
    mask = image > MASK_THRESHOLD
    if not mask.any():
        raise DataError(f"{path}: mask is empty (no pixel above {MASK_THRESHOLD})")
    return mask


def default_mask(width: int, height: int) -> np.ndarray:
    """(H, W) bool: a centred disc, used when the user gives no mask."""
    mask = np.zeros((height, width), np.uint8)
    radius = int(DEFAULT_DISC_FRACTION * min(width, height))
    cv2.circle(mask, (width // 2, height // 2), radius, 1, thickness=-1)
    return mask.astype(bool)


def generate(texts: list[str], *, model: torch.nn.Module, clip, grid_px: np.ndarray,
             width: int, height: int) -> list[Generated]:
    """Decode each text from the same initial grid.

    grid_px: (N, 2) pixel (x, y) of the initial points in a W x H frame.
    """
    text_emb = torch.from_numpy(clip.encode_text(list(texts), batch_size=len(texts)))
    grid = torch.from_numpy(normalise(grid_px, width, height))
    grid = grid.unsqueeze(0).expand(len(texts), -1, -1)
    device = next(model.parameters()).device
    model.eval()
    with torch.inference_mode():
        tracks = model.generate(text_emb.to(device), grid.to(device)).float().cpu().numpy()
    return [Generated(text=t, tracks=tr, width=width, height=height)
            for t, tr in zip(texts, tracks, strict=True)]

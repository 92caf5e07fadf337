"""A gallery of generated trajectories: each beside its ground truth, animated over the first frame.

Expressions are picked evenly over the split, alternating between the values of its tags (both
phrasings) so that the gallery shows every slice. Every GIF plays in a browser and on GitHub;
a contact sheet shows their last frames (the full trails) at a glance.

Legend: T frames, N points, H/W frame size.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lang2motion.geometry import denormalise
from lang2motion.io import write_json_atomic
from lang2motion.render.animate import display_size, labelled, side_by_side, still, trail_animation
from lang2motion.render.video import contact_sheet, write_gif

PANEL_LONGEST = 256        # pixels of the longer side of each panel
PANEL_GAP = 6
TRAIL_COLOR = "cyan"
LINE_WIDTH = 2
FPS = 10
SHEET_COLUMNS = 1          # each tile is two panels wide already
SLUG_CHARS = 40


def slug(text: str) -> str:
    """A file-name-safe short form of a caption."""
    words = "".join(c if c.isalnum() else " " for c in text.lower()).split()
    return "_".join(words)[:SLUG_CHARS].strip("_") or "sample"


def choose(samples: pd.DataFrame, count: int) -> list[int]:
    """``count`` sample indices spread over the split, alternating tag values when tagged."""
    tag_columns = [c for c in samples.columns if c.startswith("tag.")]
    if tag_columns:
        groups = [np.flatnonzero((samples[tag_columns[0]] == value).to_numpy())
                  for value in sorted(samples[tag_columns[0]].unique())]
    else:
        groups = [np.arange(len(samples))]
    per_group = [g[np.linspace(0, len(g) - 1, min(len(g), -(-count // len(groups))))
                   .round().astype(int)] for g in groups if len(g)]
    interleaved = [int(i) for row in itertools.zip_longest(*per_group) for i in row
                   if i is not None]
    return interleaved[:count]


def write_gallery(samples: pd.DataFrame, *, truth: np.ndarray, generated: np.ndarray,
                  sizes: np.ndarray, frames_of: Callable[[int], np.ndarray],
                  out_dir: str | os.PathLike[str], count: int) -> list[dict[str, Any]]:
    """GIFs ``out_dir/gallery/NN_<caption>.gif``, ``gallery.png`` and ``gallery.json``.

    truth, generated: (S, T, N, 2) normalised; sizes: (S, 2) (W, H) of the source frames;
    frames_of(i): sample i's (T, H, W, 3) frames (only the first is drawn on).
    """
    out_dir = Path(out_dir)
    items, stills, labels = [], [], []
    for rank, i in enumerate(choose(samples, count)):
        width, height = (int(v) for v in sizes[i])
        size = display_size(width, height, longest=PANEL_LONGEST)
        background = frames_of(i)[0]
        panels = [labelled(trail_animation(background, denormalise(tracks[i], width, height),
                                           color=TRAIL_COLOR, size=size, line_width=LINE_WIDTH),
                           label)
                  for tracks, label in ((truth, "ground truth (tracked)"),
                                        (generated, "generated from the text"))]
        frames = side_by_side(panels, gap=PANEL_GAP)
        row = samples.iloc[i]
        name = f"gallery/{rank:02d}_{slug(row['text'])}.gif"
        write_gif(out_dir / name, frames, fps=FPS)
        tags = {c.removeprefix("tag."): row[c] for c in samples.columns if c.startswith("tag.")}
        items.append({"file": name, "text": row["text"], "sample_id": row["sample_id"],
                      "tags": tags, "ade": float(row["lang2motion.ade"])})
        stills.append(still(frames))
        labels.append(row["text"] + "".join(f" [{v}]" for v in tags.values() if v))
    if stills:
        contact_sheet(out_dir / "gallery.png", stills, columns=SHEET_COLUMNS, labels=labels)
    write_json_atomic(out_dir / "gallery.json", items)
    return items

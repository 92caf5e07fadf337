"""What the report embeds: the plots (CSV for `dvc plots`, PNG for the report) and the gallery.

- ``recall_at_k``: retrieval recall for K = 1..10, Lang2Motion against CLIP NN and random;
- ``ade_per_frame``: mean displacement error per frame, the generators against the baselines;
- ``motion_kinds``: per motion kind (synthetic data only), text-generated ADE against a still
  grid, and motion-kind accuracy.

The gallery: generated trajectories, each beside its ground truth, animated over the first frame
(GIFs that play in a browser and on GitHub), and a contact sheet of their last frames (the full
trails). Expressions are picked evenly over the split, alternating between the values of its
tags (both phrasings) so that it shows every slice.

Legend: S samples, T frames, N points, H/W frame size.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lang2motion.evaluate.retrieval import random_recall, recall_hits
from lang2motion.evaluate.suite import SplitEvaluation
from lang2motion.geometry import denormalise
from lang2motion.io import atomic_path, write_json_atomic
from lang2motion.render.animate import display_size, labelled, side_by_side, still, trail_animation
from lang2motion.render.video import contact_sheet, write_gif

MAX_K = 10
FRAME_METHODS = ("lang2motion", "reconstruction", "nearest_caption", "mean_motion", "static")
LABELS = {"lang2motion": "Lang2Motion (text)", "clip_nn": "CLIP NN", "random": "random",
          "reconstruction": "auto-encoder (z of the truth)", "static": "static grid",
          "nearest_caption": "nearest training caption", "mean_motion": "mean training motion"}
FIGURE_INCHES = (6.0, 3.6)
KIND_ROW_INCHES = 0.28          # height per motion kind in the bar chart
DPI = 100


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)


def _figure(size: tuple[float, float] = FIGURE_INCHES):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size)
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot(1, 1, 1)


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.6g")


def recall_at_k(evaluation: SplitEvaluation, out_dir: Path) -> None:
    ks = np.arange(1, MAX_K + 1)
    samples = evaluation.samples
    data = pd.DataFrame({"k": ks, **{
        method: [recall_hits(samples[f"rank.{method}"].to_numpy(), int(k)).mean() for k in ks]
        for method in ("lang2motion", "clip_nn")},
        "random": [random_recall(int(k), evaluation.gallery_size) for k in ks]})
    _write_csv(data, out_dir / "recall_at_k.csv")
    fig, ax = _figure()
    for method in ("lang2motion", "clip_nn", "random"):
        ax.plot(data["k"], data[method], marker="o", label=LABELS[method])
    ax.set(xlabel="K", ylabel="recall@K", ylim=(0, 1),
           title=f"Text-to-trajectory retrieval ({evaluation.gallery_size} trajectories)")
    ax.legend()
    _save(fig, out_dir / "recall_at_k.png")


def ade_per_frame(evaluation: SplitEvaluation, out_dir: Path) -> None:
    frames = next(iter(evaluation.frame_errors.values())).shape[1]
    data = pd.DataFrame({"frame": np.arange(frames), **{
        m: evaluation.frame_errors[m].mean(axis=0) for m in FRAME_METHODS}})
    _write_csv(data, out_dir / "ade_per_frame.csv")
    fig, ax = _figure()
    for method in FRAME_METHODS:
        ax.plot(data["frame"], data[method], label=LABELS[method])
    ax.set(xlabel="frame", ylabel="mean point distance (normalised units)",
           title="Displacement error per frame (valid split)")
    ax.legend(fontsize="small")
    _save(fig, out_dir / "ade_per_frame.png")


def motion_kinds(evaluation: SplitEvaluation, out_dir: Path) -> None:
    samples = evaluation.samples
    if not samples["motion_kind"].astype(bool).all():
        return
    grouped = samples.groupby("motion_kind")
    data = pd.DataFrame({
        "motion_kind": list(grouped.groups),
        "samples": grouped.size().to_numpy(),
        "lang2motion_ade": grouped["lang2motion.ade"].mean().to_numpy(),
        "static_ade": grouped["static.ade"].mean().to_numpy(),
        "motion_kind_acc": grouped["lang2motion.motion_kind_acc"].mean().to_numpy()})
    _write_csv(data, out_dir / "motion_kinds.csv")
    rows = np.arange(len(data))
    fig, ax = _figure((FIGURE_INCHES[0] + 2, max(FIGURE_INCHES[1], KIND_ROW_INCHES * len(data))))
    height = 0.4
    ax.barh(rows - height / 2, data["lang2motion_ade"], height, label="Lang2Motion ADE (text)")
    ax.barh(rows + height / 2, data["static_ade"], height, label="static grid ADE")
    ax.set_yticks(rows, [f"{k} (acc {a:.0%})" for k, a in
                         zip(data["motion_kind"], data["motion_kind_acc"], strict=True)])
    ax.invert_yaxis()
    ax.set(xlabel="ADE (normalised units)", title="Per motion kind (acc: motion-kind accuracy)")
    ax.legend(fontsize="small")
    _save(fig, out_dir / "motion_kinds.png")


def write_plots(evaluation: SplitEvaluation, out_dir: str | os.PathLike[str]) -> None:
    """Every plot's CSV and PNG under ``out_dir`` (motion kinds only where every sample has one)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for plot in (recall_at_k, ade_per_frame, motion_kinds):
        plot(evaluation, out_dir)


# ---------------------------------------------------------------------------------------------
# The gallery

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

"""The evaluation's plots: data files (CSV, for `dvc plots`) and PNGs (for the report).

- ``recall_at_k``: retrieval recall for K = 1..10, Lang2Motion against CLIP NN and random;
- ``ade_per_frame``: mean displacement error per frame, the generators against the baselines;
- ``motion_kinds``: per motion kind (synthetic data only), text-generated ADE against a still
  grid, and motion-kind accuracy.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from lang2motion.evaluate.retrieval import random_recall, recall_hits
from lang2motion.evaluate.suite import SplitEvaluation
from lang2motion.io import atomic_path

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

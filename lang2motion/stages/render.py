"""The render stage: trajectory overlays of every track row as MP4s a person can watch.

Writes ``<out_dir>/<split>/<track id, '/' -> '__'>.mp4`` for both splits (worker threads, a
staging folder swapped in whole at the end) and one contact sheet PNG: the first, middle and last
frame of a few rows of each split.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lang2motion.config import DataConfig, OverlayConfig
from lang2motion.data.splits import resolve_split
from lang2motion.io import atomic_dir
from lang2motion.render.overlay import FrameSource, overlay_track_row
from lang2motion.render.video import contact_sheet, write_mp4
from lang2motion.runtime import prefetch, worker_threads
from lang2motion.store import TrackRow, read_tracks, tracks_path

SHEET_ROWS = 6          # track rows shown in the contact sheet, spread over the splits
SHEET_COLUMNS = 3       # first, middle and last frame of a row
PREFETCH_PER_THREAD = 2


def video_name(track_id: str) -> str:
    """File name of a track row's MP4: track ids contain '/', file names cannot."""
    return track_id.replace("/", "__") + ".mp4"


def render_split(rows: list[TrackRow], split: FrameSource, *, overlay: OverlayConfig,
                 out_dir: Path, keep: set[int], desc: str) -> dict[int, np.ndarray]:
    """One MP4 per row (worker threads); returns the overlays (T, S, S, 3) of rows in ``keep``."""
    out_dir.mkdir(parents=True, exist_ok=True)

    def render_one(i: int) -> np.ndarray | None:
        overlays = overlay_track_row(rows[i], split, overlay=overlay)
        write_mp4(out_dir / video_name(rows[i].track_id), overlays, fps=overlay.fps)
        return overlays if i in keep else None

    threads = worker_threads()
    done = prefetch(render_one, range(len(rows)), threads=threads,
                    depth=PREFETCH_PER_THREAD * threads)
    return {i: o for i, o in enumerate(tqdm(done, total=len(rows), desc=desc, unit="row"))
            if o is not None}


def run(*, data: DataConfig, overlay: OverlayConfig, raw_dir: str | os.PathLike[str],
        tracks_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
        sheet_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Render both splits; return {split: number of videos} and the sheet path."""
    sheet_images, sheet_labels = [], []
    counts = {}
    with atomic_dir(out_dir) as staging:
        for split_name in data.splits:
            rows = read_tracks(tracks_path(tracks_dir, split_name))
            per_split = SHEET_ROWS // len(data.splits)
            keep = set(np.linspace(0, max(len(rows) - 1, 0), per_split).round().astype(int)
                       .tolist())
            kept = render_split(rows, resolve_split(raw_dir, split_name), overlay=overlay,
                                out_dir=staging / split_name, keep=keep,
                                desc=f"render {split_name}")
            for i, overlays in sorted(kept.items()):
                last = len(overlays) - 1
                for t in (0, last // 2, last):
                    sheet_images.append(overlays[t])
                    sheet_labels.append(f"{rows[i].texts[0]} [{split_name} t={t}]")
            counts[split_name] = len(rows)
    contact_sheet(sheet_path, sheet_images, columns=SHEET_COLUMNS, labels=sheet_labels)
    return {"videos": counts, "out_dir": str(out_dir), "sheet": str(sheet_path)}


def summary_lines(summary: dict[str, Any]) -> list[str]:
    return [*(f"{name}: {count} overlay videos in {summary['out_dir']}/{name}"
              for name, count in summary["videos"].items()),
            f"contact sheet: {summary['sheet']}"]

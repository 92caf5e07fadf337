"""The render stage: trajectory overlays of every track row as MP4s a person can watch.

Writes ``<out_dir>/<split>/<track id, '/' -> '__'>.mp4`` (swapped in whole) and a contact sheet
PNG. Sharded (:mod:`lang2motion.sharding`): shard i renders its block of each split's rows; the
merge moves the parts' files into the output, checks each row has its video, and draws the sheet.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from lang2motion.config import DataConfig, OverlayConfig, as_dict
from lang2motion.data.splits import resolve_split
from lang2motion.distributed import threads_per_process
from lang2motion.errors import DataError
from lang2motion.io import atomic_dir
from lang2motion.render.overlay import FrameSource, overlay_track_row
from lang2motion.render.video import contact_sheet, write_mp4
from lang2motion.runtime import prefetch, worker_threads
from lang2motion.sharding import Role, Shard, execute, fingerprint, move_files, shard_figures
from lang2motion.sharding import summary_lines as sharded_summary_lines
from lang2motion.store import TrackRow, read_tracks, tracks_path

STAGE = "render"
SHEET_ROWS = 6          # track rows shown in the contact sheet, spread over the splits
SHEET_COLUMNS = 3       # first, middle and last frame of a row
PREFETCH_PER_THREAD = 2


def video_name(track_id: str) -> str:
    """File name of a track row's MP4: track ids contain '/', file names cannot."""
    return track_id.replace("/", "__") + ".mp4"


def render_split(rows: list[TrackRow], split: FrameSource, *, overlay: OverlayConfig,
                 out_dir: Path, desc: str) -> None:
    """One MP4 per row into ``out_dir`` (worker threads: this node's cores shared between the
    stage's processes on it)."""
    out_dir.mkdir(parents=True, exist_ok=True)

    def render_one(row: TrackRow) -> None:
        overlays = overlay_track_row(row, split, overlay=overlay)
        write_mp4(out_dir / video_name(row.track_id), overlays, fps=overlay.fps)

    threads = min(worker_threads(), threads_per_process())
    done = prefetch(render_one, rows, threads=threads, depth=PREFETCH_PER_THREAD * threads)
    for _ in tqdm(done, total=len(rows), desc=desc, unit="row"):
        pass


def sheet_rows(count: int, splits: int) -> list[int]:
    """Indices of the rows of a split of ``count`` rows shown in the contact sheet: spread
    evenly, SHEET_ROWS over all ``splits``."""
    per_split = SHEET_ROWS // splits
    return sorted(set(np.linspace(0, max(count - 1, 0), per_split).round().astype(int).tolist()))


def file_digest(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def run_stage(*, data: DataConfig, overlay: OverlayConfig, raw_dir: str | os.PathLike[str],
        tracks_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str],
        sheet_path: str | os.PathLike[str], role: Role | None = None) -> dict[str, Any] | None:
    """Render both splits (``role``'s share of them; default: all, one process); return
    {split: number of videos} and the sheet path, or what :func:`lang2motion.sharding.execute`
    returns for a process that does not merge."""
    role = role or Role()
    tables = {name: tracks_path(tracks_dir, name) for name in data.splits}
    rows = {name: read_tracks(path) for name, path in tables.items()}
    # what shapes the videos: the overlay parameters and the tracks tables, byte for byte
    shaped_by = {"overlay": as_dict(overlay),
                 "tracks": {name: file_digest(path) for name, path in tables.items()}}

    def compute(shard: Shard, folder: Path) -> dict[str, Any]:
        summary = {}
        for name, split_rows in rows.items():
            share = shard.share([row.tracks.shape[0] for row in split_rows])
            render_split(split_rows[share.start:share.stop], resolve_split(raw_dir, name),
                         overlay=overlay, out_dir=folder / name, desc=f"render {name}")
            summary[name] = {"share": [share.start, share.stop], "videos": len(share)}
        return {"splits": summary}

    def assemble(folders: list[Path], parts: list[dict[str, Any]]) -> dict[str, Any]:
        with atomic_dir(out_dir) as staging:
            for name, split_rows in rows.items():
                for folder in folders:
                    move_files(folder / name, staging / name, pattern="*.mp4")
                expected = {video_name(row.track_id) for row in split_rows}
                found = {p.name for p in (staging / name).glob("*.mp4")}
                if found != expected:
                    raise DataError(
                        f"{folders[0].parent}: the parts hold {len(found)} overlay videos of "
                        f"split {name}, its tracks table {tables[name]} has {len(expected)} "
                        f"rows (missing e.g. {sorted(expected - found)[:3]}, unexpected e.g. "
                        f"{sorted(found - expected)[:3]}); render the shards again")
        draw_sheet(rows, raw_dir=raw_dir, overlay=overlay, sheet_path=sheet_path)
        return {"videos": {name: len(split_rows) for name, split_rows in rows.items()},
                "out_dir": str(out_dir), "sheet": str(sheet_path), **shard_figures(parts)}

    return execute(role, stage=STAGE, out=out_dir, fingerprint=fingerprint(shaped_by),
                   compute=compute, assemble=assemble)


def draw_sheet(rows: dict[str, list[TrackRow]], *, raw_dir: str | os.PathLike[str],
               overlay: OverlayConfig, sheet_path: str | os.PathLike[str]) -> None:
    """The contact sheet: first, middle and last overlay frame of a few rows of each split
    (drawn again here, so that it does not depend on which process rendered which row)."""
    images, labels = [], []
    for name, split_rows in rows.items():
        split = resolve_split(raw_dir, name)
        for i in sheet_rows(len(split_rows), len(rows)) if split_rows else []:
            overlays = overlay_track_row(split_rows[i], split, overlay=overlay)  # (T, S, S, 3)
            last = len(overlays) - 1
            for t in (0, last // 2, last):
                images.append(overlays[t])
                labels.append(f"{split_rows[i].texts[0]} [{name} t={t}]")
    contact_sheet(sheet_path, images, columns=SHEET_COLUMNS, labels=labels)


def summary_lines(summary: dict[str, Any] | None) -> list[str]:
    return sharded_summary_lines(summary, lambda summary: [
        *(f"{name}: {count} overlay videos in {summary['out_dir']}/{name}"
          for name, count in summary["videos"].items()),
        f"contact sheet: {summary['sheet']}"])

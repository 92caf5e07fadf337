"""DVC stage `render`: trajectory overlays of every track row as MP4s a person can watch.

Reads params sections data and overlay; writes ``<out>/<split>/<track_id, '/' -> '__'>.mp4`` for
both splits and one contact sheet PNG (first, middle and last frame of a few rows).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from tqdm import tqdm

from lang2motion.config import OverlayConfig, load_params
from lang2motion.data.splits import resolve_split
from lang2motion.render.overlay import FrameSource, overlay_track_row
from lang2motion.render.video import contact_sheet, write_mp4
from lang2motion.runtime import prefetch, worker_threads
from lang2motion.store import TrackRow, read_tracks

SHEET_ROWS = 6          # track rows shown in the contact sheet, spread over the splits


def video_name(track_id: str) -> str:
    """File name of a track row's MP4: track ids contain '/', file names cannot."""
    return track_id.replace("/", "__") + ".mp4"


def render_split(rows: list[TrackRow], split: FrameSource, *, overlay: OverlayConfig,
                 out_dir: Path, keep: set[int], desc: str) -> dict[int, np.ndarray]:
    """Write one MP4 per row (worker threads); return the overlays of the rows in ``keep``."""
    def render_one(i: int) -> np.ndarray | None:
        overlays = overlay_track_row(rows[i], split, overlay=overlay)
        write_mp4(out_dir / video_name(rows[i].track_id), overlays, fps=overlay.fps)
        return overlays if i in keep else None

    threads = worker_threads()
    done = prefetch(render_one, range(len(rows)), threads=threads, depth=2 * threads)
    kept = {i: o for i, o in enumerate(tqdm(done, total=len(rows), desc=desc, unit="row"))
            if o is not None}
    written = {video_name(row.track_id) for row in rows}
    for stale in out_dir.glob("*.mp4"):  # videos of rows that no longer exist
        if stale.name not in written:
            stale.unlink()
    return kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/raw", help="folder of MeViS-layout splits")
    parser.add_argument("--tracks", default="data/tracks", help="folder of <split>.parquet")
    parser.add_argument("--out", default="data/overlays", help="folder for <split>/*.mp4")
    parser.add_argument("--sheet", default="reports/overlays.png")
    args = parser.parse_args(argv)

    params = load_params(args.params, "data", "overlay")
    data, overlay = params["data"], params["overlay"]
    sheet_images, sheet_labels = [], []
    for split_name in data.splits:
        rows = read_tracks(Path(args.tracks) / f"{split_name}.parquet")
        out_dir = Path(args.out) / split_name
        out_dir.mkdir(parents=True, exist_ok=True)
        per_split = SHEET_ROWS // len(data.splits)
        keep = set(np.linspace(0, max(len(rows) - 1, 0), per_split).round().astype(int).tolist())
        kept = render_split(rows, resolve_split(args.raw, split_name), overlay=overlay,
                            out_dir=out_dir, keep=keep, desc=f"render {split_name}")
        for i, overlays in sorted(kept.items()):  # first, middle and last frame
            last = len(overlays) - 1
            for t in (0, last // 2, last):
                sheet_images.append(overlays[t])
                sheet_labels.append(f"{rows[i].texts[0]} [{split_name} t={t}]")
        print(f"{split_name}: {len(rows)} overlay videos in {out_dir}")
    contact_sheet(args.sheet, sheet_images, columns=3, labels=sheet_labels)
    print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()

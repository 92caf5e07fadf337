"""Tracker benchmark: accuracy (TAP-Vid AJ, < delta^x_avg, OA) and speed of every backend.

(a) Synthetic MeViS-format videos with exact ground truth: each object's grid (placed as the track
    stage does, at the first frame where the object is present) is tracked and compared with the
    generator's sidecar tracks (``SynthGroundTruth.point_tracks``), "first" mode, per video, then
    averaged over videos (the TAP-Vid convention).
(b) Real footage, when ``$LANG2MOTION_REAL_DATA`` holds it: BADJA joint tracks on the DAVIS dog and
    camel videos (480p). Each annotated joint is queried at the first annotated frame where it is
    visible and evaluated at the later annotated frames only (about every 5th frame).

Prints a markdown table and writes reports/bench_trackers.json and reports/bench_trackers.md.
Usage: python benchmarks/bench_trackers.py [--raw data/raw] [--cotracker-checkpoint PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from tqdm import tqdm

from lang2motion.config import GridConfig
from lang2motion.data.mevis.reader import MevisSplit
from lang2motion.data.synth.generate import generate_synthetic
from lang2motion.data.synth.truth import SynthGroundTruth
from lang2motion.entry import add_debug_flag, run_with_error_contract
from lang2motion.errors import DataError, DependencyError
from lang2motion.io import write_json_atomic, write_text_atomic
from lang2motion.tracking.base import Tracker
from lang2motion.tracking.cotracker import CoTracker3Tracker
from lang2motion.tracking.grid import GridError, place_grid
from lang2motion.tracking.lk import LKTracker
from lang2motion.tracking.metrics import mean_metrics, tapvid_metrics

BADJA_SLOTS = (8, 9, 10, 12, 13, 14, 15, 18, 19, 20, 22, 23, 24, 25, 28, 31, 32, 33, 35, 36)
BADJA_SOURCE_HEIGHT = 1080      # BADJA joints are in 1080p pixels
BADJA_ANIMALS = ("dog", "camel")
SYNTH_SPLIT = "valid_u"


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "opencv_threads": cv2.getNumThreads(), "platform": platform.platform(),
            "python": sys.version.split()[0], "torch": torch.__version__,
            "opencv": cv2.__version__,
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def bench_synthetic(tracker: Tracker, split: MevisSplit, gt: SynthGroundTruth,
                    grid: GridConfig) -> dict:
    """Per-video TAP-Vid metrics of every object's grid against the exact synthetic tracks."""
    per_video, frames_done, seconds, points_done, skipped = [], 0, 0.0, 0, 0
    for video_id in tqdm(split.video_ids(), desc=f"synthetic {tracker.name}", unit="video"):
        video = split.video(video_id)
        anno_ids = sorted({a for exp in video.expressions for a in exp.anno_ids})
        frames = split.read_frames(video_id)                       # (T, H, W, 3)
        height, width = frames.shape[1:3]
        queries, truth = [], []
        for anno_id in anno_ids:
            masks = split.object_masks(video_id, (anno_id,))       # (T, H, W)
            present = np.flatnonzero(masks.reshape(len(masks), -1).any(axis=1))
            if present.size == 0:
                skipped += 1
                continue
            t0 = int(present[0])
            try:
                points = place_grid(masks[t0], size=grid.size,
                                    erode_iterations=grid.erode_iterations, margin=grid.margin)
            except GridError:
                skipped += 1
                continue
            tracks, visible = gt.point_tracks(video_id, (anno_id,), points, t0)
            queries.append(np.concatenate([np.full((len(points), 1), t0), points], 1))
            truth.append((tracks, visible, np.full(len(points), t0)))
        if not queries:
            continue
        began = time.perf_counter()
        pred, pred_visible = tracker.track(frames, np.concatenate(queries).astype(np.float32))
        seconds += time.perf_counter() - began
        frames_done += len(frames)
        points_done += len(pred_visible[0])
        gt_tracks = np.concatenate([t for t, _, _ in truth], axis=1)      # (T, N, 2)
        gt_visible = np.concatenate([v for _, v, _ in truth], axis=1)     # (T, N)
        query_frames = np.concatenate([q for _, _, q in truth])
        per_video.append(tapvid_metrics(
            gt_tracks.transpose(1, 0, 2), ~gt_visible.T, pred.transpose(1, 0, 2),
            ~pred_visible.T, query_frames, frame_size=(width, height), mode="first"))
    out = mean_metrics(per_video)
    out.update(points=points_done, objects_skipped=skipped, seconds=seconds,
               fps=frames_done / seconds if seconds else float("nan"))
    return out


def load_badja(real_root: Path, animal: str) -> tuple[np.ndarray, dict] | None:
    """DAVIS frames (T, H, W, 3) and the BADJA annotation of one animal, or None if absent."""
    annotation = real_root / "badja" / f"{animal}.json"
    frame_dir = real_root / "davis" / animal / "frames"
    if not annotation.is_file() or not frame_dir.is_dir():
        return None
    frames = []
    for path in sorted(frame_dir.glob("*.jpg")):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DataError(f"{path}: unreadable or corrupt image")
        frames.append(bgr[:, :, ::-1])
    video = np.stack(frames)
    scale = video.shape[1] / BADJA_SOURCE_HEIGHT
    entries = json.loads(annotation.read_text())
    annotated = [int(Path(e["image_path"]).stem) for e in entries]
    if max(annotated) >= len(video):
        raise DataError(f"{annotation}: annotates frame {max(annotated)} but {frame_dir} has "
                        f"{len(video)} frames")
    joints = np.array([e["joints"] for e in entries], dtype=np.float64)[:, BADJA_SLOTS]
    xy = joints[..., ::-1] * scale                                       # (A, J, 2) (x, y)
    visible = np.array([e["visibility"] for e in entries], dtype=bool)[:, BADJA_SLOTS]
    return video, {"frames": np.array(annotated), "xy": xy, "visible": visible}


def bench_badja(tracker: Tracker, video: np.ndarray, ann: dict) -> dict:
    """delta_avg (and AJ, OA) of BADJA joints at the annotated frames after each joint's query."""
    seen = ann["visible"].any(axis=0)
    first = ann["visible"].argmax(axis=0)[seen]                 # annotation index of the query
    joints = np.flatnonzero(seen)
    queries = np.stack([ann["frames"][first], ann["xy"][first, joints, 0],
                        ann["xy"][first, joints, 1]], axis=1).astype(np.float32)
    began = time.perf_counter()
    pred, pred_visible = tracker.track(video, queries)           # (T, J, 2), (T, J)
    seconds = time.perf_counter() - began
    at = ann["frames"]
    metrics = tapvid_metrics(
        ann["xy"][:, joints].transpose(1, 0, 2), ~ann["visible"][:, joints].T,
        pred[at].transpose(1, 0, 2), ~pred_visible[at].T, first,
        frame_size=(video.shape[2], video.shape[1]), mode="first")
    metrics.update(joints=int(joints.size), frames=len(video), seconds=seconds,
                   fps=len(video) / seconds)
    return metrics


def json_ready(value):
    """NaN (an undefined metric) -> None, so the JSON file stays strict JSON."""
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def make_backends(args: argparse.Namespace) -> dict[str, Tracker]:
    backends: dict[str, Tracker] = {"lk": LKTracker()}
    if args.cotracker_checkpoint:
        try:
            backends["cotracker3"] = CoTracker3Tracker(checkpoint=args.cotracker_checkpoint,
                                                       device=args.device)
        except DependencyError as exc:
            print(f"cotracker3 skipped: {exc}")
    return backends


def table(results: dict) -> str:
    lines = ["| backend | data | videos | points | AJ | < delta_avg | OA | frames/s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for backend, rows in results.items():
        for data, m in rows.items():
            count = int(m.get("videos", 1))
            points = m.get("points", m.get("joints"))
            lines.append(f"| {backend} | {data} | {count} | {points} | "
                         f"{100 * m['average_jaccard']:.1f} | "
                         f"{100 * m['average_pts_within_thresh']:.1f} | "
                         f"{100 * m['occlusion_accuracy']:.1f} | {m['fps']:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", default="", help="data root holding a synthetic split; empty: "
                        "generate a small one in a temporary folder")
    parser.add_argument("--split", default=SYNTH_SPLIT)
    parser.add_argument("--videos", type=int, default=6, help="synthetic videos to generate")
    parser.add_argument("--video-frames", type=int, default=32)
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--grid-size", type=int, default=GridConfig().size)
    parser.add_argument("--cotracker-checkpoint", default="",
                        help="local scaled_offline.pth; enables the cotracker3 backend")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--real-data", default=os.environ.get("LANG2MOTION_REAL_DATA", ""))
    parser.add_argument("--out-json", default="reports/bench_trackers.json")
    parser.add_argument("--out-md", default="reports/bench_trackers.md")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    grid = GridConfig(size=args.grid_size)
    backends = make_backends(args)
    results: dict[str, dict] = {name: {} for name in backends}
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(args.raw) if args.raw else Path(tmp)
        if not args.raw:
            generate_synthetic(raw, splits={args.split: args.videos}, train_split=args.split,
                               video_frames=args.video_frames, height=args.height,
                               width=args.width, seed=args.seed)
        split = MevisSplit(raw, args.split)
        truth = SynthGroundTruth.load(raw / args.split)
        for name, tracker in backends.items():
            results[name]["synthetic"] = bench_synthetic(tracker, split, truth, grid)
    if args.real_data:
        for animal in BADJA_ANIMALS:
            loaded = load_badja(Path(args.real_data), animal)
            if loaded is None:
                continue
            for name, tracker in backends.items():
                results[name][f"badja-{animal}"] = bench_badja(tracker, *loaded)

    info = machine()
    machine_line = (f"Machine: {info['cpu_count']} CPUs, torch {info['torch']} with "
                    f"{info['torch_threads']} threads, OpenCV {info['opencv']} with "
                    f"{info['opencv_threads']} threads, GPU: {info['cuda'] or 'none'}.")
    protocol = ("AJ, < delta_avg and OA in percent (TAP-Vid definitions, 256x256 frame, "
                f"'first' mode). Synthetic: {'given' if args.raw else args.videos} videos of "
                f"split {args.split}, {grid.size}x{grid.size} grid per object against the exact "
                "generator tracks. BADJA: joints evaluated at the annotated frames only. "
                "frames/s = video frames tracked per second of tracker time (all points of a "
                "video at once).")
    md = "\n".join(["# Tracker benchmark", "", machine_line, "", protocol, "", table(results), ""])
    print(md)
    write_json_atomic(args.out_json, json_ready({"machine": info, "grid": grid.size,
                                                 "results": results}))
    write_text_atomic(args.out_md, md)


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_trackers", main))

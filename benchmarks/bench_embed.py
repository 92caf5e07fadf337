"""Speed of the embed path: overlay rendering, and embed_split against a bare CLIP loop.

In one run on one machine it measures
- render: ``render_overlays`` frames/s on MeViS-sized frames (decoded beforehand);
- bare: the same CLIP work without the pipeline: ``model.encode_image`` on random tensors
  already on the device (same batch size and precision) plus ``encode_text`` of the same
  captions, expressed as images/s;
- stage: ``embed_split`` end to end on ``--rows`` track rows (JPEG decoding, overlays, CLIP text
  and images, Parquet writing), images/s;
and the ratio stage / bare (target >= 0.8). Bare loop and stage alternate in ``--rounds`` rounds
and the ratio is the median of the rounds' ratios (robust to load drifting on a shared machine).
Writes ``--out`` JSON and a Markdown table beside it.

    python benchmarks/bench_embed.py --model ViT-B-32 --pretrained none --batch-size 32 --rows 8
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from lang2motion.config import OverlayConfig
from lang2motion.embed.clip import load_clip
from lang2motion.embed.features import embed_split
from lang2motion.entry import add_debug_flag, run_with_error_contract
from lang2motion.geometry import denormalise
from lang2motion.io import write_json_atomic, write_text_atomic
from lang2motion.render.overlay import render_overlays
from lang2motion.store import TrackRow

TARGET_RATIO = 0.8
FRAMES = 30                # T, as in the paper
GRID = 6                   # N = 36 points
JPEG_QUALITY = 95          # MeViS frames are high-quality JPEGs
NOISE_STD = 12.0           # sensor-like noise so JPEGs have realistic entropy
STEP_STD = 0.02            # per-frame random-walk step of the fake tracks (normalised units)
SHAPES = 6                 # moving textured rectangles per fake video
SHAPE_SIDE = 0.2           # their size, fraction of the frame height
RENDER_REPEATS = 3         # render_overlays timing: rows rendered this many times
SHARD_SIZE = 512


class JpegSplit:
    """In-memory JPEG frames decoded on read, exactly like the MeViS reader (cv2, BGR -> RGB)."""

    def __init__(self, videos: dict[str, list[bytes]]):
        self.videos = videos

    def read_frames(self, video_id: str, start: int, stop: int) -> np.ndarray:
        encoded = self.videos[video_id][start:stop]
        first = cv2.imdecode(np.frombuffer(encoded[0], np.uint8), cv2.IMREAD_COLOR)
        out = np.empty((len(encoded), *first.shape), dtype=np.uint8)
        out[0] = first[..., ::-1]
        for i, data in enumerate(encoded[1:], start=1):
            out[i] = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1]
        return out


def make_video(rng: np.random.Generator, *, length: int, height: int, width: int) -> list[bytes]:
    """JPEG frames: a colour gradient, noise and textured rectangles moving linearly."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([xx / width, yy / height, (xx + yy) / (width + height)], -1)
    base = base * rng.uniform(120, 220, 3) + rng.uniform(0, 40, 3)
    side = int(SHAPE_SIDE * height)
    starts = rng.uniform(0, [width - side, height - side], (SHAPES, 2))
    speeds = rng.normal(0, side / length, (SHAPES, 2))
    textures = rng.integers(0, 256, (SHAPES, side, side, 3)).astype(np.float32)
    out = []
    for t in range(length):
        frame = base + rng.normal(0, NOISE_STD, base.shape)
        for k in range(SHAPES):
            x, y = np.clip(starts[k] + t * speeds[k], 0, [width - side, height - side]).astype(int)
            frame[y:y + side, x:x + side] = textures[k]
        bgr = np.clip(frame, 0, 255).astype(np.uint8)[..., ::-1]
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
        assert ok, "JPEG encoding failed"
        out.append(buf.tobytes())
    return out


def make_rows(rng: np.random.Generator, *, rows: int, videos: int, height: int,
              width: int) -> list[TrackRow]:
    """Track rows with random-walk tracks of a 6 x 6 grid and two captions each."""
    out = []
    for i in range(rows):
        grid = np.stack(np.meshgrid(np.linspace(-0.4, 0.4, GRID), np.linspace(-0.4, 0.4, GRID)),
                        -1).reshape(-1, 2)
        steps = rng.normal(0, STEP_STD, (FRAMES, GRID * GRID, 2))
        steps[0] = 0
        tracks = np.clip(grid + np.cumsum(steps, axis=0), -1, 1).astype(np.float32)
        video, start = f"v{i % videos}", i // videos
        out.append(TrackRow(
            track_id=f"{video}/{i}/{start:05d}", video_id=video, anno_ids=(str(i),), start=start,
            exp_ids=(f"{i}a", f"{i}b"), texts=(f"object {i} moving left", f"thing {i} turning"),
            tracks=tracks, visible=np.ones(tracks.shape[:2], bool), width=width, height=height,
            tracker="bench"))
    return out


def bare_loop(encoder, *, images: int, batch_size: int) -> float:
    """images/s of model.encode_image on random device tensors, same precision as the stage."""
    x = torch.randn(batch_size, 3, encoder.image_size, encoder.image_size, device=encoder.device)
    batches = math.ceil(images / batch_size)

    def sync() -> None:
        if encoder.device.type == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode(), encoder.autocast():
        encoder.model.encode_image(x)  # warm-up (kernels, allocator)
        sync()
        start = time.perf_counter()
        for _ in range(batches):
            encoder.model.encode_image(x).float().cpu()  # same device -> host copy as the stage
        sync()
    return batches * batch_size / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--pretrained", default="none")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rows", type=int, default=9, help="track rows of 30 frames")
    parser.add_argument("--rounds", type=int, default=3, help="bare/stage alternations")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--height", type=int, default=720, help="source frame height (MeViS)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--out", default="reports/bench_embed.json")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    videos = min(args.rows, 4)
    length = FRAMES + math.ceil(args.rows / videos)
    split = JpegSplit({f"v{v}": make_video(rng, length=length, height=args.height,
                                           width=args.width) for v in range(videos)})
    rows = make_rows(rng, rows=args.rows, videos=videos, height=args.height, width=args.width)
    encoder = load_clip(model=args.model, pretrained=args.pretrained, device=args.device)
    overlay = OverlayConfig(size=encoder.image_size)

    decoded = [split.read_frames(r.video_id, r.start, r.start + FRAMES) for r in rows[:2]]
    start = time.perf_counter()
    for _ in range(RENDER_REPEATS):
        for row, frames in zip(rows[:len(decoded)], decoded, strict=True):
            render_overlays(frames, denormalise(row.tracks, row.width, row.height), row.visible,
                            size=overlay.size, color=overlay.color, opacity=overlay.opacity,
                            line_width=overlay.line_width)
    render_fps = RENDER_REPEATS * len(decoded) * FRAMES / (time.perf_counter() - start)
    start = time.perf_counter()
    split.read_frames(rows[0].video_id, 0, FRAMES)
    decode_fps = FRAMES / (time.perf_counter() - start)

    # The stage encodes each row's captions too, so the bare reference encodes them as well:
    # the ratio then measures only what the pipeline adds (decoding, rendering, writing, waits).
    # Bare loop and stage alternate in rounds: on a shared machine the load drifts, and each
    # round's ratio compares two measurements taken under the same load.
    rounds = []
    for chunk in np.array_split(np.arange(args.rows), args.rounds):
        chunk_rows = [rows[i] for i in chunk]
        n_images = len(chunk_rows) * FRAMES
        texts = [text for row in chunk_rows for text in row.texts]
        bare_seconds = n_images / bare_loop(encoder, images=n_images, batch_size=args.batch_size)
        start = time.perf_counter()
        encoder.encode_text(texts, batch_size=args.batch_size)
        bare_seconds += time.perf_counter() - start
        with tempfile.TemporaryDirectory() as tmp:
            summary = embed_split(chunk_rows, split, encoder=encoder, overlay=overlay,
                                  out_dir=tmp, shard_size=SHARD_SIZE, ground_truth=None,
                                  batch_size=args.batch_size)
        bare, stage = n_images / bare_seconds, n_images / summary["seconds"]
        rounds.append({"images": n_images, "texts": len(texts),
                       "bare_images_per_s": round(bare, 2),
                       "stage_images_per_s": round(stage, 2), "ratio": round(stage / bare, 3),
                       **{k: summary[k] for k in ("seconds", "text_seconds", "clip_seconds",
                                                  "prepare_wait_seconds", "write_seconds")}})
    ratio = float(np.median([r["ratio"] for r in rounds]))
    total = sum(r["images"] for r in rounds)
    result = {
        "device": str(encoder.device),
        "device_name": (torch.cuda.get_device_name(encoder.device)
                        if encoder.device.type == "cuda" else platform.processor() or "cpu"),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "clip": encoder.describe(), "batch_size": args.batch_size, "rows": args.rows,
        "frames_per_row": FRAMES, "points": GRID * GRID, "images": total,
        "source_frame": [args.height, args.width], "overlay_size": overlay.size,
        "render_frames_per_s": round(render_fps, 1),
        "decode_frames_per_s": round(decode_fps, 1),
        "bare_images_per_s": round(total / sum(r["images"] / r["bare_images_per_s"]
                                               for r in rounds), 2),
        "stage_images_per_s": round(total / sum(r["seconds"] for r in rounds), 2),
        "ratio": round(ratio, 3), "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "rounds": rounds,
    }
    write_json_atomic(args.out, result)
    lines = ["| measure | value |", "| --- | --- |"]
    lines += [f"| {k} | {v} |" for k, v in result.items() if k != "rounds"]
    lines += ["", "| round | images | bare img/s | stage img/s | ratio |",
              "| --- | --- | --- | --- | --- |"]
    lines += [f"| {i} | {r['images']} | {r['bare_images_per_s']} | {r['stage_images_per_s']} | "
              f"{r['ratio']} |" for i, r in enumerate(rounds)]
    write_text_atomic(Path(args.out).with_suffix(".md"),
                      "# Embed stage speed (benchmarks/bench_embed.py)\n\n" + "\n".join(lines)
                      + "\n")
    print("\n".join(lines))
    print(f"ratio stage / bare (median of {len(rounds)} rounds) = {result['ratio']:.3f} "
          f"(target >= {TARGET_RATIO})")


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_embed", main))

"""Training speed: samples/s for a small and the paper configuration, and a 200-epoch estimate.

Times ``lang2motion.train.train_step`` (forward, all six losses, backward, AdamW) on this
machine at ``--precision`` (default ``auto``, as ``train.precision``: bf16 on CUDA and on CPUs
with native bf16, else fp32) and decoder sampling share ``--sampling`` (default: the
training default, 1 = free running, the sequential decode), two ways per configuration:

- data path: batches drawn exactly as ``train()`` draws them, by indexing the whole split held as
  tensors on the device (real features from ``--features`` when that folder holds shards and
  their shapes fit, else generated FeatureTensors of the configuration's shape);
- synthetic: one pre-made batch of random tensors of the same shape, no indexing at all.

The two are timed in alternating rounds (median per step) so that load from other processes hits
both alike; they should agree within 20%. Writes ``reports/bench_train.json`` and ``.md``.

    python benchmarks/bench_train.py [--steps 10] [--rounds 3] [--features data/features/train]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lang2motion.config import PRECISIONS, LossConfig, ModelParams, TrainConfig
from lang2motion.entry import add_debug_flag, run_with_error_contract
from lang2motion.errors import DataError
from lang2motion.io import write_json_atomic, write_text_atomic
from lang2motion.loader import InMemorySplit
from lang2motion.model import Lang2Motion, ModelConfig
from lang2motion.runtime import resolve_device, resolve_precision
from lang2motion.store import FeatureTensors, load_feature_tensors
from lang2motion.train import Objective, train_step

MEVIS_V2_TRAIN_EXPRESSIONS = 27_502  # MeViS v2 train split, one sample per expression
PAPER_EPOCHS = 200
SPLIT_SAMPLES = 512                  # generated split size for the data-path timing
AGREEMENT = 0.20                     # data path vs synthetic step time, relative


@dataclass(frozen=True)
class BenchConfig:
    name: str
    points: int
    frames: int
    params: ModelParams
    batch_size: int


CONFIGS = (
    BenchConfig("small", points=16, frames=16, batch_size=32,
                params=ModelParams(latent=128, layers=2, heads=4, ff=256, dropout=0.1,
                                   decoder_hidden=256)),
    BenchConfig("paper", points=36, frames=30, batch_size=32,
                params=ModelParams(latent=512, layers=4, heads=4, ff=1024, dropout=0.1,
                                   decoder="autoregressive", decoder_hidden=1024,
                                   use_overlay=True)),
)


def features_config(data: FeatureTensors) -> BenchConfig:
    """A configuration shaped like real features (N, T, D and at most one full batch of them),
    with the small configuration's widths, so the data path is timed on real data even when the
    features are not paper-shaped (e.g. the tiny offline pipeline)."""
    _, frames, points, _ = data.row_tracks.shape
    dim = data.text_emb.shape[1]
    small = CONFIGS[0].params
    heads = small.heads if dim % small.heads == 0 else 1
    return BenchConfig("real-features", points=points, frames=frames,
                       batch_size=min(CONFIGS[0].batch_size, len(data)),
                       params=dataclasses.replace(small, latent=dim, heads=heads))


def generated_split(samples: int, frames: int, points: int, dim: int) -> FeatureTensors:
    rng = np.random.default_rng(0)
    image = rng.normal(size=(samples, frames, dim)).astype(np.float32)
    return FeatureTensors(   # one trajectory per sample
        sample_ids=[f"s{i}" for i in range(samples)], track_ids=[f"t{i}" for i in range(samples)],
        texts=[""] * samples, motion_kinds=[""] * samples, template_ids=np.full(samples, -1),
        tags=[{}] * samples, video_ids=["v"] * samples, starts=np.zeros(samples, int),
        row=np.arange(samples),
        row_tracks=rng.uniform(-1, 1, (samples, frames, points, 2)).astype(np.float32),
        row_visible=np.ones((samples, frames, points), bool),
        text_emb=rng.normal(size=(samples, dim)).astype(np.float32), row_image_emb=image,
        row_image_emb_pooled=image.mean(1), sizes=np.tile([256, 192], (samples, 1)))


def real_split(features: Path, bench: BenchConfig) -> FeatureTensors | None:
    """The real feature split when it exists and matches the configuration's shapes."""
    try:
        data = load_feature_tensors(features)
    except DataError:
        return None
    shape_ok = data.row_tracks.shape[1:3] == (bench.frames, bench.points)
    return data if shape_ok and data.text_emb.shape[1] == bench.params.latent else None


def synthetic_batch(data: dict[str, torch.Tensor], batch_size: int,
                    *, seed: int) -> dict[str, torch.Tensor]:
    """Random tensors shaped like a batch of ``data``: tracks uniform in [-1, 1], embeddings
    standard normal, made on the device up front (no indexing during the timed steps)."""
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key, value in data.items():
        shape = (batch_size, *value.shape[1:])
        sample = (torch.rand(shape, generator=generator) * 2 - 1 if key == "tracks"
                  else torch.randn(shape, generator=generator))
        out[key] = sample.to(value.device)
    return out


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(model, optimizer, batches, loss, device, steps: int, *, precision: str,
               sampling: float) -> float:
    """Seconds per step over ``steps`` steps drawn from the iterator ``batches``."""
    synchronize(device)
    start = time.perf_counter()
    objective = Objective(model, loss)
    for _ in range(steps):
        train_step(objective, optimizer, next(batches), device=device, precision=precision,
                   sampling=sampling)
    synchronize(device)
    return (time.perf_counter() - start) / steps


def endless_batches(split: InMemorySplit, batch_size: int):
    """The training loop's batches: each epoch's order, gathered by the loader."""
    epoch = 0
    while True:
        for index in split.order(seed=0, epoch=epoch).split(batch_size):
            yield split.batch(index)
        epoch += 1


def bench_one(bench: BenchConfig, *, device: torch.device, steps: int, rounds: int,
              warmup: int, features: Path, precision: str, sampling: float) -> dict:
    loss = LossConfig()  # all six terms on, the paper's weights
    cfg = ModelConfig.from_params(bench.params, points=bench.points, frames=bench.frames,
                                  clip_dim=bench.params.latent)
    torch.manual_seed(0)
    model = Lang2Motion(cfg).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=TrainConfig().lr)
    real = real_split(features, bench)
    split = real if real is not None else generated_split(
        SPLIT_SAMPLES, bench.frames, bench.points, bench.params.latent)
    loader = InMemorySplit(split, device=device, use_overlay=cfg.use_overlay)
    data = loader.batch(torch.arange(min(len(split), bench.batch_size)))  # keys and shapes
    path_batches = endless_batches(loader, bench.batch_size)
    # Distinct pre-made batches, as in real training (a single repeated batch would stay hot
    # in cache and flatter the synthetic side).
    synthetic = [synthetic_batch(data, bench.batch_size, seed=i) for i in range(steps)]
    synthetic_batches = itertools.cycle(synthetic)
    mode = {"precision": precision, "sampling": sampling}
    time_steps(model, optimizer, path_batches, loss, device, warmup, **mode)
    time_steps(model, optimizer, synthetic_batches, loss, device, warmup, **mode)
    times: dict[str, list[float]] = {"path": [], "synthetic": []}
    iterators = {"path": path_batches, "synthetic": synthetic_batches}
    for index in range(rounds):
        # alternate which goes first so that a drift in machine load hits both alike
        for kind in (("path", "synthetic") if index % 2 == 0 else ("synthetic", "path")):
            times[kind].append(time_steps(model, optimizer, iterators[kind], loss, device,
                                          steps, **mode))
    path_times, synthetic_times = times["path"], times["synthetic"]
    path_s, synthetic_s = statistics.median(path_times), statistics.median(synthetic_times)
    samples_per_s = bench.batch_size / path_s
    return {
        "points": bench.points, "frames": bench.frames, "batch_size": bench.batch_size,
        "model": dataclasses.asdict(bench.params),
        "parameters": sum(p.numel() for p in model.parameters()),
        "data_source": (f"feature shards written by the pipeline ({len(split)} samples from "
                        f"{features})" if real is not None
                        else f"generated FeatureTensors ({len(split)} samples) through the "
                             f"training data path (no real features of this shape found)"),
        "step_s_data_path": path_s, "step_s_synthetic": synthetic_s,
        "relative_difference": abs(path_s - synthetic_s) / synthetic_s,
        "samples_per_s": samples_per_s,
    }


def machine(device: torch.device, precision: str, sampling: float) -> dict:
    return {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                       else f"cpu ({platform.processor() or platform.machine()})"),
            "precision": "bf16 autocast" if precision == "bf16" else "fp32",
            "sampling": sampling,
            "load_average_1min": (round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg")
                                  else None),
            "torch": torch.__version__, "platform": platform.platform()}


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = [
        "# Training speed", "",
        (f"Machine: {m['device']}, {m['cpu_count']} CPUs, {m['torch_threads']} torch threads, "
         f"{m['precision']}, decoder sampling share {m.get('sampling', 0.0)} (1: free running), "
         f"torch {m['torch']}, load average {m['load_average_1min']} at the "
         f"start (other jobs on the machine slow every figure below)."), "",
        ("| config | N | T | batch | params | samples/s | step (data path) | step (synthetic) "
         "| difference |"),
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, r in report["configs"].items():
        lines.append(f"| {name} | {r['points']} | {r['frames']} | {r['batch_size']} | "
                     f"{r['parameters'] / 1e6:.2f} M | {r['samples_per_s']:.1f} | "
                     f"{r['step_s_data_path'] * 1e3:.1f} ms | "
                     f"{r['step_s_synthetic'] * 1e3:.1f} ms | "
                     f"{r['relative_difference']:.1%} |")
    est = report["estimate"]
    lines += ["", (f"200 MeViS epochs ({est['samples_per_epoch']:,} MeViS v2 train expressions "
                   f"per epoch, paper configuration): {est['hours']:.1f} h on this machine "
                   f"(training steps only; the per-epoch inline evaluation is extra)."), ""]
    for name, r in report["configs"].items():
        lines.append(f"- {name}: data from {r['data_source']}.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5, help="timed steps per round")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--sampling", type=float, default=TrainConfig().sampling,
                        help="decoder's share of its own outputs (0: teacher forcing, one "
                             "batched call; 1: free running, frame by frame)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0: torch's default). On a CPU shared with "
                             "other jobs, fewer threads than cores avoids spinning OpenMP "
                             "threads fighting over cores")
    parser.add_argument("--features", default="data/features/train",
                        help="a features split folder to time real data from, if present")
    parser.add_argument("--out", default="reports/bench_train")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device, param="--device")
    precision = resolve_precision(args.precision, device)
    report = {"machine": machine(device, precision, args.sampling), "configs": {}}
    try:
        extra = (features_config(load_feature_tensors(args.features)),)
    except DataError as exc:
        print(f"no real features timed: {exc}")
        extra = ()
    for bench in (*CONFIGS, *extra):
        result = bench_one(bench, device=device, steps=args.steps, rounds=args.rounds,
                           warmup=args.warmup, features=Path(args.features),
                           precision=precision, sampling=args.sampling)
        report["configs"][bench.name] = result
        print(f"{bench.name}: {result['samples_per_s']:.1f} samples/s; step "
              f"{result['step_s_data_path'] * 1e3:.1f} ms (data path) vs "
              f"{result['step_s_synthetic'] * 1e3:.1f} ms (synthetic), "
              f"{result['relative_difference']:.1%} apart"
              + ("" if result["relative_difference"] <= AGREEMENT else " (MORE THAN 20%)"))
    paper = report["configs"]["paper"]
    seconds = PAPER_EPOCHS * MEVIS_V2_TRAIN_EXPRESSIONS / paper["samples_per_s"]
    report["estimate"] = {"epochs": PAPER_EPOCHS, "samples_per_epoch": MEVIS_V2_TRAIN_EXPRESSIONS,
                          "seconds": seconds, "hours": seconds / 3600}
    print(f"200 MeViS epochs ({MEVIS_V2_TRAIN_EXPRESSIONS:,} train expressions): "
          f"{seconds / 3600:.1f} h")
    write_json_atomic(f"{args.out}.json", report)
    write_text_atomic(f"{args.out}.md", markdown(report))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_train", main))

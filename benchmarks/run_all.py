"""Run every benchmark in one process on one machine and gather them in reports/benchmarks.md.

Tracker accuracy and frames/s (bench_trackers), overlay rendering and the embed stage against a
bare CLIP loop (bench_embed), training samples/s (bench_train), text -> trajectory latency and
throughput (bench_generate), the learning targets over training seeds (bench_learning; the
last two need `make demo` first) and every stage's time and memory at 1x, 2x and 4x the data
(bench_scaling: the pipeline run seven times over, the longest; `--skip scaling` leaves it out).
Each writes its own reports/bench_*.md; this script runs them back to back and concatenates
their tables under one header that names the machine.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_embed
import bench_generate
import bench_learning
import bench_scaling
import bench_trackers
import bench_train

from lang2motion.entry import add_debug_flag, run_with_error_contract
from lang2motion.io import write_text_atomic

REPORTS = Path("reports")
PARTS = (("Point trackers", "bench_trackers.md"),
         ("Overlays and CLIP embedding", "bench_embed.md"),
         ("Training", "bench_train.md"),
         ("Text -> trajectory", "bench_generate.md"),
         ("Learning outcome over seeds", "bench_learning.md"),
         ("Scaling with data size", "bench_scaling.md"))
CHOICES = ("trackers", "embed", "train", "generate", "learning", "scaling")


def machine_line() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False,
                         capture_output=True, text=True).stdout.strip() or "unknown"
    return (f"Measured {datetime.date.today().isoformat()} at git {rev} on {platform.node()}: "
            f"{os.cpu_count()} CPUs ({platform.machine()}), torch {torch.__version__} with "
            f"{torch.get_num_threads()} threads, GPU: {gpu}.")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip", nargs="*", default=[], choices=CHOICES,
                        help="generate and learning need `make demo` first (models/, data/)")
    parser.add_argument("--out", default=str(REPORTS / "benchmarks.md"))
    parser.add_argument("--notes", default="benchmarks/NOTES.md",
                        help="hand-written notes (e.g. GPU figures) appended to the report")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    if "trackers" not in args.skip:
        bench_trackers.main(["--videos", "12"])
    if "embed" not in args.skip:
        bench_embed.main([])
    if "train" not in args.skip:
        bench_train.main([])
    if "generate" not in args.skip:
        bench_generate.main([])
    if "learning" not in args.skip:
        bench_learning.main([])
    if "scaling" not in args.skip:
        bench_scaling.main([])
    sections = ["# Benchmarks", "", machine_line(), "",
                ("All figures come from the stand-in set-up unless a line says otherwise: the "
                 "synthetic data set, the LK tracker and randomly initialised CLIP weights "
                 "(speed does not depend on the weights)."), ""]
    for title, name in PARTS:
        path = REPORTS / name
        if path.exists():
            body = path.read_text().strip().splitlines()[1:]  # drop each part's own H1
            while body and not body[0].strip():
                body.pop(0)
            sections += [f"## {title}", "", *body, ""]
    notes = Path(args.notes)
    if notes.exists():
        sections += [notes.read_text().strip(), ""]
    write_text_atomic(args.out, "\n".join(sections))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(run_with_error_contract("run_all", main))

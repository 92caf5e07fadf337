"""Speed of text -> trajectory: batch-1 latency, batched throughput, the command's wall time.

In one run on one machine, on a checkpoint (default ``models/``, after ``make demo``):
- latency at batch 1, warm, p50 and p95: decoding alone (the text embedding given) and with
  CLIP's text encoding of a short prompt included (the text tower runs up to the end-of-text
  token only), for the checkpoint's CLIP and for the paper's ViT-B/32 text tower;
- throughput of one batched decode of ``--batch`` trajectories, against a bare loop of the same
  matrix multiplications on the same shapes in the same run (no module, no checks: the floor of
  what the decoder costs); the ratio should be >= 0.9;
- the wall time of the ``lang2motion generate`` command for one prompt and for ``--prompts``
  prompts in one call (start-up paid once).
Writes ``--out`` JSON and a Markdown table beside it; errors follow the entry-point contract.

    python benchmarks/bench_generate.py --model models
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lang2motion.embed.clip import load_clip
from lang2motion.entry import add_debug_flag, run_with_error_contract, setup_logging
from lang2motion.evaluate.suite import latency_ms, throughput
from lang2motion.io import write_json_atomic, write_text_atomic
from lang2motion.model.autoencoder import unit_latent
from lang2motion.runtime import cpu_threads
from lang2motion.trained_model import Lang2MotionModel

PROMPT = "a red ball bouncing to the right"
TARGET_P50_MS_CPU = 30.0
TARGET_P50_MS_GPU = 5.0
TARGET_RATIO = 0.9
PAPER_S = 0.7


def bare_decode(model, latent: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    """The autoregressive decoder's arithmetic without modules or checks: (B, D), (B, N, 2)."""
    first, second, last = model.decoder.mlp[0], model.decoder.mlp[2], model.decoder.mlp[4]
    dim = latent.shape[1]
    z = unit_latent(latent, model.cfg.latent_scale)
    part = torch.addmm(first.bias, z, first.weight[:, :dim].t())
    w_points = first.weight[:, dim:].t().contiguous()
    w2, w3 = second.weight.t().contiguous(), last.weight.t().contiguous()
    prev = grid.reshape(grid.shape[0], -1)
    out = [prev]
    for _ in range(model.cfg.frames - 1):
        hidden = F.gelu(torch.addmm(part, prev, w_points))
        hidden = F.gelu(torch.addmm(second.bias, hidden, w2))
        prev = prev + torch.addmm(last.bias, hidden, w3)
        out.append(prev)
    return torch.stack(out, dim=1)


def command_seconds(model_dir: str, prompts: list[str], device: str) -> float:
    """Wall time of one `lang2motion generate` process for ``prompts``."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "lang2motion.cli", "generate", *prompts,
                        "--model", model_dir, "--out", out, "--device", device], check=True,
                       capture_output=True)
        return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="models", help="checkpoint folder")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls per latency")
    parser.add_argument("--batch", type=int, default=256, help="batched-throughput batch")
    parser.add_argument("--prompts", type=int, default=32, help="prompts in the multi-prompt "
                        "command")
    parser.add_argument("--paper-clip", default="ViT-B-32", help="also time text encoding "
                        "with this CLIP's text tower (random weights; '' = skip)")
    parser.add_argument("--out", default="reports/bench_generate.json")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    model = Lang2MotionModel.load(args.model, device=args.device)
    device = model.device
    grid = model.grids(1)[0]                      # the default region: a centred disc
    text = model.text_embeddings([PROMPT])
    decode_only = latency_ms(lambda: model.decode_tracks(text, grid), repeats=args.repeats,
                             warmup=5)
    with_text = latency_ms(lambda: model.decode_tracks(model.encode_texts([PROMPT]), grid),
                           repeats=args.repeats, warmup=5)
    paper_text = None
    if args.paper_clip and args.paper_clip != model.clip_model:
        # the paper's text tower (random weights: the same arithmetic as OpenAI's) on the same
        # path, so the latency with text is also known for the paper's CLIP, not only the stand-in
        paper_clip = load_clip(model=args.paper_clip, pretrained="none", device=str(device))

        def decode_with_paper_text():
            with cpu_threads(1 if device.type == "cpu" else None):
                emb = paper_clip.encode_text([PROMPT], batch_size=1)
            return model.decode_tracks(emb, grid)

        paper_text = latency_ms(decode_with_paper_text, repeats=args.repeats, warmup=5)
    texts = np.repeat(text, args.batch, axis=0)
    grids = np.repeat(grid, args.batch, axis=0)
    model.batch_size = args.batch
    batched = throughput(lambda: model.decode_tracks(texts, grids), items=args.batch, repeats=10)
    latent_t = torch.from_numpy(texts).to(device)
    grid_t = torch.from_numpy(grids.astype(np.float32)).to(device)
    with torch.inference_mode():
        bare = throughput(lambda: bare_decode(model.module, latent_t, grid_t),
                          items=args.batch, repeats=10)
    one = command_seconds(args.model, [PROMPT], args.device)
    many = command_seconds(args.model, [f"{PROMPT} {i}" for i in range(args.prompts)],
                           args.device)
    target = TARGET_P50_MS_GPU if device.type == "cuda" else TARGET_P50_MS_CPU
    result = {
        "machine": {"device": str(device), "cpus": os.cpu_count(),
                    "threads": torch.get_num_threads(), "platform": platform.platform(),
                    "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None,
                    "load_average": os.getloadavg()[0]},
        "clip": {"model": model.clip_model, "pretrained": model.clip_pretrained},
        "batch1_decode_ms": decode_only, "batch1_with_text_ms": with_text,
        "batch1_with_paper_text_ms": paper_text, "paper_clip": args.paper_clip or None,
        "batched_per_s": batched, "bare_loop_per_s": bare, "batched_vs_bare": batched / bare,
        "command_seconds_one_prompt": one, "command_seconds_many": many,
        "prompts_in_many": args.prompts, "target_p50_ms": target,
    }
    write_json_atomic(args.out, result)
    lines = [
        "# Text -> trajectory speed", "",
        f"Machine: {device} ({os.cpu_count()} CPUs, {torch.get_num_threads()} torch threads, "
        f"load average {result['machine']['load_average']:.2f} at the start); CLIP "
        f"{model.clip_model} ({model.clip_pretrained}); checkpoint `{args.model}`.", "",
        "| measure | value | target |", "| --- | ---: | ---: |",
        f"| batch 1, decode only (text embedding given), p50 / p95 | "
        f"{decode_only['p50']:.1f} / {decode_only['p95']:.1f} ms | |",
        f"| batch 1, CLIP text encoding included, p50 / p95 | {with_text['p50']:.1f} / "
        f"{with_text['p95']:.1f} ms | <= {target:.0f} ms (paper: {PAPER_S} s, hardware not "
        "stated) |",
        *([f"| batch 1, {args.paper_clip} text encoding included (the paper's text tower, "
           f"random weights), p50 / p95 | {paper_text['p50']:.1f} / {paper_text['p95']:.1f} ms "
           f"| <= {target:.0f} ms |"] if paper_text else []),
        f"| batched decode, batch {args.batch} | {batched:,.0f} trajectories/s | |",
        f"| bare loop of the same matrix products | {bare:,.0f} trajectories/s | |",
        f"| batched / bare | {batched / bare:.2f} | >= {TARGET_RATIO} |",
        f"| `lang2motion generate`, one prompt (process wall time) | {one:.1f} s | |",
        f"| `lang2motion generate`, {args.prompts} prompts in one call | {many:.1f} s "
        f"({many / args.prompts * 1000:.0f} ms per prompt) | |", ""]
    write_text_atomic(Path(args.out).with_suffix(".md"), "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_generate", main))

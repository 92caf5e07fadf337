"""Batch-1 CLIP text latency: ``ClipEncoder.encode_text`` against open_clip's ``encode_text``.

``ClipEncoder.encode_text`` runs open_clip's causal text tower only up to each text's end token;
open_clip's own ``model.encode_text`` runs all 77 positions. Both encode the same captions one at
a time (batch 1, the interactive verbs' case) with random weights, per model and thread count;
the two sides alternate in ``--rounds`` rounds and each figure is the median of the rounds.

    python benchmarks/bench_clip_text.py --models L2M-Mini512 ViT-B-32 --threads 1 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

from lang2motion.embed.clip import load_clip
from lang2motion.entry import add_debug_flag

# Captions of the demo's length (5-12 tokens), as the synthetic captions and typical prompts.
CAPTIONS = ["a red ball moving to the left", "the dog runs towards the camera",
            "a small car turning right at the crossing", "the bird flies up",
            "a person walking slowly from the right to the left side of the frame"]


def _per_text_ms(encode, texts: list[str], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        for text in texts:
            encode(text)
    return (time.perf_counter() - start) * 1e3 / (repeats * len(texts))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["L2M-Mini512", "ViT-B-32"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4, help="passes over the captions a round")
    add_debug_flag(parser)
    args = parser.parse_args(argv)

    print(f"machine load (1-min average) before: {os.getloadavg()[0]:.2f}; a figure taken under "
          "other jobs is not a figure")
    print("| model | threads | encode_text, prefix (ms/text) | open_clip encode_text (ms/text) "
          "| speed-up |\n| --- | ---: | ---: | ---: | ---: |")
    for name in args.models:
        encoder = load_clip(model=name, pretrained="none", device="cpu")

        def fast(text: str, encoder=encoder) -> None:
            encoder.encode_text([text], batch_size=1)

        def plain(text: str, encoder=encoder) -> None:
            with torch.inference_mode():
                encoder.model.encode_text(encoder.tokenizer([text]))

        for threads in args.threads:
            torch.set_num_threads(threads)
            fast("warm up"), plain("warm up")
            rounds = [(_per_text_ms(fast, CAPTIONS, args.repeats),
                       _per_text_ms(plain, CAPTIONS, args.repeats)) for _ in range(args.rounds)]
            fast_ms = statistics.median(r[0] for r in rounds)
            plain_ms = statistics.median(r[1] for r in rounds)
            ratio = statistics.median(r[1] / r[0] for r in rounds)
            print(f"| {name} | {threads} | {fast_ms:.2f} | {plain_ms:.2f} | {ratio:.2f}x |",
                  flush=True)
    print(f"machine load (1-min average) after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

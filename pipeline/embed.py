"""DVC stage `embed`: CLIP text and overlay-image features of every sample, as Parquet shards.

Reads params sections data, overlay and clip; writes ``<out>/<split>/part-NNNNN.parquet`` for
both splits and a JSON summary that says which CLIP weights produced the features.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from lang2motion.config import load_params
from lang2motion.data.splits import resolve_split
from lang2motion.data.synth import SynthGroundTruth
from lang2motion.embed.clip import load_clip
from lang2motion.embed.features import embed_split
from lang2motion.io import write_json_atomic
from lang2motion.store import read_tracks

SHARD_SIZE = 512                # samples per Parquet shard
SYNTH_GT_NAME = "synth_gt.json"  # present in synthetic split folders only

log = logging.getLogger("embed")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--raw", default="data/raw", help="folder of MeViS-layout splits")
    parser.add_argument("--tracks", default="data/tracks", help="folder of <split>.parquet")
    parser.add_argument("--out", default="data/features", help="folder for <split>/ shards")
    parser.add_argument("--summary", default="reports/embed_summary.json")
    args = parser.parse_args(argv)
    # Our own INFO lines (which weights, on which device); open_clip's INFO chatter stays off.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("lang2motion").setLevel(logging.INFO)

    params = load_params(args.params, "data", "overlay", "clip")
    data, overlay, clip = params["data"], params["overlay"], params["clip"]
    encoder = load_clip(model=clip.model, pretrained=clip.pretrained, device=clip.device)
    weights = ("RANDOM weights (stand-in features)" if encoder.random
               else f"pretrained weights {clip.pretrained!r}")
    log.warning("CLIP features from %s with %s on %s", clip.model, weights, encoder.device)

    summary = {"clip": encoder.describe(), "splits": {}}
    for split_name in data.splits:
        rows = read_tracks(Path(args.tracks) / f"{split_name}.parquet")
        split = resolve_split(args.raw, split_name)
        split_dir = Path(split.split_dir)
        truth = (SynthGroundTruth.load(split_dir) if (split_dir / SYNTH_GT_NAME).is_file()
                 else None)
        result = embed_split(rows, split, encoder=encoder, overlay=overlay,
                             out_dir=Path(args.out) / split_name, shard_size=SHARD_SIZE,
                             ground_truth=truth, batch_size=clip.batch_size)
        summary["splits"][split_name] = result
        print(f"{split_name}: {result['samples']} samples from {result['rows']} track rows, "
              f"{result['images_per_s']} images/s, {result['shards']} shard(s)")
    write_json_atomic(args.summary, summary)


if __name__ == "__main__":
    main()

"""Size of the feature shards: trajectories stored once against one copy per expression.

Reads every split of ``--features`` (default ``data/features``, after ``make demo``) and writes,
in a temporary folder the same content laid out one row per sample (expression), each row
carrying its trajectory's tracks and per-frame overlay embeddings, written as the embed stage
wrote it before schema 3 (shards of 512 samples, pyarrow's default writer settings). Prints and
writes both sizes on disk and their ratio (target >= 3x on the default data).

    python benchmarks/bench_storage.py --features data/features
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lang2motion.entry import add_debug_flag, run_with_error_contract
from lang2motion.io import write_json_atomic, write_text_atomic
from lang2motion.store import SAMPLE_COLUMNS, read_feature_table, shard_paths

TARGET_RATIO = 3.0
SAMPLES_PER_SHARD_BEFORE = 512    # the embed stage's shard size before schema 3


def per_sample_table(table: pa.Table, dim: int) -> pa.Table:
    """One row per sample: per-sample columns flattened, trajectory columns repeated."""
    counts = table.column("samples").to_numpy(zero_copy_only=False)
    owner = pa.array([i for i, k in enumerate(counts) for _ in range(k)], type=pa.int64())
    columns = {name: pc.list_flatten(table.column(name)) for name in SAMPLE_COLUMNS}
    flat_text = pc.list_flatten(table.column("text_emb")).to_numpy(zero_copy_only=False)
    offsets = pa.array(range(0, len(flat_text) + 1, dim), type=pa.int32())
    columns["text_emb"] = pa.ListArray.from_arrays(offsets, pa.array(flat_text))
    for name in table.column_names:
        if name not in columns and name != "samples":
            columns[name] = pc.take(table.column(name), owner)
    return pa.table(columns)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="data/features")
    parser.add_argument("--out", default="reports/bench_storage")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for split_dir in sorted(p for p in Path(args.features).iterdir() if p.is_dir()):
            table, meta = read_feature_table(split_dir)
            stored = sum(p.stat().st_size for p in shard_paths(split_dir))
            flat = per_sample_table(table, meta["dim"])
            before = 0
            for index, offset in enumerate(range(0, flat.num_rows, SAMPLES_PER_SHARD_BEFORE)):
                path = Path(tmp) / f"{split_dir.name}-{index}.parquet"
                pq.write_table(flat.slice(offset, SAMPLES_PER_SHARD_BEFORE), path)
                before += path.stat().st_size
            results[split_dir.name] = {
                "trajectories": table.num_rows, "samples": flat.num_rows,
                "per_trajectory_mb": round(stored / 2**20, 2),
                "per_sample_mb": round(before / 2**20, 2), "ratio": round(before / stored, 2)}
    lines = ["# Feature shard size: per trajectory (schema 3) against per sample", "",
             f"Features: `{args.features}`; target ratio >= {TARGET_RATIO:g}.", "",
             "| split | trajectories | samples | per trajectory, MiB | per sample, MiB | ratio |",
             "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {name} | {r['trajectories']} | {r['samples']} | {r['per_trajectory_mb']} | "
              f"{r['per_sample_mb']} | {r['ratio']}x |" for name, r in results.items()]
    write_json_atomic(f"{args.out}.json", results)
    write_text_atomic(f"{args.out}.md", "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(run_with_error_contract("bench_storage", main))

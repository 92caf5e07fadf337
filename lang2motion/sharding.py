"""A preprocessing stage's work shared out over processes: who does which share, part files, merge.

One output, three ways to run a sharded stage (track, render):

- one process (``dist.nproc`` = 1, the default): the whole work as shard 0 of 1;
- torchrun on one node or many (``dist.nproc`` > 1 makes the stage script launch itself, or
  ``torchrun --nproc-per-node K pipeline/track.py ...`` by hand): rank r of W computes shard r;
  after a barrier rank 0 merges;
- a SLURM array without a shared rendezvous: ``--shard i --num-shards n`` computes shard i only,
  and one ``--merge --num-shards n`` call merges (docs/scaling.md).

A shard is a contiguous block of the stage's ordered work items (videos for track, track rows for
render) balanced by weight (frames), :func:`contiguous_shares`, so
concatenating the parts in shard order gives exactly the single-process order. Shard i of n
writes ``<out>.parts/shard-0000i-of-0000n/`` (whole, through :func:`lang2motion.io.atomic_dir`)
with ``part.json`` last: the stage, the shard, the seconds it took, the stage's summary of the
share and a fingerprint of the parameters and input work list that shaped it. The merge refuses
missing parts and parts with another fingerprint, assembles the output atomically, then deletes
the parts.
"""

from __future__ import annotations

import bisect
import datetime
import hashlib
import itertools
import json
import math
import os
import shutil
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lang2motion.distributed import (
    World,
    barrier,
    current_world,
    process_group,
)
from lang2motion.entry import parse_stage_args, print_summary, relaunch_under_torchrun
from lang2motion.errors import ConfigError, DataError
from lang2motion.io import atomic_dir, read_json, remove_leftovers, write_json_atomic

PARTS_SUFFIX = ".parts"          # <out>.parts/ holds the part folders of output <out>
PART_FILE = "part.json"          # written last into each part folder
PART_FORMAT = "lang2motion.part/1"
NPROC_PARAM = "dist.nproc"
EXIT_FAILED = 1                  # run_sharded_script's status until torchrun returns one


# How long the ranks of a sharded stage wait at the barrier for the slowest share (gloo's default
# of 30 minutes is shorter than a rank's share of a large corpus can differ from another's).
# A rank that fails does not make the others wait this long: torchrun stops them.
SHARE_WAIT = datetime.timedelta(hours=48)


def contiguous_shares(weights: Sequence[float], parts: int) -> list[range]:
    """``parts`` contiguous blocks of the items ``0 .. len(weights) - 1`` with about equal total
    weight: a linear partition, so that concatenating the blocks' results in order gives the
    items' order.

    Cut k (between block k - 1 and block k) is placed where the running total of the weights is
    nearest ``k / parts`` of the total (the earlier place on a tie), so no block exceeds its
    equal share by more than one item's weight. Blocks may be empty (more parts than items, or a
    heavy item). All-zero weights count every item as 1. Integer weights are compared exactly,
    so every process computes the same blocks.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    values = list(weights)
    if any(not math.isfinite(w) or w < 0 for w in values):
        raise ValueError("weights must be finite and >= 0")
    if values and not any(values):
        values = [1] * len(values)
    running = [0, *itertools.accumulate(values)]   # running[i]: weight of the items before i
    total = running[-1]
    scaled = [r * parts for r in running]        # compared with k * total: exact for integers
    bounds = [0]
    for k in range(1, parts):
        # the first i whose running total reaches k/parts of the total, then the nearer of i-1, i
        target = k * total
        i = bisect.bisect_left(scaled, target)
        if i > 0 and target - scaled[i - 1] <= scaled[i] - target:
            i -= 1
        bounds.append(max(i, bounds[-1]))
    bounds.append(len(values))
    return [range(lo, hi) for lo, hi in itertools.pairwise(bounds)]


@dataclass(frozen=True)
class Shard:
    """Part ``index`` of ``count`` of a stage's work."""

    index: int
    count: int

    @property
    def name(self) -> str:
        """The part's folder name: shard-00001-of-00004."""
        return f"shard-{self.index:05d}-of-{self.count:05d}"

    def label(self) -> str:
        return f"shard {self.index} of {self.count}"

    def share(self, weights: Sequence[float]) -> range:
        """This shard's block of the work items with these weights (in the items' order)."""
        return contiguous_shares(weights, self.count)[self.index]


@dataclass(frozen=True)
class Role:
    """What this process does in a sharded stage.

    ``count`` shards in all; this process computes shard ``index`` (None: it only merges) and,
    when ``merge``, assembles every part into the output. ``world`` is its place under torchrun
    (rank r computes shard r, rank 0 merges). ``launch`` > 1: instead of working, the stage
    script re-runs itself as that many processes under torchrun.
    """

    count: int = 1
    index: int | None = 0
    merge: bool = True
    world: World = field(default_factory=World)
    launch: int = 0

    @property
    def shard(self) -> Shard | None:
        return None if self.index is None else Shard(self.index, self.count)

    @property
    def whole(self) -> bool:
        """One process doing all of it (its parts are an internal detail, removed on failure)."""
        return self.count == 1 and self.index == 0 and self.merge


def choose_role(*, shard: int | None, num_shards: int | None, merge: bool, nproc: int,
                world: World | None = None) -> Role:
    """The role of this process from the stage script's ``--shard i --num-shards n`` /
    ``--merge`` options, ``dist.nproc`` and the torchrun environment; ConfigError (one message)
    on a combination that makes no sense."""
    world = current_world() if world is None else world
    flags = shard is not None or num_shards is not None or merge
    if world.distributed and flags:
        raise ConfigError(f"--shard, --num-shards and --merge are for runs outside torchrun (a "
                          f"SLURM array); this process is {world.label()} under torchrun, where "
                          "the ranks share the work and rank 0 merges by themselves")
    if world.distributed:
        return Role(count=world.size, index=world.rank, merge=world.is_main, world=world)
    if num_shards is not None and num_shards < 1:
        raise ConfigError(f"--num-shards must be >= 1, got {num_shards}")
    if merge:
        if shard is not None:
            raise ConfigError("--merge assembles the parts of every shard: give it --num-shards "
                              "n, not --shard (run each --shard i first)")
        if num_shards is None:
            raise ConfigError("--merge needs --num-shards n: the number of shards the parts "
                              "were made with")
        return Role(count=num_shards, index=None, merge=True)
    if shard is not None or num_shards is not None:
        if shard is None or num_shards is None:
            raise ConfigError("--shard i and --num-shards n go together: this process computes "
                              "shard i of n (0 <= i < n)")
        if not 0 <= shard < num_shards:
            raise ConfigError(f"--shard {shard} is not a shard of --num-shards {num_shards} "
                              f"(0 <= i < {num_shards})")
        return Role(count=num_shards, index=shard, merge=False)
    if nproc > 1:
        return Role(launch=nproc)
    return Role()


def run_sharded_script(doc: str, script: str, argv: list[str] | None, *, stage: str,
                       paths: dict[str, tuple[str, str]],
                       body: Callable[[Any, dict[str, Any], Role], list[str]]) -> int | None:
    """The ``main`` of a sharded stage script (track, render, embed): its options and parameters,
    then its role from ``--shard``/``--num-shards``/``--merge`` and ``dist.nproc`` (popped from
    the parameters), then ``body(args, params, role)``'s summary lines printed. With
    ``dist.nproc`` > 1 outside torchrun the script is instead re-run as that many processes and
    their exit status returned; after a failed re-run the parts the ranks wrote are deleted
    (rank 0 deletes them after a successful merge)."""
    args, params = parse_stage_args(doc, argv, stage=stage, paths=paths, sharded=True)
    role = choose_role(shard=args.shard, num_shards=args.num_shards, merge=args.merge,
                       nproc=params.pop("dist").nproc)
    if role.launch:
        status = EXIT_FAILED
        try:
            status = relaunch_under_torchrun(script, argv, nproc=role.launch, param=NPROC_PARAM)
            return status
        finally:
            if status:
                remove_parts(parts_root(args.out), role.launch)
    print_summary(body(args, params, role))
    return None


def fingerprint(obj: Any) -> str:
    """A short hash of a JSON-able description of what shapes a stage's output (its parameters
    and its input work list), stored in every part and compared at the merge."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def parts_root(out: str | os.PathLike[str]) -> Path:
    """Where the part folders of output ``out`` live: ``<out>.parts`` beside it."""
    out = Path(out)
    return out.with_name(out.name + PARTS_SUFFIX)


# compute(shard, folder) writes the shard's part into folder and returns its summary (JSON-able);
# assemble(folders, parts) builds the output from every part in shard order (parts: the part.json
# of each, its "summary" being what compute returned) and returns the stage's summary
Compute = Callable[[Shard, Path], dict[str, Any]]
Assemble = Callable[[list[Path], list[dict[str, Any]]], dict[str, Any]]


def shard_figures(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The per-shard figures a merged summary lists: every part's seconds, and the slowest."""
    return {"slowest_seconds": max(p["seconds"] for p in parts),
            "shards": [{"shard": p["shard"], "seconds": p["seconds"]} for p in parts]}


def summary_lines(summary: dict[str, Any] | None,
                  body: Callable[[dict[str, Any]], list[str]]) -> list[str]:
    """A sharded stage's summary lines: none for a torchrun rank that does not merge, where a
    SLURM shard's part went, else ``body(summary)`` and, after several shards, the slowest."""
    if summary is None:
        return []
    if "part" in summary:
        return [f"{summary['shard']}: part written to {summary['part']} (assemble the parts "
                "with --merge)"]
    lines = body(summary)
    if len(summary["shards"]) > 1:
        lines.append(f"{len(summary['shards'])} shards, the slowest took "
                     f"{summary['slowest_seconds']:.1f} s")
    return lines


def execute(role: Role, *, stage: str, out: str | os.PathLike[str], fingerprint: str,
            compute: Compute, assemble: Assemble) -> dict[str, Any] | None:
    """Run ``role``'s share of a stage and, for the merging process, the merge.

    Returns the stage summary from ``assemble``, ``{"part": folder, "shard": label}`` for a
    SLURM shard, None for a torchrun rank other than 0. A single process leaves no part folder
    behind, even when it fails.
    """
    root = parts_root(out)
    shard = role.shard
    try:
        with process_group(role.world, timeout=SHARE_WAIT):
            if shard is not None:
                began = time.perf_counter()
                with atomic_dir(root / shard.name) as folder:
                    summary = compute(shard, folder)
                    write_json_atomic(folder / PART_FILE, {
                        "format": PART_FORMAT, "stage": stage, "shard": shard.index,
                        "num_shards": shard.count, "fingerprint": fingerprint,
                        "seconds": round(time.perf_counter() - began, 3), "summary": summary})
            barrier(role.world)          # every rank's part is complete before rank 0 merges
        if not role.merge:
            return None if role.world.distributed else {"part": str(root / shard.name),
                                                        "shard": shard.label()}
        folders, parts = check_parts(root, stage=stage, count=role.count,
                                     fingerprint=fingerprint)
        result = assemble(folders, parts)
        remove_parts(root, role.count)
        return result
    except BaseException:
        if role.whole:
            remove_parts(root, role.count)
        raise


def check_parts(root: Path, *, stage: str, count: int,
                fingerprint: str) -> tuple[list[Path], list[dict[str, Any]]]:
    """The ``count`` part folders under ``root`` in shard order and their ``part.json``; one
    DataError naming every missing part, or the first part made from other parameters/input."""
    folders = [root / Shard(i, count).name for i in range(count)]
    missing = [i for i, folder in enumerate(folders) if not (folder / PART_FILE).is_file()]
    if missing:
        others = sorted({p.name.rsplit("-of-", 1)[-1].lstrip("0") or "0"
                         for p in root.glob("shard-*-of-*")} - {str(count)}) \
            if root.is_dir() else []
        found = (f" (found parts made with --num-shards {', '.join(others)})" if others else "")
        raise DataError(
            f"{root}: {len(missing)} of {count} part(s) missing: shard(s) "
            f"{', '.join(map(str, missing))} (each is written by `pipeline/{stage}.py "
            f"--shard i --num-shards {count}`){found}. Run the missing shard(s) with the same "
            "params.yaml and input, then --merge again")
    parts = []
    for i, folder in enumerate(folders):
        part = read_json(folder / PART_FILE, what="part summary")
        if not isinstance(part, dict) or part.get("format") != PART_FORMAT:
            raise DataError(f"{folder / PART_FILE}: not a {PART_FORMAT} part summary; delete "
                            f"{folder} and run that shard again")
        if part.get("stage") != stage or (part.get("shard"), part.get("num_shards")) != (i, count):
            raise DataError(f"{folder / PART_FILE}: a part of stage {part.get('stage')!r}, shard "
                            f"{part.get('shard')} of {part.get('num_shards')}; expected {stage} "
                            f"shard {i} of {count}")
        if part.get("fingerprint") != fingerprint:
            raise DataError(
                f"{folder}: shard {i} of {count} was made with other parameters or other input "
                f"(fingerprint {part.get('fingerprint')}, this merge expects {fingerprint}): "
                f"re-run `pipeline/{stage}.py --shard {i} --num-shards {count}` with the "
                "current params.yaml and data, then --merge again")
        parts.append(part)
    return folders, parts


def remove_parts(root: Path, count: int) -> None:
    """Delete the ``count`` part folders (and their leftovers) under ``root``, then ``root``
    itself when nothing else is in it (parts of another shard count are kept)."""
    if not root.is_dir():
        return
    for i in range(count):
        folder = root / Shard(i, count).name
        shutil.rmtree(folder, ignore_errors=True)
        remove_leftovers(folder)
    if not any(root.iterdir()):
        root.rmdir()


def move_files(src: Path, dst: Path, *, pattern: str) -> None:
    """Move the files of ``src`` matching ``pattern`` into folder ``dst`` (renames on one file
    system)."""
    dst.mkdir(parents=True, exist_ok=True)
    for path in sorted(src.glob(pattern)):
        if path.is_file():
            os.replace(path, dst / path.name)


def sum_counts(summaries: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """Per key, the sum over ``summaries`` of a count or of a {reason: count} mapping (sorted)."""
    out: dict[str, Any] = {}
    for key in keys:
        values = [s[key] for s in summaries]
        if values and isinstance(values[0], dict):
            total: Counter[str] = Counter()
            for value in values:
                total.update(value)          # update keeps zero counts (``+`` would drop them)
            out[key] = dict(sorted(total.items()))
        else:
            out[key] = sum(values)
    return out

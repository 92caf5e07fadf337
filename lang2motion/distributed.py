"""torch.distributed inside a stage: which process this is, its device, launching under torchrun.

DVC runs one stage at a time; a stage's parallelism lives inside it, on the launcher researchers
already use. Under ``torchrun`` (or ``srun torchrun`` on SLURM) every process reads its rank
from the environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``); a stage script started by DVC with
``<section>.nproc`` > 1 re-runs itself as that many processes through torchrun's own code
(:func:`launch`), so ``dvc exp run -S train.nproc=8`` is all a user types.

Errors: a worker that hits a project error prints its one paragraph (naming its rank) and exits
with status 2; torchrun then stops the other ranks, and :func:`launch` ends with that status
without a second message. A rank stopped because a peer died says nothing of its own.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lang2motion.errors import Lang2MotionError

if TYPE_CHECKING:   # torch is imported where it is used: entry points import this module
    import torch

# exit status of a worker whose error was already printed (entry.EXIT_ERROR) and of a worker
# that stopped because another rank failed first (it prints nothing)
EXIT_REPORTED = 2
EXIT_PEER_FAILED = 3
# torchrun's c10d rendezvous on a free local port: one node, no shared endpoint needed
STANDALONE_ARGS = ("--standalone",)


@dataclass(frozen=True)
class World:
    """This process's place among the processes of a stage: rank of size, and its local rank on
    its node (its GPU under CUDA). A plain run is rank 0 of 1."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes checkpoints, logs, summaries and metrics."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def label(self) -> str:
        return f"rank {self.rank} of {self.size}"


def current_world() -> World:
    """The World torchrun (or SLURM through torchrun) describes in the environment."""
    try:
        size = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise Lang2MotionError(
            f"WORLD_SIZE={os.environ.get('WORLD_SIZE')!r}, RANK={os.environ.get('RANK')!r}, "
            f"LOCAL_RANK={os.environ.get('LOCAL_RANK')!r}: torchrun sets these to integers; "
            "unset them for a single-process run") from None
    if size < 1 or not 0 <= rank < size:
        raise Lang2MotionError(f"RANK={rank} is not a rank of WORLD_SIZE={size}")
    return World(rank=rank, size=size, local_rank=local)


def rank_device(device: torch.device, world: World) -> torch.device:
    """One GPU per rank: ``cuda`` becomes ``cuda:LOCAL_RANK`` in a distributed run."""
    if device.type != "cuda" or not world.distributed:
        return device
    import torch

    count = torch.cuda.device_count()
    if world.local_rank >= count:
        raise Lang2MotionError(f"{world.label()} has LOCAL_RANK {world.local_rank} but this node "
                               f"has {count} CUDA device(s): start at most {count} processes per "
                               "node (--nproc-per-node), or use the CPU")
    return torch.device("cuda", world.local_rank)


@contextlib.contextmanager
def process_group(world: World, device: torch.device | None = None, *,
                  timeout: datetime.timedelta | None = None) -> Iterator[None]:
    """The default process group for the block: NCCL on a CUDA ``device``, else gloo (a sharded
    preprocessing stage gives no device: its one collective is a barrier); ``timeout`` None is
    torch's default. Nothing for a single process."""
    if not world.distributed:
        yield
        return
    import torch
    import torch.distributed as dist

    cuda = device is not None and device.type == "cuda"
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if cuda else "gloo", rank=world.rank,
                            world_size=world.size, timeout=timeout,
                            device_id=device if cuda else None)
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier(world: World) -> None:
    if world.distributed:
        import torch.distributed as dist

        dist.barrier()


def peer_failed(exc: BaseException) -> bool:
    """Whether ``exc`` is a collective that broke because another rank ended (its error, if any,
    is reported by that rank)."""
    import torch.distributed as dist

    return isinstance(exc, dist.DistError) or (
        isinstance(exc, RuntimeError) and any(
            text in str(exc) for text in ("Connection closed by peer", "Connection reset by peer",
                                          "Broken pipe", "NCCL communicator was aborted")))


def threads_per_process(nproc: int | None = None) -> int:
    """CPU threads each of ``nproc`` processes on one node should use: the cores shared out.
    None: the processes of this stage on this node (torchrun's LOCAL_WORLD_SIZE, else 1)."""
    if nproc is None:
        try:
            nproc = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        except ValueError:
            nproc = 1
    return max(1, (os.cpu_count() or 1) // max(nproc, 1))


def launch(script: str, argv: Sequence[str], *, nproc: int, param: str) -> int:
    """Run ``script argv`` as ``nproc`` processes on this node through torchrun's own launcher
    (``torch.distributed.run``, standalone rendezvous); return the exit status for the caller.

    ``param`` names the parameter that asked for it (``train.nproc``) in messages. Workers get
    ``OMP_NUM_THREADS`` = cores / nproc unless it is set already.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    os.environ.setdefault("OMP_NUM_THREADS", str(threads_per_process(nproc)))
    # torchrun's own lines (rendezvous, thread defaults, "failed (exitcode: 2)") would bury the
    # stage's output; the failing rank's paragraph or the error below says what happened. Its
    # loggers set their own levels when created, so each one is quietened, not just the parent.
    for name in ["torch.distributed", *logging.Logger.manager.loggerDict]:
        if name == "torch.distributed" or name.startswith("torch.distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    args = parse_args([*STANDALONE_ARGS, f"--nproc-per-node={nproc}", script, *argv])
    try:
        run(args)
    except ChildFailedError as exc:
        codes = {rank: failure.exitcode for rank, failure in exc.failures.items()}
        if EXIT_REPORTED in codes.values():
            return EXIT_REPORTED          # the failing rank printed its one paragraph
        rank, first = exc.get_first_failure()   # the root cause; the others were stopped
        code = first.exitcode
        why = f"signal {-code}" if code < 0 else f"exit status {code}"
        raise Lang2MotionError(
            f"{param}={nproc}: rank {rank} of {nproc} ended with {why} (its output is above; "
            "a signal 9 is usually the system running out of memory: try fewer processes)"
        ) from None
    return 0

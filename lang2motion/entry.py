"""The one error contract of every entry point (stage scripts, the CLI, benchmark scripts).

A project error (:class:`Lang2MotionError`: bad input, parameter or installation) prints
``<prog>: error: <message>`` on stderr and exits with status 2, without a traceback unless
``--debug`` or ``LANG2MOTION_DEBUG=1`` asks for it. Anything else is a bug and keeps its
traceback. Ctrl-C exits with 130 and one line. Stage scripts (``pipeline/``) call
``sys.exit(run_with_error_contract("prepare", main))`` around a ``main`` that starts with
:func:`parse_stage_args`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lang2motion.config import load_params, stage_sections
from lang2motion.distributed import (
    EXIT_PEER_FAILED,
    current_world,
    launch,
    peer_failed,
)
from lang2motion.errors import Lang2MotionError

DEBUG_FLAG = "--debug"
DEBUG_ENV = "LANG2MOTION_DEBUG"
EXIT_ERROR = 2           # argparse uses 2 for usage errors too: "your input was wrong"
EXIT_INTERRUPTED = 130   # the shell's convention for SIGINT
LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """``--debug``: show the traceback of a project error (also: LANG2MOTION_DEBUG=1)."""
    parser.add_argument(DEBUG_FLAG, action="store_true",
                        help=f"show the full traceback of an error (or set {DEBUG_ENV}=1)")


def debug_requested(argv: Sequence[str] | None) -> bool:
    args = sys.argv[1:] if argv is None else argv
    return DEBUG_FLAG in args or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def format_error(prog: str, exc: BaseException) -> str:
    """``<prog>: error: <message>``: one paragraph, later lines indented under the first."""
    first, *rest = (str(exc).strip() or type(exc).__name__).splitlines()
    return "\n".join([f"{prog}: error: {first}", *(textwrap.indent(line, "  ") for line in rest)])


def setup_logging(level: int = logging.INFO) -> None:
    """Our INFO lines on stderr; other libraries' INFO chatter stays at WARNING."""
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("lang2motion").setLevel(level)


def run_with_error_contract(prog: str, main: Callable[[list[str] | None], int | None],
        argv: list[str] | None = None) -> int:
    """Call ``main(argv)`` under the error contract; return the process exit status."""
    world = current_world() if "WORLD_SIZE" in os.environ else None
    distributed = world is not None and world.distributed
    try:
        status = main(argv)
    except Lang2MotionError as exc:
        if debug_requested(argv):
            traceback.print_exc()
        # distributed: another rank's progress bar may hold the line, so start a fresh one
        label = f"\n{prog} ({world.label()})" if distributed else prog
        print(format_error(label, exc), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        # a collective broken by another rank's end: that rank reports; this one stops quietly
        if distributed and peer_failed(exc):
            if debug_requested(argv):
                traceback.print_exc()
            return EXIT_PEER_FAILED
        raise
    return int(status or 0)


def parse_stage_args(doc: str, argv: list[str] | None, *, stage: str,
                     paths: Mapping[str, tuple[str, str]], sharded: bool = False
                     ) -> tuple[argparse.Namespace, dict[str, Any]]:
    """The arguments every stage script takes, and the sections ``stage`` reads, loaded and
    checked before any work. ``paths``: option name -> (default, help), a Path option each;
    ``sharded``: also ``--shard i --num-shards n`` and ``--merge`` (:mod:`lang2motion.sharding`).
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                     epilog="The stage's body: see the module named in the "
                                            "description above, under lang2motion/stages/.")
    parser.add_argument("--params", default="params.yaml", help="parameter file (params.yaml)")
    for name, (default, text) in paths.items():
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=Path, default=default,
                            help=f"{text} (default: {default})")
    if sharded:     # a SLURM array's options (docs/scaling.md): compute one shard, or merge them
        group = parser.add_argument_group(
            "sharding without torchrun (a SLURM array; dist.nproc is not used with these)")
        group.add_argument("--shard", type=int, metavar="I",
                           help="compute shard I of --num-shards only and write its part files "
                                "(<out>.parts/); no merge")
        group.add_argument("--num-shards", type=int, metavar="N",
                           help="the number of shards the work is split into")
        group.add_argument("--merge", action="store_true",
                           help="check that the N parts exist and were made with the same "
                                "parameters and input, then assemble the output from them")
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    setup_logging()
    return args, load_params(args.params, *stage_sections(stage))


def relaunch_under_torchrun(script: str, argv: Sequence[str] | None, *, nproc: int, param: str,
                            check: Callable[[], None] | None = None) -> int | None:
    """Run ``script`` again as ``nproc`` processes under torchrun with this process's arguments
    (``argv``, default ``sys.argv[1:]``), unless ``nproc`` is 1 or this is already one of them
    (then None: go on here); ``check()`` first, so that bad input gets one message rather than
    one per rank. Returns their exit status."""
    if nproc <= 1 or "WORLD_SIZE" in os.environ:
        return None
    if check is not None:
        check()
    return launch(script, sys.argv[1:] if argv is None else argv, nproc=nproc, param=param)


def print_summary(lines: Sequence[str]) -> None:
    """Print a stage's summary lines on stdout."""
    for line in lines:
        print(line)

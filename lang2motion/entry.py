"""The one error contract of every entry point (stage scripts, the CLI, benchmark scripts).

A project error (:class:`Lang2MotionError`: bad input, bad parameter, missing dependency) prints
``<prog>: error: <message>`` on stderr and exits with status 2, without a traceback; ``--debug``
on the command line or ``LANG2MOTION_DEBUG=1`` in the environment adds the traceback. Anything
else is a bug and keeps its traceback. Ctrl-C exits with 130 and one line.

Usage in a script::

    def main(argv: list[str] | None = None) -> None:
        parser = argparse.ArgumentParser(...)
        add_debug_flag(parser)
        ...

    if __name__ == "__main__":
        sys.exit(run("train", main))
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import textwrap
import traceback
from collections.abc import Callable, Sequence

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
    message = str(exc).strip() or type(exc).__name__
    lines = message.splitlines()
    head = f"{prog}: error: {lines[0]}"
    rest = [textwrap.indent(line, "  ") for line in lines[1:]]
    return "\n".join([head, *rest])


def setup_logging(level: int = logging.INFO) -> None:
    """Our INFO lines on stderr; other libraries' INFO chatter stays at WARNING."""
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    logging.getLogger("lang2motion").setLevel(level)


def run(prog: str, main: Callable[[list[str] | None], int | None],
        argv: list[str] | None = None) -> int:
    """Call ``main(argv)`` under the error contract; return the process exit status."""
    try:
        status = main(argv)
    except Lang2MotionError as exc:
        if debug_requested(argv):
            traceback.print_exc()
        print(format_error(prog, exc), file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return int(status or 0)

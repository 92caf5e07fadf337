"""`lang2motion ablations`: the `dvc exp run -S ...` commands of the paper's Tables 4-7 (the
report's own list, :mod:`lang2motion.report.paper`); ``--queue`` queues them (`make ablations`
also runs them and rebuilds the report)."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from lang2motion.errors import DependencyError
from lang2motion.report.experiments import exp_command
from lang2motion.report.paper import TABLE4, TABLE5, TABLE6, TABLE7


def commands() -> list[str]:
    """Every distinct non-baseline configuration of Tables 4-7, in table order."""
    unique: dict[tuple, dict[str, Any]] = {}
    for row in (*TABLE4, *TABLE5, *TABLE6, *TABLE7):
        if row.overrides:
            unique.setdefault(tuple(sorted(row.overrides.items())), row.overrides)
    return [exp_command(o) for o in unique.values()]


def queue(dvc: str = "dvc") -> list[str]:
    if shutil.which(dvc) is None:
        raise DependencyError(f"{dvc} is not on PATH: run from the project's environment "
                              "(.venv/bin/lang2motion ablations --queue, or make ablations)")
    queued = []
    for command in commands():
        args = command.split()
        args[0] = dvc
        subprocess.run([*args[:3], "--queue", *args[3:]], check=True)
        queued.append(command)
    return queued

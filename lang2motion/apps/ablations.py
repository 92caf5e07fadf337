"""`lang2motion ablations`: the `dvc exp run` commands that fill the paper's Tables 4-7.

One list, the report's (:mod:`lang2motion.report.paper`): every configuration of the ablation
tables as parameter overrides of the committed baseline. ``--queue`` queues them all as DVC
experiments (`dvc exp run --queue -S ...`); `dvc queue start` runs them and the report is
rebuilt from them (`make ablations` does all three).
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

from lang2motion.errors import DependencyError
from lang2motion.report.experiments import exp_command
from lang2motion.report.paper import TABLE4, TABLE5, TABLE6, TABLE7


def configurations() -> list[dict[str, Any]]:
    """Every distinct non-baseline configuration of Tables 4-7, in table order."""
    seen, out = set(), []
    for row in (*TABLE4, *TABLE5, *TABLE6, *TABLE7):
        key = tuple(sorted(row.overrides.items()))
        if row.overrides and key not in seen:
            seen.add(key)
            out.append(dict(row.overrides))
    return out


def commands() -> list[str]:
    return [exp_command(o) for o in configurations()]


def queue(dvc: str = "dvc") -> list[str]:
    """Queue every configuration as a DVC experiment; return the commands run."""
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

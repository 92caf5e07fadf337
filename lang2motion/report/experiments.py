"""The runs that fill the ablation tables: this run, and the committed runs `dvc exp show` lists.

No stage reads git behind DVC's back: the report stage (inside ``dvc repro``, under DVC's lock)
reads this run's files and ``reports/experiments.json``, which ``lang2motion report`` (``make
report``) writes outside the lock from ``dvc exp show --json`` (:func:`refresh`). That file is
git-tracked and a dependency of the report stage; a fresh clone uses the committed one.

A run's *overrides* are its flat parameters that differ from the *reference*: this run's own
parameters with the keys the ablation rows change (:data:`ABLATION_KEYS`) taken from the baseline
commit's (else the package defaults); result-neutral keys (devices, batch sizes, the bootstrap)
are left out. So this run always fills its own row, and another run fills a row only when it
shares this run's data, tracker, CLIP, epochs and every other setting, changed only as the row
says (a synthetic baseline never fills a row of a MeViS run's tables). Runs that differ only by
``train.seed`` form a seed group. Where several runs fill one row the current run wins, then the
newest commit.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lang2motion.config import defaults, flagged
from lang2motion.errors import DataError, DependencyError
from lang2motion.io import write_json_atomic
from lang2motion.report import paper
from lang2motion.report.inputs import ALL_SLICE, dig

SEED_KEY = "train.seed"
# keys that change how fast or where a run computes, or only its intervals, not its numbers
RESULT_NEUTRAL_KEYS = flagged("result_neutral")
# the keys the rows of Tables 4-7 change; every other key is this run's set-up
ABLATION_KEYS = frozenset(key for spec in (*paper.TABLE4, *paper.TABLE5, *paper.TABLE6,
                                           *paper.TABLE7) for key in spec.overrides)
WORKSPACE, BASELINE, EXPERIMENT = "workspace", "baseline", "experiment"
SHORT_SHA = 7
EXP_SHOW = ("exp", "show", "--json")
DVC_TIMEOUT_S = 600


def flatten(nested: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"loss": {"l1": True}}`` -> ``{"loss.l1": True}``."""
    flat: dict[str, Any] = {}
    for key, value in nested.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def default_params() -> dict[str, Any]:
    return flatten(defaults())


def same_value(a: Any, b: Any) -> bool:
    """Parameter equality as a user means it: 0 == 0.0, "1e-4" == 0.0001, but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return a == b
    return math.isclose(x, y, rel_tol=1e-9, abs_tol=0.0) if math.isfinite(x) else x == y


def overrides_of(params: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of flat ``params`` whose value differs from ``base`` (or that ``base`` lacks),
    result-neutral keys left out."""
    return {k: v for k, v in params.items()
            if k not in RESULT_NEUTRAL_KEYS and (k not in base or not same_value(v, base[k]))}


def cli_value(value: Any) -> str:
    """A value as typed after ``-S key=``: YAML spelling for booleans."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def exp_command(overrides: Mapping[str, Any]) -> str:
    """``dvc exp run -S key=value ...`` that makes a run with these overrides."""
    sets = " ".join(f"-S {k}={cli_value(v)}" for k, v in overrides.items())
    return f"dvc exp run {sets}".rstrip()


def describe_overrides(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={cli_value(v)}" for k, v in overrides.items()) or "defaults"


@dataclass(frozen=True)
class Run:
    name: str
    origin: str                       # WORKSPACE | BASELINE | EXPERIMENT
    rev: str | None                   # commit (None: the workspace)
    time: str                         # commit time as DVC prints it, ISO 8601 ("": workspace)
    params: dict[str, Any]            # flat, defaults filled in
    metrics: dict[str, Any]           # its reports/metrics.json (a DVC metrics file)
    tables: dict[str, Any] | None     # its tables.json (intervals, speed); None: unknown
    overrides: dict[str, Any]

    @property
    def label(self) -> str:
        if self.origin == WORKSPACE:
            return "this run"
        short = (self.rev or "")[:SHORT_SHA]
        return f"HEAD {short}" if self.origin == BASELINE else f"exp {self.name} ({short})"

    @property
    def seed(self) -> Any:
        return self.params.get(SEED_KEY)

    def fills(self, overrides: Mapping[str, Any]) -> bool:
        return (set(self.overrides) == set(overrides)
                and all(same_value(self.overrides[k], v) for k, v in overrides.items()))


def preferred(runs: Iterable[Run]) -> Run | None:
    """The current run first, then the newest commit (ties: the first listed)."""
    return max(runs, key=lambda r: (r.origin == WORKSPACE, r.time, r.name), default=None)


def pick(runs: Iterable[Run], overrides: Mapping[str, Any]) -> Run | None:
    return preferred(r for r in runs if r.fills(overrides))


@dataclass(frozen=True)
class SeedGroup:
    overrides: dict[str, Any]         # what the group shares, train.seed left out
    by_seed: dict[Any, Run]           # one run per seed value


def seed_groups(runs: Iterable[Run]) -> list[SeedGroup]:
    """Runs that differ only in train.seed, grouped; groups with two or more seeds."""
    groups: dict[str, list[Run]] = {}
    shared: dict[str, dict[str, Any]] = {}
    for run in runs:
        rest = {k: v for k, v in run.overrides.items() if k != SEED_KEY}
        # 0 and 0.0 in one group, True apart from 1
        key = json.dumps({k: float(v) if isinstance(v, (int, float)) and not isinstance(v, bool)
                          else v for k, v in sorted(rest.items())})
        groups.setdefault(key, []).append(run)
        shared[key] = rest
    out = []
    for key, members in groups.items():
        seeds = sorted({r.seed for r in members}, key=str)
        if len(seeds) >= 2:
            out.append(SeedGroup(overrides=shared[key], by_seed={
                seed: preferred(r for r in members if r.seed == seed) for seed in seeds}))
    return out


@dataclass
class RunSet:
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_runs(*, raw_params: Mapping[str, Any], metrics: dict[str, Any],
              tables: dict[str, Any], experiments: Mapping[str, Any] | None, params_file: str,
              metrics_file: str) -> RunSet:
    """This run, then the committed runs of ``experiments`` (reports/experiments.json; None:
    skipped), each with ``params_file`` and ``metrics_file`` as DVC reported them."""
    defaults_flat = default_params()
    entries = [] if experiments is None else experiments.get("runs", [])
    baseline = next((dig_file(e, "params", params_file) for e in entries
                     if e["origin"] == BASELINE), None)
    base = defaults_flat if baseline is None else {**defaults_flat, **flatten(baseline)}
    params = {**defaults_flat, **flatten(raw_params)}
    # every run against this run's set-up, the ablation keys as in the baseline: one of another
    # data set, tracker, CLIP or length (the synthetic baseline of a MeViS run) fills no row
    reference = {**params, **{k: base[k] for k in ABLATION_KEYS if k in base}}
    found = RunSet(runs=[Run(name=WORKSPACE, origin=WORKSPACE, rev=None, time="", params=params,
                             metrics=metrics, tables=tables,
                             overrides=overrides_of(params, reference))])
    if experiments is None:
        found.notes.append("experiments skipped (report.experiments: false): only this run "
                           "fills the ablation tables")
        return found
    without_metrics = []
    for entry in entries:
        raw = dig_file(entry, "params", params_file)
        committed_metrics = dig_file(entry, "metrics", metrics_file)
        if raw is None or committed_metrics is None:
            if entry["origin"] == EXPERIMENT:
                without_metrics.append(entry["name"])
            continue
        run_params = {**defaults_flat, **flatten(raw)}
        found.runs.append(Run(name=entry["name"], origin=entry["origin"], rev=entry["rev"],
                              time=entry["time"] or "", params=run_params,
                              metrics=committed_metrics, tables=entry.get("tables"),
                              overrides=overrides_of(run_params, reference)))
    committed = found.runs[1:]
    experiments_found = sum(r.origin == EXPERIMENT for r in committed)
    found.notes.append(
        f"{experiments_found} DVC experiment(s) with {metrics_file} in `dvc exp show` "
        "(reports/experiments.json, refreshed by `make report`)"
        + (f" ({len(without_metrics)} without {params_file} or {metrics_file} skipped: "
           f"{', '.join(without_metrics)})" if without_metrics else "")
        + ("; the committed baseline has metrics"
           if any(r.origin == BASELINE for r in committed) else ""))
    found.notes += [f"`dvc exp show`: {text}" for text in experiments.get("skipped", [])]
    return found


def dig_file(entry: Mapping[str, Any], kind: str, path: str) -> dict[str, Any] | None:
    """The content of ``entry[kind][path]`` (a parameter or metrics file), or None."""
    content = (entry.get(kind) or {}).get(path)
    return content if isinstance(content, dict) else None


def normalise(exp_show: Any) -> dict[str, Any]:
    """The committed runs of a ``dvc exp show --json`` answer (the workspace left out): each
    baseline commit and experiment with its parameter and metrics files (``{path: content}``);
    entries DVC could not read (queued, failed) listed under ``skipped``."""
    if not isinstance(exp_show, list):
        raise DataError("`dvc exp show --json` did not answer a JSON list of commits: "
                        f"got {type(exp_show).__name__}")
    runs: list[dict[str, Any]] = []
    skipped: list[str] = []

    def add(entry: Mapping[str, Any], origin: str) -> None:
        data = entry.get("data") or {}
        name = entry.get("name") or str(entry.get("rev", "?"))[:SHORT_SHA]
        files = {kind: {path: content["data"] for path, content in (data.get(kind) or {}).items()
                        if isinstance(content, Mapping) and isinstance(content.get("data"), dict)}
                 for kind in ("params", "metrics")}
        if entry.get("error") or not any(files.values()):
            error = entry.get("error")
            skipped.append(f"{origin} {name}: no parameters or metrics (queued, running or "
                           "failed)" + (f": {error.get('msg', '')}" if isinstance(error, Mapping)
                                        else ""))
            return
        runs.append({"name": name, "origin": origin, "rev": entry.get("rev"),
                     "time": data.get("timestamp"), **files})

    for commit in exp_show:
        if not isinstance(commit, Mapping) or commit.get("rev") == WORKSPACE:
            continue
        add(commit, BASELINE)
        for experiment in commit.get("experiments") or []:
            for rev in (experiment or {}).get("revs") or []:
                add(rev, EXPERIMENT)
    return {"source": "dvc exp show --json", "runs": runs, "skipped": skipped}


def dvc(*args: str, capture: bool = True) -> str:
    """stdout of ``dvc <args>`` (``capture=False``: shown as it runs, "" returned); a
    DependencyError or DataError in one paragraph when it cannot run or fails."""
    # on PATH, else beside this interpreter (`.venv/bin/lang2motion report` with no venv active)
    exe = shutil.which("dvc") or shutil.which("dvc", path=str(Path(sys.executable).parent))
    if exe is None:
        raise DependencyError("dvc is neither on PATH nor beside this Python: run from the "
                              "project's environment (make report, or .venv/bin/lang2motion "
                              "report)")
    command = " ".join(("dvc", *args))
    try:
        proc = subprocess.run([exe, *args], capture_output=capture, text=True, check=False,
                              timeout=None if not capture else DVC_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise DataError(f"`{command}` did not finish in {DVC_TIMEOUT_S} s") from None
    if proc.returncode != 0:
        why = (" ".join((proc.stderr or proc.stdout or "").split())[-600:] if capture
               else "its messages are above")
        raise DataError(f"`{command}` failed (exit {proc.returncode}): {why or 'no message'}. "
                        "Run it from the repository root, after `dvc repro` has built the "
                        "evaluation.")
    return proc.stdout or ""


def read_tables_at(rev: str, tables_path: str) -> dict[str, Any] | None:
    """A committed run's tables.json, read through DVC (``dvc.api.read`` at ``rev``), or None
    when that commit has none (an older baseline, a run that stopped before evaluation)."""
    import dvc.api

    try:
        return json.loads(dvc.api.read(tables_path, rev=rev))
    except Exception:       # noqa: BLE001 - any failure means: no intervals for that run
        return None


def refresh(out_path: str | os.PathLike[str],
            tables_path: str = "reports/eval/tables.json") -> dict[str, Any]:
    """Write ``out_path`` (reports/experiments.json) from ``dvc exp show --json``, each run with
    the intervals and speed of its ``tables_path`` (not DVC metrics: the speed differs on every
    rerun); return it."""
    answer = dvc(*EXP_SHOW)
    try:
        parsed = json.loads(answer)
    except ValueError as exc:
        raise DataError(f"`dvc {' '.join(EXP_SHOW)}` did not answer JSON ({exc})") from None
    experiments = normalise(parsed)
    for run in experiments["runs"]:
        tables = read_tables_at(run["rev"], tables_path) if run.get("rev") else None
        if isinstance(tables, dict):    # the part its rows show: intervals of "all", the speed
            run["tables"] = {"slices": {ALL_SLICE: dig(tables, "slices", ALL_SLICE)},
                             "speed": tables.get("speed")}
    write_json_atomic(Path(out_path), experiments)
    return experiments

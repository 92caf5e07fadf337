"""The runs that fill the ablation tables, read through git alone (never by calling dvc).

The report runs inside ``dvc repro`` / ``dvc exp run``, which hold DVC's lock, so ``dvc exp show``
is not an option. A run is a parameter file plus its ``reports/metrics.json`` (and, when git keeps
it, ``reports/eval/tables.json`` for intervals). Three sources:

1. the current run: the workspace's params.yaml and the metrics the stage was given;
2. the committed baseline: ``HEAD:params.yaml`` and ``HEAD:reports/metrics.json``, when present;
3. every DVC experiment: a commit under ``refs/exps/<sha[:2]>/<sha[2:]>/<name>`` (DVC 3's
   ``ExpRefInfo`` layout, dvc/repo/experiments/refs.py) whose tree holds the parameter file and
   the metrics, which DVC commits because they are git-tracked (``cache: false``) outputs. Its
   other refs (``refs/exps/stash``, ``exec/``, ``celery/``, ``apply/``, ``temp/``) do not have
   that shape and are skipped, as are experiment commits without metrics.

A run's *overrides* are its parameters (flattened to dotted keys) that differ from the *reference*:
this run's own parameters with the keys the ablation rows change (:data:`ABLATION_KEYS`: loss
terms, L1/L2, decoder, grid, overlay) taken from the committed baseline (HEAD's params.yaml;
without git or a committed params.yaml, the package defaults,
:func:`lang2motion.config.defaults`). Keys that cannot change a result (devices, inference batch
sizes, the bootstrap) are left out. So this run always fills its own row (the full one, or the
row of the ablation it is), and another run fills a row only when it shares this run's data,
tracker, CLIP, epochs and every other setting, changed only as the row says: a synthetic
baseline never fills a row of a MeViS run's tables, and `dvc exp run -S loss.l1=false` fills the
L2 row on the paper set-up as much as on the synthetic demo. An ablation row is filled by a run
whose overrides are exactly the row's;
runs that differ only by ``train.seed`` form a seed group. Where several runs fill one row the
current run wins, then the newest commit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lang2motion.config import defaults, flagged
from lang2motion.report import paper
from lang2motion.report.inputs import check_tables

EXPS_NAMESPACE = "refs/exps"
EXP_REF_PARTS = 5                 # refs / exps / <sha[:2]> / <sha[2:]> / <name>
SHA_LENGTHS = (40, 64)            # SHA-1 and SHA-256 repositories
SEED_KEY = "train.seed"
# keys that change how fast or where a run computes, or only its intervals, not its numbers
RESULT_NEUTRAL_KEYS = flagged("result_neutral")
# the keys the rows of Tables 4-7 change; every other key is this run's set-up
ABLATION_KEYS = frozenset(key for spec in (*paper.TABLE4, *paper.TABLE5, *paper.TABLE6,
                                           *paper.TABLE7) for key in spec.overrides)
GIT_TIMEOUT_S = 60
WORKSPACE, BASELINE, EXPERIMENT = "workspace", "baseline", "experiment"
SHORT_SHA = 7
_HEX = re.compile(r"^[0-9a-f]+$")
_BATCH_HEADER = re.compile(r"^([0-9a-f]{40}|[0-9a-f]{64}) (\w+) (\d+)$")


# ---------------------------------------------------------------------------------------------
# Parameters


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


def ablation_reference(params: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """This run's flat ``params`` with the ablation keys set as in ``base`` (the baseline)."""
    return {**params, **{k: base[k] for k in ABLATION_KEYS if k in base}}


def params_from_raw(raw: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """A params.yaml mapping as flat keys, with the defaults where the file is silent."""
    return {**base, **flatten(raw)}


def cli_value(value: Any) -> str:
    """A value as typed after ``-S key=``: YAML spelling for booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def exp_command(overrides: Mapping[str, Any]) -> str:
    """``dvc exp run -S key=value ...`` that makes a run with these overrides."""
    sets = " ".join(f"-S {k}={cli_value(v)}" for k, v in overrides.items())
    return f"dvc exp run {sets}".rstrip()


def describe_overrides(overrides: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={cli_value(v)}" for k, v in overrides.items()) or "defaults"


# ---------------------------------------------------------------------------------------------
# Runs


@dataclass(frozen=True)
class Run:
    name: str
    origin: str                       # WORKSPACE | BASELINE | EXPERIMENT
    rev: str | None                   # commit (None: the workspace)
    time: float                       # commit time, unix seconds (the workspace: +inf)
    params: dict[str, Any]            # flat, defaults filled in
    metrics: dict[str, Any]
    tables: dict[str, Any] | None     # tables.json where git keeps it (for intervals)
    overrides: dict[str, Any]
    baseline: str | None = None       # an experiment's baseline commit

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
    """The current run first, then the newest commit."""
    ranked = sorted(runs, key=lambda r: (r.origin != WORKSPACE, -r.time, r.name))
    return ranked[0] if ranked else None


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
        key = json.dumps({k: _canonical(v) for k, v in sorted(rest.items())})
        groups.setdefault(key, []).append(run)
        shared[key] = rest
    out = []
    for key, members in groups.items():
        by_seed: dict[Any, Run] = {}
        for seed in sorted({r.seed for r in members}, key=str):
            chosen = preferred(r for r in members if r.seed == seed)
            if chosen is not None:
                by_seed[seed] = chosen
        if len(by_seed) >= 2:
            out.append(SeedGroup(overrides=shared[key], by_seed=by_seed))
    return out


def _canonical(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    return float(value)


@dataclass
class RunSet:
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def current_run(*, raw_params: Mapping[str, Any], metrics: dict[str, Any],
                tables: dict[str, Any] | None,
                reference: Mapping[str, Any] | None = None) -> Run:
    """The workspace's run; overrides relative to its ablation reference, the ablation keys
    taken from ``reference`` (flat params of the baseline; the defaults)."""
    defaults_flat = default_params()
    params = params_from_raw(raw_params, defaults_flat)
    base = ablation_reference(params, reference if reference is not None else defaults_flat)
    return Run(name=WORKSPACE, origin=WORKSPACE, rev=None, time=math.inf, params=params,
               metrics=metrics, tables=tables, overrides=overrides_of(params, base))


def find_runs(*, raw_params: Mapping[str, Any], metrics: dict[str, Any],
              tables: dict[str, Any] | None, params_path: str | os.PathLike[str],
              metrics_path: str | os.PathLike[str], tables_path: str | os.PathLike[str],
              use_git: bool = True) -> RunSet:
    """The current run, then (with ``use_git``) the committed baseline and every experiment."""
    found = RunSet()
    if not use_git:
        found.runs.append(current_run(raw_params=raw_params, metrics=metrics, tables=tables))
        found.notes.append("experiments skipped (report.experiments: false): only this run "
                           "fills the ablation tables")
        return found
    git = GitRepo.open(Path(params_path).resolve().parent)
    if git is None:
        found.runs.append(current_run(raw_params=raw_params, metrics=metrics, tables=tables))
        found.notes.append("not inside a git repository that git can read (or git is not "
                           "installed): only this run fills the ablation tables")
        return found
    try:
        paths = [git.relative(p) for p in (params_path, metrics_path, tables_path)]
    except ValueError:
        found.runs.append(current_run(raw_params=raw_params, metrics=metrics, tables=tables))
        found.notes.append("the parameter or metrics file lies outside the git repository: "
                           "only this run fills the ablation tables")
        return found
    committed, head_params = _committed_runs(git, *paths, notes=found.notes)
    base = head_params if head_params is not None else default_params()
    current = current_run(raw_params=raw_params, metrics=metrics, tables=tables, reference=base)
    # every committed run against this run's set-up: one of another data set, tracker, CLIP or
    # length (the synthetic baseline of a MeViS run) fills no row of this run's tables
    reference = ablation_reference(current.params, base)
    found.runs = [current, *(dataclasses.replace(r, overrides=overrides_of(r.params, reference))
                             for r in committed)]
    return found


def _committed_runs(git: GitRepo, params_rel: str, metrics_rel: str, tables_rel: str, *,
                    notes: list[str]) -> tuple[list[Run], dict[str, Any] | None]:
    """HEAD and every experiment with metrics (overrides left empty); and HEAD's flat params
    (None when absent)."""
    candidates = []                                   # (name, origin, sha, time, baseline)
    head = git.head()
    if head is not None:
        candidates.append(("HEAD", BASELINE, head[0], head[1], None))
    refs = git.experiment_refs()
    candidates.extend((name, EXPERIMENT, sha, time, baseline)
                      for sha, time, baseline, name in refs)
    blobs = git.read_blobs([f"{sha}:{path}" for _, _, sha, _, _ in candidates
                            for path in (params_rel, metrics_rel, tables_rel)])
    defaults_flat = default_params()

    def flat_params_at(sha: str | None) -> dict[str, Any] | None:
        raw = _yaml(blobs.get(f"{sha}:{params_rel}")) if sha else None
        return params_from_raw(raw, defaults_flat) if raw is not None else None

    head_params = flat_params_at(head[0]) if head is not None else None
    runs, without_metrics, unreadable = [], 0, []
    for name, origin, sha, time, baseline in candidates:
        raw_params = _yaml(blobs.get(f"{sha}:{params_rel}"))
        metrics = _json(blobs.get(f"{sha}:{metrics_rel}"))
        if metrics is None:
            without_metrics += origin == EXPERIMENT
            continue
        if raw_params is None:
            unreadable.append(name)
            continue
        tables = _json(blobs.get(f"{sha}:{tables_rel}"))
        if tables is not None and check_tables(tables):
            tables = None
        # overrides: set by find_runs, against this run's set-up
        runs.append(Run(name=name, origin=origin, rev=sha, time=time,
                        params=params_from_raw(raw_params, defaults_flat), metrics=metrics,
                        tables=tables, overrides={}, baseline=baseline))
    experiments = sum(r.origin == EXPERIMENT for r in runs)
    notes.append(f"{experiments} DVC experiment(s) with metrics found under {EXPS_NAMESPACE}"
                 + (f" ({without_metrics} without {metrics_rel} skipped)" if without_metrics
                    else "")
                 + ("; the committed baseline (HEAD) has metrics"
                    if any(r.origin == BASELINE for r in runs) else ""))
    if unreadable:
        notes.append(f"skipped (no readable {params_rel}): {', '.join(unreadable)}")
    return runs, head_params


def _json(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None


def _yaml(data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    try:
        obj = yaml.safe_load(data.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError):
        return None
    return obj if isinstance(obj, dict) else None


# ---------------------------------------------------------------------------------------------
# Git, read-only


@dataclass(frozen=True)
class GitRepo:
    top: Path

    @classmethod
    def open(cls, folder: Path) -> GitRepo | None:
        """The repository holding ``folder``, or None (no git, not a repository)."""
        if shutil.which("git") is None:
            return None
        out = _git(folder, "rev-parse", "--show-toplevel")
        return None if out is None else cls(Path(out.decode().strip()).resolve())

    def relative(self, path: str | os.PathLike[str]) -> str:
        """``path`` as a path inside the repository (ValueError when outside)."""
        return Path(path).resolve().relative_to(self.top).as_posix()

    def head(self) -> tuple[str, float] | None:
        out = _git(self.top, "log", "-1", "--format=%H %ct", "HEAD")
        if not out:
            return None                                # no commit yet
        sha, time = out.decode().split()
        return sha, float(time)

    def experiment_refs(self) -> list[tuple[str, float, str, str]]:
        """(commit, commit time, baseline commit, name) of every DVC experiment ref."""
        out = _git(self.top, "for-each-ref", EXPS_NAMESPACE,
                   "--format=%(objectname) %(committerdate:unix) %(refname)")
        refs = []
        for line in (out or b"").decode().splitlines():
            parts = line.split(" ", 2)
            if len(parts) != 3 or not parts[1].isdigit():
                continue
            sha, time, ref = parts
            baseline_name = _parse_exp_ref(ref)
            if baseline_name is not None:
                refs.append((sha, float(time), *baseline_name))
        return refs

    def read_blobs(self, specs: list[str]) -> dict[str, bytes | None]:
        """The content of each ``<rev>:<path>`` (None where absent), with one git process."""
        if not specs:
            return {}
        try:
            proc = subprocess.run(["git", "-C", str(self.top), "cat-file", "--batch"],
                                  input=("\n".join(specs) + "\n").encode(), capture_output=True,
                                  check=False, timeout=GIT_TIMEOUT_S)
        except (OSError, subprocess.TimeoutExpired):
            return dict.fromkeys(specs)
        return _parse_batch(proc.stdout, specs)


def _parse_exp_ref(ref: str) -> tuple[str, str] | None:
    """(baseline commit, experiment name) of ``refs/exps/ab/cdef.../name``, else None."""
    parts = ref.split("/")
    if len(parts) != EXP_REF_PARTS or "/".join(parts[:2]) != EXPS_NAMESPACE:
        return None
    baseline = parts[2] + parts[3]
    if len(parts[2]) != 2 or len(baseline) not in SHA_LENGTHS or not _HEX.match(baseline):
        return None
    return baseline, parts[4]


def _parse_batch(out: bytes, specs: list[str]) -> dict[str, bytes | None]:
    """Split ``git cat-file --batch`` output: per request a header line, then the content."""
    result: dict[str, bytes | None] = dict.fromkeys(specs)
    pos = 0
    for spec in specs:
        end = out.find(b"\n", pos)
        if end < 0:
            break
        header = out[pos:end].decode(errors="replace")
        pos = end + 1
        match = _BATCH_HEADER.match(header)
        if match is None:                              # "<spec> missing" / "ambiguous"
            continue
        size = int(match.group(3))
        if match.group(2) == "blob":
            result[spec] = out[pos:pos + size]
        pos += size + 1                                # the content, then a newline
    return result


def _git(cwd: Path, *args: str) -> bytes | None:
    """stdout of a read-only git command, or None when it fails."""
    try:
        proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, check=False,
                              timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None

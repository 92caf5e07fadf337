"""Reading the evaluate stage's outputs (docs/evaluation-outputs.md) and the earlier summaries.

``metrics.json`` and ``tables.json`` are required: a missing or malformed one is a DataError that
names the file and says to run the evaluate stage. The stage summaries, plots and gallery are
optional: what is missing becomes a warning line in the report, never a crash.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lang2motion.errors import DataError

EVALUATE_HINT = "run the evaluate stage first (dvc repro evaluate)"
EXPERIMENTS_HINT = "rebuild it with `make report` (lang2motion report: `dvc exp show`)"
TABLES_SCHEMA = 1
TABLES_NAME = "tables.json"
GALLERY_NAME = "gallery.json"
GALLERY_SHEET = "gallery.png"
SAMPLES_NAME = "samples.parquet"
PLOTS_DIR = "plots"
ALL_SLICE = "all"
# earlier stages' summaries, read for "what was run": file stem -> what it describes
SUMMARY_FILES = ("prepare_summary", "track_summary", "embed_summary", "train_metrics")


def dig(obj: Any, *keys: str) -> Any:
    """``obj[k1][k2]...``, or None where a key is absent or a level is not a mapping."""
    for key in keys:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _parse_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))     # ValueError, OSError


def read_required_json(path: str | os.PathLike[str], *, what: str) -> dict[str, Any]:
    """A JSON object the report cannot do without, or a DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: {what} not found; {EVALUATE_HINT}")
    try:
        obj = _parse_json(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: {what} is not readable JSON ({exc}); {EVALUATE_HINT}") from None
    if not isinstance(obj, dict):
        raise DataError(f"{path}: {what} must be a JSON object, got {type(obj).__name__}; "
                        f"{EVALUATE_HINT}")
    return obj


def load_tables(eval_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``<eval_dir>/tables.json``, checked for the keys every table needs."""
    path = Path(eval_dir) / TABLES_NAME
    tables = read_required_json(path, what="the evaluation's tables")
    problems = []
    if tables.get("schema") != TABLES_SCHEMA:
        problems.append(f"schema {tables.get('schema')!r}, this report reads schema "
                        f"{TABLES_SCHEMA}")
    else:
        if not isinstance(tables.get("run"), Mapping):
            problems.append("no 'run' object")
        slices = tables.get("slices")
        if not isinstance(slices, Mapping) or not isinstance(slices.get(ALL_SLICE), Mapping):
            problems.append(f"no 'slices.{ALL_SLICE}' object")
        elif any(not isinstance(s, Mapping) for s in slices.values()):
            problems.append("a slice that is not an object")
        problems += [f"'{key}' is not an object" for key in ("speed", "recognition", "tags")
                     if tables.get(key) is not None and not isinstance(tables[key], Mapping)]
    if problems:
        raise DataError(f"{path}: malformed ({'; '.join(problems)}); {EVALUATE_HINT}")
    return tables


def load_experiments(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[str]]:
    """reports/experiments.json (written by ``lang2motion report``) checked for the fields the
    report reads, and a note when it is missing (no experiments then)."""
    path = Path(path)
    if not path.is_file():
        return {"runs": []}, [f"{path} not found: only this run fills the ablation tables; "
                              f"{EXPERIMENTS_HINT}"]
    try:
        obj = _parse_json(path)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc}); {EXPERIMENTS_HINT}") from None
    runs = obj.get("runs") if isinstance(obj, dict) else None
    if not isinstance(runs, list) or not all(
            isinstance(r, Mapping) and {"name", "origin", "rev", "time"} <= set(r)
            for r in runs):
        raise DataError(f"{path}: not an experiments file (a 'runs' list of objects with name, "
                        f"origin, rev and time); {EXPERIMENTS_HINT}")
    return obj, []


@dataclass
class Summaries:
    """The earlier stages' JSON summaries that exist (by file stem), and what went wrong."""

    found: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def get(self, name: str) -> dict[str, Any]:
        return self.found.get(name, {})


def load_summaries(folder: str | os.PathLike[str] | None) -> Summaries:
    out = Summaries()
    if folder is None:
        return out
    for stem in SUMMARY_FILES:
        path = Path(folder) / f"{stem}.json"
        if not path.is_file():
            out.warnings.append(f"{path} not found: its part of 'what was run' is left out")
            continue
        try:
            obj = _parse_json(path)
        except (OSError, ValueError) as exc:
            out.warnings.append(f"{path} is not readable JSON ({exc}); left out")
            continue
        if isinstance(obj, dict):
            out.found[stem] = obj
        else:
            out.warnings.append(f"{path} is not a JSON object; left out")
    return out


@dataclass(frozen=True)
class GalleryEntry:
    file: str              # relative to the eval folder
    text: str
    sample_id: str
    tags: dict[str, Any]
    ade: float | None


def _inside(folder: str | os.PathLike[str], relative: str) -> bool:
    """Whether ``relative`` stays inside ``folder`` (relative, no ``..``, no link out)."""
    if not relative or Path(relative).is_absolute() or ".." in Path(relative).parts:
        return False
    root = Path(folder).resolve()
    return (root / relative).resolve().is_relative_to(root)


def load_gallery(eval_dir: str | os.PathLike[str]) -> tuple[list[GalleryEntry], list[str]]:
    """The gallery's entries and warnings (missing or malformed gallery.json, missing GIFs)."""
    path = Path(eval_dir) / GALLERY_NAME
    if not path.is_file():
        return [], [f"{path} not found, so no animations are shown: {EVALUATE_HINT}"]
    try:
        raw = _parse_json(path)
    except (OSError, ValueError) as exc:
        return [], [f"{path} is not readable JSON ({exc}): no animations shown"]
    if not isinstance(raw, list):
        return [], [f"{path} must hold a JSON list of entries: no animations shown"]
    entries, warnings = [], []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("file"), str):
            warnings.append(f"{path}: entry {i} has no 'file'; skipped")
            continue
        if not _inside(eval_dir, item["file"]):
            warnings.append(f"{path}: entry {i} points outside {eval_dir} ({item['file']!r}); "
                            "skipped (gallery files live in the evaluation folder)")
            continue
        if not (Path(eval_dir) / item["file"]).is_file():
            warnings.append(f"{Path(eval_dir) / item['file']} not found (gallery entry {i})")
            continue
        tags = item.get("tags") if isinstance(item.get("tags"), Mapping) else {}
        ade = item.get("ade")
        entries.append(GalleryEntry(file=item["file"], text=str(item.get("text", "")),
                                    sample_id=str(item.get("sample_id", "")), tags=dict(tags),
                                    ade=ade if isinstance(ade, (int, float)) else None))
    return entries, warnings

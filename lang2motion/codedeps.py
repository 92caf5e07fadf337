"""What each DVC stage depends on: the package files its script imports (transitively), and
its parameters (the ``read_by`` of lang2motion/config.py).

A hand-kept deps list drifts, and a stage that does not declare a file it runs is not re-run
when that file changes (a stale result that looks fresh). The import statements are read without
importing anything (not ``if TYPE_CHECKING:`` blocks, which never run). Non-Python files read at
run time are claimed in ``PACKAGE_DATA``. ``tests/test_dvc_deps.py`` checks dvc.yaml against
this; training's resume signature hashes the files of ``lang2motion.train``.

    python -m lang2motion.codedeps [--dvc] pipeline/train.py   # the files a stage script runs
    python -m lang2motion.codedeps --update dvc.yaml           # rewrite deps and params
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lang2motion.io import write_text_atomic

PACKAGE = "lang2motion"
PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent
CODE_ROOTS = ("pipeline/", f"{PACKAGE}/")   # dvc.yaml deps under these are code, kept by --update
# module file -> the package data folders it reads at run time
PACKAGE_DATA = {
    "embed/clip.py": ("embed/model_configs",),
    "data/skeletons.py": ("data/classes",),
    "report/page.py": ("report/templates",),
}


def module_path(name: str) -> Path | None:
    """The file of module ``lang2motion.x.y`` (``x/y.py`` or ``x/y/__init__.py``), or None."""
    parts = name.split(".")
    if parts[0] != PACKAGE:
        return None
    base = PACKAGE_DIR.joinpath(*parts[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(tree: ast.AST) -> Iterable[str]:
    """Dotted names of every module an ``import`` / ``from ... import`` may load at run time.

    Not followed: ``if TYPE_CHECKING:`` blocks (they never run) and a module-level
    ``__getattr__`` (PEP 562's lazy attributes: its imports run only when code asks for that
    attribute, e.g. ``lang2motion.Lang2MotionModel``, which no stage does)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and "TYPE_CHECKING" in (getattr(node.test, "id", None),
                                                            getattr(node.test, "attr", None)):
            stack.extend(node.orelse)          # the TYPE_CHECKING branch never runs
            continue
        if isinstance(node, ast.Module):
            stack.extend(n for n in node.body
                         if not (isinstance(n, ast.FunctionDef) and n.name == "__getattr__"))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            # ``from pkg import mod`` loads the submodule pkg.mod when there is one
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        stack.extend(ast.iter_child_nodes(node))


def imported_files(source: Path) -> list[Path]:
    """Every package file that running ``source`` (a script or a module file) imports, sorted."""
    seen: set[Path] = set()
    todo = [Path(source).resolve()]
    while todo:
        path = todo.pop()
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported_names(tree):
            parts = name.split(".")    # importing a.b.c runs a and a.b's __init__ first
            for i in range(1, len(parts) + 1):
                found = module_path(".".join(parts[:i]))
                if found is not None and found not in seen:
                    seen.add(found)
                    todo.append(found)
    return sorted(seen)


def module_files(module: str) -> list[Path]:
    """The file of ``module`` plus every package file it imports."""
    path = module_path(module)
    if path is None:
        raise ValueError(f"{module} is not a module of {PACKAGE}")
    return sorted({path, *imported_files(path)})


def files_signature(files: Iterable[Path]) -> str:
    """sha256 over the paths (relative to the repository) and contents of ``files``."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(REPO_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def covering_paths(files: Iterable[Path]) -> list[str]:
    """The shortest list of files and folders (repository-relative) that covers ``files``: a
    folder stands for its files when every ``.py`` file below it is in the set."""
    wanted = {Path(f).resolve() for f in files}

    def covered(folder: Path) -> bool:
        return all(f in wanted for f in folder.rglob("*.py"))

    out: set[str] = set()
    for path in wanted:
        top = path
        for parent in path.parents:
            if parent == PACKAGE_DIR or PACKAGE_DIR not in parent.parents or not covered(parent):
                break
            top = parent
        out.add(top.relative_to(REPO_DIR).as_posix())
    return sorted(out)


def with_package_data(files: Iterable[Path]) -> list[Path]:
    """``files`` plus every data file (PACKAGE_DATA) that one of them reads."""
    out = set(files)
    for path in list(out):
        for folder in PACKAGE_DATA.get(path.relative_to(PACKAGE_DIR).as_posix(), ()):
            out |= {f for f in (PACKAGE_DIR / folder).rglob("*") if f.is_file()}
    return sorted(out)


def script_deps(script: Path) -> list[str]:
    """dvc.yaml ``deps`` entries for a stage script: the script and the package code it runs."""
    script = Path(script).resolve()
    code = covering_paths(with_package_data(imported_files(script)))
    return [script.relative_to(REPO_DIR).as_posix(), *code]


def stage_script(cmd: str) -> Path:
    """The ``pipeline/<stage>.py`` a dvc.yaml command runs."""
    for word in cmd.split():
        if word.startswith("pipeline/") and word.endswith(".py"):
            return REPO_DIR / word
    raise ValueError(f"no pipeline/<stage>.py in the command {cmd!r}")


def stage_lists(stage: str, cmd: str) -> dict[str, list[str]]:
    """What dvc.yaml must list for ``stage``: its code ``deps`` (from the imports of the script
    ``cmd`` runs) and its ``params`` (the parameters lang2motion/config.py says it reads)."""
    from lang2motion.config import stage_params

    return {"deps": script_deps(stage_script(cmd)), "params": stage_params(stage)}


def declared_lists(stage: dict[str, Any]) -> dict[str, list[str]]:
    """What a dvc.yaml stage lists that :func:`stage_lists` derives (its data deps left out)."""
    return {"deps": [d for d in stage.get("deps", []) if str(d).startswith(CODE_ROOTS)],
            "params": list(stage.get("params", []))}


def update_dvc_yaml(path: Path) -> list[str]:
    """Rewrite every stage's code ``deps`` and its ``params`` in place (data deps, comments and
    formatting kept); return the names of the stages that changed."""
    import yaml

    text = path.read_text(encoding="utf-8")
    stages = yaml.safe_load(text)["stages"]
    out, changed, stage, replacing = [], set(), None, None
    for line in text.splitlines():
        stripped = line.strip()
        if line.startswith("  ") and not line.startswith("   ") and stripped.endswith(":"):
            stage, replacing = stripped[:-1], None
        if replacing is not None and stripped.startswith("- "):
            if replacing == "params" or stripped[2:].startswith(CODE_ROOTS):
                continue                          # old derived entries: replaced below
            out.append(line)
            continue
        if stripped.endswith(":"):
            replacing = None
        out.append(line)
        if stage in stages and stripped[:-1] in ("deps", "params") and stripped.endswith(":"):
            replacing = stripped[:-1]
            indent = line[:len(line) - len(line.lstrip())] + "  "
            new = stage_lists(stage, stages[stage]["cmd"])[replacing]
            if new != declared_lists(stages[stage])[replacing]:
                changed.add(stage)
            out.extend(f"{indent}- {entry}" for entry in new)
    write_text_atomic(path, "\n".join(out) + "\n")
    return [name for name in stages if name in changed]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lang2motion.codedeps",
        description="The package files a stage script runs (its lang2motion imports, "
                    "transitively), or dvc.yaml's code deps and params rewritten from them.")
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                        help="stage scripts (e.g. pipeline/train.py); with --update, dvc.yaml "
                             "files (default: dvc.yaml)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--dvc", action="store_true",
                      help="print each script's deps as dvc.yaml lists them")
    mode.add_argument("--update", action="store_true",
                      help="rewrite every stage's code deps and params in place (`make deps`)")
    args = parser.parse_args(argv)
    missing = [str(path) for path in args.paths if not path.is_file()]
    if missing:
        parser.error(f"no such file: {', '.join(missing)}")
    if args.update:
        for target in args.paths or [Path("dvc.yaml")]:
            changed = update_dvc_yaml(target)
            print(f"{target}: code deps and params updated for "
                  f"{', '.join(changed) or 'no stage'}")
    for script in [] if args.update else args.paths:
        if args.dvc:
            print("\n".join(f"      - {dep}" for dep in script_deps(script)))
        else:
            print("\n".join(p.relative_to(REPO_DIR).as_posix() for p in imported_files(script)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

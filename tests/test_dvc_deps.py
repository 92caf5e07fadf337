"""dvc.yaml's code dependencies are what each stage script really imports, and nothing cycles.

A stage that does not declare a file it runs is not re-run when that file changes: a stale
result that looks fresh. The lists are derived from the scripts' imports (lang2motion.codedeps);
`make deps` rewrites them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from lang2motion import codedeps

REPO = Path(__file__).resolve().parents[1]
STAGES = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_code_deps_are_exactly_what_the_script_imports(stage: str) -> None:
    declared = [d for d in STAGES[stage]["deps"] if str(d).startswith(codedeps.CODE_ROOTS)]
    derived = codedeps.script_deps(codedeps.stage_script(STAGES[stage]["cmd"]))
    assert declared == derived, (
        f"dvc.yaml stage {stage}: code deps differ from its imports; run `make deps`.\n"
        f"missing: {sorted(set(derived) - set(declared))}\n"
        f"not imported: {sorted(set(declared) - set(derived))}")


def test_walker_follows_lazy_imports_and_skips_type_checking(tmp_path: Path) -> None:
    script = tmp_path / "stage.py"
    script.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from lang2motion.store import TrackRow\n"
        "def main():\n    from lang2motion.data.splits import resolve_split\n")
    names = {p.relative_to(codedeps.PACKAGE_DIR).as_posix()
             for p in codedeps.imported_files(script)}
    assert "data/splits.py" in names                      # lazy import, followed
    assert "data/mevis/reader.py" in names                # transitively
    assert "data/__init__.py" in names                    # parent packages run first
    assert "store.py" not in names                        # TYPE_CHECKING only


def test_every_package_data_file_is_claimed_by_the_module_that_reads_it() -> None:
    claimed = {codedeps.PACKAGE_DIR / folder for folders in codedeps.PACKAGE_DATA.values()
               for folder in folders}
    unclaimed = [p.relative_to(REPO).as_posix() for p in codedeps.PACKAGE_DIR.rglob("*")
                 if p.is_file() and p.suffix not in (".py", ".pyc")
                 and "__pycache__" not in p.parts and not any(c in p.parents for c in claimed)]
    assert not unclaimed, f"add these to codedeps.PACKAGE_DATA: {unclaimed}"


def _explicit_imports(path: Path) -> set[Path]:
    tree = ast.parse(path.read_text())
    return {found for name in codedeps._imported_names(tree)
            if (found := codedeps.module_path(name)) is not None and found != path}


def test_no_module_imports_a_module_that_imports_it_back() -> None:
    modules = sorted(codedeps.PACKAGE_DIR.rglob("*.py"))
    graph = {m: {d for d in _explicit_imports(m) if d.name != "__init__.py"} for m in modules}
    state: dict[Path, int] = {}   # 1 = on the current path, 2 = done

    def visit(node: Path, path: list[Path]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(
                    p.relative_to(REPO).as_posix() for p in cycle))
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for module in modules:
        if module not in state:
            visit(module, [module])

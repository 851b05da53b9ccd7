"""The dependency rule of DESIGN.md, checked on the source: every import, also those inside functions.

Layers, bottom up::

    core       spermtrack, .errors, .extras, .schema, ._validate,            (import nothing of ours
               .constants                                                    but each other)
    stages     .detectors <- .tracker <- .kinematics <- .eval <- .regressors (a stage imports the core,
                                                                             its own package and the
                                                                             stages below it; the
                                                                             tracker never a detector)
    io         .io                                                           (the core and itself)
    top        everything else: synth, pipeline, analysis, archive, scoring, training, drawing, plots,
               html, provenance, cli

(one exception: the package's lazy front door ``spermtrack.analyze``, see :data:`FRONT_DOOR`).

A module's imports are read with :mod:`ast` (``import x``, ``from x import y``, relative imports, at
any depth), so an import hidden in a function counts like one at the top of the file.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Source folder of each package (pyproject.toml's package-dir).
PACKAGE_DIRS = {"spermtrack": ROOT / "spermtrack", "spermtrack.detectors": ROOT / "detectors",
                "spermtrack.tracker": ROOT / "tracker", "spermtrack.kinematics": ROOT / "kinematics",
                "spermtrack.eval": ROOT / "eval", "spermtrack.regressors": ROOT / "regressors"}
CORE = ("spermtrack", "spermtrack.errors", "spermtrack.extras", "spermtrack.schema", "spermtrack._validate",
        "spermtrack.constants")
STAGES = ("spermtrack.detectors", "spermtrack.tracker", "spermtrack.kinematics", "spermtrack.eval",
          "spermtrack.regressors")


def _modules() -> dict[str, Path]:
    out = {}
    for package, folder in PACKAGE_DIRS.items():
        for path in sorted(folder.rglob("*.py")):
            rel = path.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if package == "spermtrack" and parts and parts[0] in ("detectors", "tracker", "kinematics", "eval",
                                                                  "regressors"):
                continue
            out[".".join([package, *parts])] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """spermtrack modules imported anywhere in the file (relative imports resolved)."""
    is_package = path.name == "__init__.py"
    here = name if is_package else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.rsplit(".", node.level - 1)[0] if node.level > 1 else here
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # from pkg import submodule
    return {m for m in found if m in MODULES}


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _package(module: str) -> str:
    for stage in STAGES:
        if module == stage or module.startswith(stage + "."):
            return stage
    if module == "spermtrack.io" or module.startswith("spermtrack.io."):
        return "spermtrack.io"
    return module if module in CORE else "top"


#: The one import that goes up on purpose: ``spermtrack.analyze`` is the product's front door, loaded
#: lazily by the package's ``__getattr__`` on first use (``import spermtrack`` stays light).
FRONT_DOOR = {("spermtrack", "spermtrack.analysis")}


def _allowed(importer: str, imported: str) -> bool:
    if (importer, imported) in FRONT_DOOR:
        return True
    src, dst = _package(importer), _package(imported)
    if dst in CORE or src == dst:
        return True
    if src in CORE:
        return False
    if src in STAGES:
        if src == "spermtrack.tracker" and dst == "spermtrack.detectors":
            return False  # the tracker never calls a detector: the pipeline is where they meet
        return dst in STAGES and STAGES.index(dst) < STAGES.index(src)
    if src == "spermtrack.io":
        return False
    return True  # the top may use everything


def test_every_module_was_found():
    assert {"spermtrack.cli", "spermtrack.tracker.online", "spermtrack.kinematics.compute",
            "spermtrack.eval.mot", "spermtrack.detectors.blob", "spermtrack.io.visem"} <= set(MODULES)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_layers(module):
    bad = sorted(m for m in IMPORTS[module] if not _allowed(module, m))
    assert not bad, f"{module} ({_package(module)}) imports {bad} against DESIGN.md's layering"


def test_no_import_cycles():
    """No chain of imports (at any depth in the files) leads from a module back to itself."""
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for dep in sorted(IMPORTS[module]):
            # a package __init__ re-exports its submodules; a submodule importing a sibling through the
            # package is the same dependency, so edges into a package's own __init__ are not followed
            if module.startswith(dep + "."):
                continue
            if state.get(dep) == 1:
                cycles.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[module] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)
    assert not cycles, f"import cycles: {cycles[:3]}"

"""The package's layout: one concept per module, no import circles, no re-exports.

A module is as long as its idea needs (STYLE.md: never split a file to meet a line count); what
keeps the layout by concept is checked instead: a name is imported from the module that defines
it (no module re-exports another's names), and no two modules import each other.

Drawing (``plots``, ``finetune_plots``, ``lottery_plots``) and reading records (``records``) never
import ``widgets``; ``widgets`` may import them. Every module imports in a fresh interpreter
whichever module comes first.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "lth_utils"
MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__"))
NO_WIDGETS = ("plots", "finetune_plots", "lottery_plots", "transfer_plots", "records")


def package_imports(module: str) -> set[str]:
    """The lth_utils modules ``module`` imports anywhere in its source (also inside functions)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[1] for a in node.names if a.name.startswith("lth_utils.")}
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level == 1:                      # from .x import y, from . import x
            base = node.module
        elif node.level == 0 and (node.module or "").split(".")[0] == "lth_utils":
            base = node.module.removeprefix("lth_utils").lstrip(".") or None
        else:
            continue
        out |= {base.split(".")[0]} if base else {a.name for a in node.names}
    return out & set(MODULES)


def test_the_package_has_the_modules_the_docs_name():
    assert {"records", "plots", "finetune_plots", "lottery_plots", "widgets"} <= set(MODULES)
    doc = (PACKAGE / "__init__.py").read_text()
    for module in MODULES:
        assert f"``{module}``" in doc, f"lth_utils/__init__.py's docstring does not list {module}"


def defined_names(module: str) -> set[str]:
    """The names ``module`` defines at its top level (functions, classes, assignments)."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    return names


@pytest.mark.parametrize("module", MODULES)
def test_names_are_imported_from_the_module_that_defines_them(module):
    """``from .training import stack_masks`` would read a name ``training`` only re-exports from
    ``population``: import it from ``population``."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module in MODULES:
            foreign = {a.name for a in node.names} - defined_names(node.module)
            assert not foreign, (f"lth_utils/{module}.py imports {sorted(foreign)} from "
                                 f"{node.module}, which does not define them")


@pytest.mark.parametrize("module", NO_WIDGETS)
def test_drawing_and_records_do_not_import_widgets(module):
    assert "widgets" not in package_imports(module)


def test_no_import_circle():
    graph = {m: package_imports(m) for m in MODULES}
    done, path = set(), []

    def visit(m):
        if m in path:
            raise AssertionError("import circle: " + " -> ".join(path[path.index(m):] + [m]))
        if m in done:
            return
        path.append(m)
        for dep in sorted(graph[m]):
            visit(dep)
        path.pop()
        done.add(m)

    for m in MODULES:
        visit(m)


SCRIPT = """
import importlib, sys
modules = {modules!r}

def fresh(order):
    for name in [n for n in sys.modules if n == "lth_utils" or n.startswith("lth_utils.")]:
        del sys.modules[name]
    for m in order:
        importlib.import_module("lth_utils." + m)

# an import circle fails only when one of its modules is imported first: so each module
# first (then all the others, in two orders) covers every entry point
for m in modules:
    rest = [x for x in modules if x != m]
    fresh([m] + rest)
    fresh([m] + rest[::-1])
fresh({no_widgets!r})
assert "lth_utils.widgets" not in sys.modules, "drawing or records imported widgets"
print("ok")
"""


def test_every_module_imports_in_any_order_in_a_fresh_interpreter():
    script = SCRIPT.format(modules=MODULES, no_widgets=list(NO_WIDGETS))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         cwd=PACKAGE.parent, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-3000:]

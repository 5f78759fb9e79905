"""The package's layers: each imports only from below, and recording stays light.

Every import counts, including those inside functions.  The one sanctioned
upward link is :mod:`hueyviz.views` (derived views, reading and notebook
display for objects of the lower layers), and only from inside a function.
"""
import ast
import importlib
import os
import pkgutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import hueyviz

ROOT = Path(hueyviz.__file__).parent
# Lowest first.  A module may import its own layer and those before it.
LAYERS = [
    ("core", ("hueyviz._version", "hueyviz.core")),
    ("record", ("hueyviz.record",)),
    ("read", ("hueyviz.read",)),
    ("analysis", ("hueyviz.analysis",)),
    ("protect", ("hueyviz.protect",)),
    ("render", ("hueyviz.render",)),
    ("widget", ("hueyviz.widget",)),
    ("app", ("hueyviz.views", "hueyviz.demo", "hueyviz.cli", "hueyviz.__main__", "hueyviz.contrib",
             "hueyviz")),
]
VIEWS = "hueyviz.views"
HEAVY = ("networkx", "graphviz", "ipywidgets", "anywidget", "traitlets", "wasmtime")


def _modules():
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        yield ".".join(parts), path, is_pkg


def _layer(module: str) -> int:
    best, index = -1, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, index = len(p), i
    assert index >= 0, f"{module} belongs to no layer"
    return index


def _imports(module: str, path: Path, is_pkg: bool):
    """(imported hueyviz module, line, inside a function?) for every import."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if is_pkg else module.rpartition(".")[0]
    out = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                                      ast.Lambda))
            if isinstance(child, ast.Import):
                for a in child.names:
                    if a.name.split(".")[0] == "hueyviz":
                        out.append((a.name, child.lineno, inner))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.split(".")[0] != "hueyviz":
                    continue
                for a in child.names:        # "from . import x" may name a module
                    cand = f"{target}.{a.name}"
                    sub = ROOT.parent / Path(*cand.split("."))
                    named = sub.with_suffix(".py").exists() or (sub / "__init__.py").exists()
                    out.append((cand if named else target, child.lineno, inner))
            visit(child, inner)
    visit(tree, False)
    return out


GRAPH = {m: _imports(m, p, pkg) for m, p, pkg in _modules()}


def test_every_module_imports_only_from_its_layer_or_below():
    wrong = []
    for module, imports in GRAPH.items():
        mine = _layer(module)
        for target, line, inside in imports:
            if target == VIEWS:
                if module != "hueyviz" and _layer(module) < _layer(VIEWS) and not inside:
                    wrong.append(f"{module}:{line} imports {VIEWS} at module level")
                continue
            if _layer(target) > mine:
                wrong.append(f"{module}:{line} imports {target} "
                             f"({LAYERS[_layer(target)][0]} is above {LAYERS[mine][0]})")
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles_even_inside_functions():
    edges = {m: {t for t, _, _ in imps if t in GRAPH and t != VIEWS and t != m}
             for m, imps in GRAPH.items()}
    # A package's __init__ importing its own submodules is not a cycle.
    for m in edges:
        edges[m] = {t for t in edges[m] if not (m.startswith(t + ".") and
                                               (ROOT.parent / Path(*t.split(".")) / "__init__.py").exists())}
    state, stack, cycles = {}, [], []

    def dfs(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges.get(m, ())):
            if state.get(t) == 1:
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                dfs(t)
        stack.pop()
        state[m] = 2
    for m in sorted(edges):
        if m not in state:
            dfs(m)
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles)


def test_only_core_and_analysis_objects_reach_views():
    reach = sorted({m for m, imps in GRAPH.items() for t, _, _ in imps if t == VIEWS})
    assert reach == ["hueyviz.analysis.advice", "hueyviz.analysis.finding", "hueyviz.core.trace"]


def test_no_submodule_is_hidden_by_a_name_of_its_package():
    hidden = []
    for info in pkgutil.walk_packages([str(ROOT)], "hueyviz."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        parent_name, _, leaf = info.name.rpartition(".")
        parent = importlib.import_module(parent_name)
        value = getattr(parent, leaf, module)
        if value is not module:
            hidden.append(f"{parent_name}.{leaf} is a {type(value).__name__}, not the module")
        assert isinstance(module, types.ModuleType)
    assert not hidden, "\n".join(hidden)


def test_recording_imports_nothing_heavy():
    code = ("import sys, hueyviz\n"
            "from huey import MemoryHuey\n"
            "h = MemoryHuey('light')\n"
            "t = hueyviz.install(h)\n"
            "with hueyviz.trace(MemoryHuey('light2')):\n"
            "    pass\n"
            "hueyviz.uninstall(h)\n"
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("name", ["diagnose", "TraceView", "whatif", "guard", "follow"])
def test_lazy_names_resolve(name):
    assert callable(getattr(hueyviz, name))

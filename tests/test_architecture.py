"""The layers of ``core`` (docs/architecture.md), checked on the imports of every module.

Every ``import`` and ``from ... import`` under ``core/`` is read with
:mod:`ast` (module-level and inside functions alike, relative imports
resolved). A *unit* is a subpackage of ``core`` (``core/align/``) or a
top-level module (``core/jobs.py``); ``core`` itself (``core/__init__.py``,
the version) is the unit ``"core"``. The rules:

1. core never imports the Nuke layer or Qt (``nuke``, ``nuke_plugin``,
   PySide, PyQt, shiboken).
2. A unit imports only units of its own layer or below (:data:`LAYERS`):
   algorithms never import pipelines, nothing in core imports the CLI.
3. No package cycles among the units, except :data:`KNOWN_CYCLES`.

A new unit fails rule 2 until it is given a layer here and in the doc.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "core"

#: Layer of every unit, from the ground up (docs/architecture.md, "Layers").
LAYERS = {
    # 0 ground floor: exceptions, the parameter spec, the Frame, thread budget, the version
    "core": 0, "errors": 0, "params": 0, "frame": 0, "threads": 0, "resources": 0, "kernels": 0,
    # 1 files and colour
    "color": 1, "io": 1,
    # 2 runtime: per-frame jobs and resume, manifests, versioned formats (the pair manifest among them), staged
    # runs, report drawing
    "jobs": 2, "scale": 2, "manifest": 2, "formats": 2, "pairs": 2, "stages": 2, "sheets": 2, "plot": 2,
    # 3 shared measures: shot detection, image metrics
    "shots": 3, "metrics": 3,
    # 4 algorithms
    "palette": 4, "degrade": 4, "align": 4, "generate": 4, "vision": 4, "infer": 4,
    # 5 learning and judging
    "train": 5, "inverse": 5, "validate": 5,
    # 6 products: the restoration project, the dataset builder, the convert command, the demo, the MCP server,
    # farm job templates
    "pipeline": 6, "dataset": 6, "convert": 6, "demo": 6, "agent": 6, "farm": 6,
    # 7 shells: the CLI
    "cli": 7,
}

#: Imports that break rule 2 today: (importer, imported), each with the issue that removes it.
KNOWN_UPWARD: set[tuple[str, str]] = set()

#: Package cycles that exist today (sorted tuples of units), each with the issue that removes it.
KNOWN_CYCLES: set[tuple[str, ...]] = set()

FORBIDDEN_ROOTS = ("nuke", "nuke_plugin", "PySide6", "PySide2", "PyQt5", "PyQt6", "shiboken6", "shiboken2")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _unit(module: str) -> str:
    """``core.align.model`` -> ``align``; ``core.jobs`` -> ``jobs``; ``core`` -> ``core``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "core"


def _imports(path: Path) -> list[tuple[str, int]]:
    """Every module name ``path`` imports (``from a import b`` gives ``a`` and ``a.b``), with its line."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return _imports_of(path.read_text("utf-8"), package)


def _imports_of(source: str, package: str) -> list[tuple[str, int]]:
    """:func:`_imports` of module source text whose package is ``package`` (for relative imports)."""
    out = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((name, node.lineno))
            out += [(f"{name}.{a.name}", node.lineno) for a in node.names if a.name != "*"]
    return out


def _graph() -> tuple[dict[str, set[str]], dict[tuple[str, str], str], list[str]]:
    """Unit -> units it imports, where each edge was first seen, and the forbidden imports found."""
    edges: dict[str, set[str]] = {}
    where: dict[tuple[str, str], str] = {}
    forbidden = []
    for path in sorted(CORE.rglob("*.py")):
        src = _unit(_module_name(path))
        edges.setdefault(src, set())
        for name, line in _imports(path):
            rel = f"{path.relative_to(CORE.parent)}:{line}"
            if name.split(".")[0] in FORBIDDEN_ROOTS:
                forbidden.append(f"{rel} imports {name}")
            elif name == "core" or name.startswith("core."):
                dst = _unit(name)
                if dst != src and (dst in LAYERS or (CORE / dst).is_dir() or (CORE / f"{dst}.py").is_file()):
                    edges[src].add(dst)
                    where.setdefault((src, dst), rel)
    return edges, where, forbidden


def _cycles(edges: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """Strongly connected components of more than one unit (Tarjan), as sorted tuples."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: set[tuple[str, ...]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.add(tuple(sorted(comp)))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph():
    return _graph()


def test_core_never_imports_nuke_or_qt(graph):
    _, _, forbidden = graph
    assert not forbidden, "core must stay host-agnostic (docs/architecture.md):\n" + "\n".join(forbidden)


def test_every_unit_has_a_layer(graph):
    edges, _, _ = graph
    missing = sorted(set(edges) - set(LAYERS))
    assert not missing, f"give {missing} a layer in tests/test_architecture.py LAYERS and docs/architecture.md"


def test_imports_go_down_the_layers(graph):
    edges, where, _ = graph
    upward = sorted((src, dst) for src, dsts in edges.items() for dst in dsts
                    if LAYERS.get(dst, -1) > LAYERS.get(src, 99) and (src, dst) not in KNOWN_UPWARD)
    assert not upward, "imports up the layers (docs/architecture.md):\n" + "\n".join(
        f"{where[e]}: {e[0]} (layer {LAYERS[e[0]]}) imports {e[1]} (layer {LAYERS[e[1]]})" for e in upward)


def test_algorithms_never_import_pipelines(graph):
    edges, where, _ = graph
    pipelines = {u for u, layer in LAYERS.items() if layer >= 6}
    algorithms = {u for u, layer in LAYERS.items() if 3 <= layer <= 5}
    bad = sorted((a, p) for a in algorithms for p in edges.get(a, set()) & pipelines if (a, p) not in KNOWN_UPWARD)
    assert not bad, "\n".join(f"{where[e]}: algorithm {e[0]} imports {e[1]}" for e in bad)


def test_no_new_package_cycles(graph):
    edges, _, _ = graph
    cycles = _cycles(edges)
    assert cycles <= KNOWN_CYCLES, f"new package cycle(s): {sorted(cycles - KNOWN_CYCLES)}"


def test_known_exceptions_still_exist(graph):
    """When an issue removes a known exception, it leaves the known lists too."""
    edges, _, _ = graph
    gone = sorted(e for e in KNOWN_UPWARD if e[1] not in edges.get(e[0], ()))
    assert not gone, f"no longer imported, remove from KNOWN_UPWARD: {gone}"
    assert KNOWN_CYCLES <= _cycles(edges), "a known cycle is gone: remove it from KNOWN_CYCLES"


def test_the_checker_sees_function_level_and_relative_imports():
    """An import inside a function and relative imports all count."""
    src = "def f():\n    import nuke\n    from . import model\n    from ..pipeline import pairs\n"
    got = {n for n, _ in _imports_of(src, "core.align")}
    assert {"nuke", "core.align", "core.align.model", "core.pipeline", "core.pipeline.pairs"} <= got
    assert ("pipeline" in {_unit(n) for n in got}) and _unit("core") == "core" and _unit("core.jobs") == "jobs"
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}) == {("a", "b", "c")}

"""The import graph of the first-party packages, read with ``ast`` (nothing is imported).

* No cycle among the modules of ``ingest_server``: a candidate or live
  session gets what it needs from the server as a context object, and never
  imports the server back.
* The domain (``hiremate``) never imports a web or socket framework.
* The recruiter side (``api``, ``recruiter``, ``app_pages``) never imports
  ``ingest_server``: what both servers share lives in the domain (the REST
  API's rate limit uses ``hiremate.ratelimit``, as the ingest server does).

Every import counts, wherever it stands: at module level, under
``if TYPE_CHECKING:``, or inside a function.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("hiremate", "ingest_server")
FRAMEWORKS = frozenset({"streamlit", "websockets", "starlette", "fastapi"})
RECRUITER_SIDE = ("api", "recruiter", "app_pages")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def first_party_modules(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    return {module_name(root, path): path for package in packages for path in sorted((root / package).rglob("*.py"))}


def imported_names(name: str, path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, name imported from it or None) for every import in the file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                # Relative: from the module's package (a package is its own), level - 1 parents up.
                base = name.split(".")
                if not is_package:
                    base.pop()
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            for alias in node.names:
                yield source, alias.name


def import_graph(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, set[str]]:
    """module -> the first-party modules it imports. ``from pkg import sub`` is
    an edge to ``pkg.sub`` when that is a module, else to ``pkg``."""
    modules = first_party_modules(root, packages)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for source, imported in imported_names(name, path):
            target = f"{source}.{imported}" if f"{source}.{imported}" in modules else source
            while target and target not in modules:  # ``import hiremate.db.x`` style: the module part
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's components, each sorted; the ones of more than one module are the cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The reader itself, on a made-up package: the cycle that ingest_server had
    (closed only under ``if TYPE_CHECKING:``) is found, and so is every other form."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "from pkg.server import Server\n",
        "server.py": "from pkg import session\nimport pkg.util\n",
        "session.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.server import Server\n",
        "util.py": "def later():\n    from .sub import deep\n",
        "sub/__init__.py": "from . import deep\nfrom .. import util\n",
        "sub/deep.py": "from pkg.util import later\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)

    graph = import_graph(tmp_path, ("pkg",))
    assert graph == {
        "pkg": {"pkg.server"},
        "pkg.server": {"pkg.session", "pkg.util"},
        "pkg.session": {"pkg.server"},
        "pkg.util": {"pkg.sub.deep"},
        "pkg.sub": {"pkg.sub.deep", "pkg.util"},
        "pkg.sub.deep": {"pkg.util"},
    }
    cycles = sorted(c for c in strongly_connected(graph) if len(c) > 1)
    assert cycles == [["pkg.server", "pkg.session"], ["pkg.sub.deep", "pkg.util"]]


def test_the_real_graph_has_the_known_edges():
    graph = import_graph()
    assert "ingest_server.session" in graph["ingest_server.server"]
    assert "hiremate.attempts" in graph["ingest_server.session"]  # ``from hiremate import attempts``
    assert "hiremate.models" in graph["hiremate.attempts"]


def test_no_import_cycle_in_ingest_server():
    graph = import_graph()
    cycles = [
        component
        for component in strongly_connected(graph)
        if len(component) > 1 and any(name.startswith("ingest_server") for name in component)
    ]
    assert cycles == [], f"modules that import each other: {cycles}"


def test_the_domain_imports_no_web_framework():
    offenders = sorted(
        f"{name} imports {imported}"
        for name, path in first_party_modules().items()
        if name.split(".")[0] == "hiremate"
        for imported, _ in imported_names(name, path)
        if imported.split(".")[0] in FRAMEWORKS
    )
    assert offenders == []


def test_the_recruiter_side_imports_nothing_of_the_ingest_server():
    modules = first_party_modules(ROOT, RECRUITER_SIDE)
    assert "api.deps" in modules and "recruiter.live_panel" in modules and "app_pages.live" in modules
    offenders = sorted(
        f"{name} imports {imported}"
        for name, path in modules.items()
        for imported, _ in imported_names(name, path)
        if imported.split(".")[0] == "ingest_server"
    )
    assert offenders == []

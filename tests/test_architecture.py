"""Import rules the code keeps by itself (docs: /work/shared/design-notes.md, "Modules and what
each must not know").

- `hubsync_core` never imports streamlit, pandas or plotly: the core serves four faces, only
  one of them is the dashboard.
- The sandbox (`hubsync_core/sandbox`) imports nothing of `hubsync_core` outside itself: it
  must not share the client's reading of HubSpot (`hubsync_core.hubspot`) nor the store, or a
  misreading would be shared by both and never caught.
- The dashboard (`app.py`, `pages/`) never imports `hubsync_core.store`: pages go through the
  `HubSyncService` facade.
- Every third-party package the code imports is declared in pyproject.toml.

Imports are read with `ast` (every `import`, also inside functions and `if TYPE_CHECKING:`
blocks, relative ones resolved), so a rule holds without running the code. The `*_can_fail`
tests feed synthetic sources to the same checker: each rule is shown to fail when broken.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Rule:
    """Modules whose path starts with one of `applies_to` must not import `forbidden`
    (a module or package name; its submodules are forbidden too) unless `allowed` says so."""

    name: str
    applies_to: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()

    def covers(self, path: str) -> bool:
        return any(path == p or path.startswith(p.rstrip("/") + "/") for p in self.applies_to)

    def breaks(self, module: str) -> bool:
        def within(names: tuple[str, ...]) -> bool:
            return any(module == n or module.startswith(n + ".") for n in names)

        return within(self.forbidden) and not within(self.allowed)


RULES = (
    Rule("core without UI libraries", ("hubsync_core",), ("streamlit", "pandas", "plotly")),
    Rule(
        "sandbox knows only itself",
        ("hubsync_core/sandbox",),
        ("hubsync_core",),
        allowed=("hubsync_core.sandbox",),
    ),
    Rule("pages through the facade", ("app.py", "pages"), ("hubsync_core.store",)),
)


def module_name(path: str) -> str:
    """`hubsync_core/store/runs.py` -> `hubsync_core.store.runs` (packages: their name)."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(source: str, path: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in `source`, as `from a import b` yields
    `a` and `a.b` (b may be a module)."""
    package = module_name(path).split(".")
    if not path.endswith("__init__.py"):
        package = package[:-1]
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                parent = ".".join([*base, *([node.module] if node.module else [])])
            else:
                parent = node.module or ""
            yield node.lineno, parent
            for alias in node.names:
                if alias.name != "*":
                    yield node.lineno, f"{parent}.{alias.name}"


def violations(path: str, source: str) -> list[str]:
    """Every import in the file at `path` (relative to the repo) that breaks a rule."""
    found = []
    for rule in RULES:
        if not rule.covers(path):
            continue
        for line, module in imported_modules(source, path):
            if rule.breaks(module):
                found.append(f"{path}:{line} imports {module} ({rule.name})")
    return sorted(set(found))


def python_files(*roots: str) -> list[Path]:
    files: list[Path] = []
    for root in roots:
        target = REPO / root
        files.extend([target] if target.is_file() else sorted(target.rglob("*.py")))
    return files


def relative(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


# --- the rules hold -------------------------------------------------------------------------


def test_the_code_keeps_every_import_rule() -> None:
    files = python_files("hubsync_core", "pages", "app.py")
    assert len(files) > 30  # the walk found the code
    broken = [v for f in files for v in violations(relative(f), f.read_text("utf-8"))]
    assert broken == []


#: Import name -> distribution name, where they differ.
DISTRIBUTIONS = {
    "dotenv": "python-dotenv",
    "hubspot": "hubspot-api-client",
    "yaml": "pyyaml",
}


def declared_distributions() -> set[str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    return {
        re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        for requirement in requirements
    }


def third_party_imports(files: list[Path]) -> dict[str, str]:
    """Top-level third-party module -> the first file importing it."""
    local = {"hubsync_core", "pages", "tests", "benchmarks", "app"}
    # Helper modules and packages of the tests, imported by name (pytest puts their folders
    # on sys.path).
    local |= {p.stem for p in (REPO / "tests").rglob("*.py")}
    local |= {p.name for p in (REPO / "tests").rglob("*") if p.is_dir()}
    found: dict[str, str] = {}
    for file in files:
        path = relative(file)
        for _, module in imported_modules(file.read_text("utf-8"), path):
            top = module.split(".")[0]
            if top and top not in sys.stdlib_module_names and top not in local:
                found.setdefault(top, path)
    return found


def undeclared(imported: dict[str, str], declared: set[str]) -> dict[str, str]:
    """The imported modules whose distribution is not declared."""
    return {
        module: path
        for module, path in imported.items()
        if DISTRIBUTIONS.get(module, module).lower().replace("_", "-") not in declared
    }


def test_every_imported_third_party_package_is_declared() -> None:
    files = python_files("hubsync_core", "pages", "app.py", "tests", "benchmarks")
    imported = third_party_imports(files)
    assert {"streamlit", "sqlalchemy", "numpy"} <= set(imported)  # the walk saw them
    missing = undeclared(imported, declared_distributions())
    assert missing == {}, f"imported but not declared in pyproject.toml: {missing}"


# --- each rule can fail ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("hubsync_core/report.py", "import pandas as pd\n"),
        ("hubsync_core/store/x.py", "def chart():\n    from plotly import graph_objects\n"),
        ("hubsync_core/jobs.py", "import streamlit.runtime\n"),
        ("hubsync_core/sandbox/server.py", "from hubsync_core.hubspot import client\n"),
        ("hubsync_core/sandbox/portal.py", "from ..store import contacts\n"),
        ("hubsync_core/sandbox/data.py", "from hubsync_core import store\n"),
        ("hubsync_core/sandbox/data.py", "import hubsync_core.config\n"),
        ("pages/contacts.py", "from hubsync_core.store import queries\n"),
        ("pages/components/frame.py", "from hubsync_core import store\n"),
        ("app.py", "if True:\n    import hubsync_core.store.runs as runs\n"),
    ],
)
def test_each_import_rule_can_fail(path: str, source: str) -> None:
    assert violations(path, source) != []


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("hubsync_core/sandbox/server.py", "from .portal import Portal\n"),
        ("hubsync_core/sandbox/server.py", "from hubsync_core.sandbox.config import X\n"),
        ("hubsync_core/service.py", "from hubsync_core.store import queries\n"),
        ("pages/contacts.py", "from hubsync_core.service import ContactFilter\n"),
        ("pages/charts.py", "import plotly.graph_objects as go\n"),
        ("tests/test_x.py", "import pandas\n"),
    ],
)
def test_allowed_imports_pass(path: str, source: str) -> None:
    assert violations(path, source) == []


def test_relative_imports_are_resolved() -> None:
    found = dict(
        (module, line)
        for line, module in imported_modules(
            "from . import portal\nfrom ..store.runs import x\n", "hubsync_core/sandbox/server.py"
        )
    )
    assert "hubsync_core.sandbox.portal" in found
    assert "hubsync_core.store.runs" in found


def test_an_undeclared_package_is_reported() -> None:
    imported = {"numpy": "hubsync_core/sandbox/generator.py", "dotenv": "hubsync_core/config.py"}
    assert undeclared(imported, {"python-dotenv"}) == {"numpy": "hubsync_core/sandbox/generator.py"}
    assert undeclared(imported, {"python-dotenv", "numpy"}) == {}

"""The layout holds: dependencies point one way, HTTP stays at the edge, handlers run no SQL.

`gateway -> (webhooks, flows) -> sales -> (operators, journeys) -> gtfs` (ARCHITECTURE.md): a
package may import those to its right, never those to its left. Only `gateway`
knows aiohttp; the one exception is the session type handed to adapters
(`operators/registry.py` and the adapters' wire clients under `operators/`).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Each package and the project packages it may import.
ALLOWED: dict[str, set[str]] = {
    "gateway": {"webhooks", "flows", "sales", "operators", "journeys", "gtfs"},
    "webhooks": {"sales", "operators", "journeys", "gtfs"},
    "flows": {"sales", "operators", "journeys", "gtfs"},
    "sales": {"operators", "journeys", "gtfs"},
    "operators": {"gtfs"},
    "journeys": {"gtfs"},
    "gtfs": set(),
}
SQL_CALLS = {"fetch", "fetchrow", "fetchval", "execute", "executemany", "copy_records_to_table"}


def _modules(package: str) -> Iterator[Path]:
    yield from sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_one_way(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in _modules(package)
        for line, name in _imports(path)
        if (top := name.split(".")[0]) in ALLOWED and top != package and top not in ALLOWED[package]
    ]
    assert wrong == []


def test_aiohttp_only_at_the_edge() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}:{line}"
        for package in ALLOWED
        if package not in ("gateway", "operators")
        for path in _modules(package)
        for line, name in _imports(path)
        if name.split(".")[0] == "aiohttp"
    ]
    assert wrong == []


def test_operators_use_aiohttp_only_for_the_injected_session() -> None:
    users = {
        path.relative_to(ROOT).as_posix()
        for path in _modules("operators")
        for _, name in _imports(path)
        if name.split(".")[0] == "aiohttp"
    }
    assert users <= {"operators/registry.py", "operators/tomp/client.py"}


def test_handlers_run_no_sql() -> None:
    wrong = []
    for path in _modules("gateway/handlers"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            called = node.func if isinstance(node, ast.Call) else None
            if isinstance(called, ast.Attribute) and called.attr in SQL_CALLS:
                wrong.append(f"{path.relative_to(ROOT)}:{called.lineno} .{called.attr}()")
    assert wrong == []

"""The OpenAPI document is complete enough to build a client from, and its problem codes hold."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway import handlers
from gateway.api import api
from gateway.openapi import build_openapi
from gateway.problem_types import PROBLEM_TYPES
from journeys.errors import JourneyError

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "delete", "patch")
PACKAGES = ("gateway", "sales", "operators", "flows", "journeys", "gtfs")
NO_LOCATION = ("POST /v1/offers", "PUT /v1/operators/{id}/fares")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    handlers.load()
    return build_openapi(api, "test")


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


def _undescribed(name: str, schema: dict[str, Any]) -> Iterator[str]:
    """Name every property of a schema with no description."""
    for prop, sub in schema.get("properties", {}).items():
        if not sub.get("description"):
            yield f"{name}.{prop}"


def test_every_operation_has_a_description(document: dict[str, Any]) -> None:
    missing = [name for name, op in _operations(document) if not op.get("description")]
    assert missing == []


def test_every_parameter_has_a_description(document: dict[str, Any]) -> None:
    missing = [
        f"{name} {p['in']} {p['name']}"
        for name, op in _operations(document)
        for p in op.get("parameters", [])
        if not p.get("description")
    ]
    assert missing == []


def _referenced(schema: Any, schemas: dict[str, Any], seen: set[str]) -> set[str]:
    """Return the names of the schemas `schema` refers to, transitively."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.split("/")[-1] not in seen:
            seen.add(ref.split("/")[-1])
            _referenced(schemas[ref.split("/")[-1]], schemas, seen)
        for value in schema.values():
            _referenced(value, schemas, seen)
    elif isinstance(schema, list):
        for value in schema:
            _referenced(value, schemas, seen)
    return seen


def test_every_request_property_has_a_description(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    bodies = [op.get("requestBody", {}) for _, op in _operations(document)]
    names = _referenced(bodies, schemas, set())
    assert len(names) >= 6
    missing = [m for name in sorted(names) for m in _undescribed(name, schemas[name])]
    assert missing == []


@pytest.mark.xfail(strict=True, reason="not done yet: most response models have no descriptions")
def test_every_response_property_has_a_description(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    missing = [m for name, schema in schemas.items() for m in _undescribed(name, schema)]
    assert missing == []


def test_every_json_request_body_has_an_example(document: dict[str, Any]) -> None:
    missing = []
    for name, op in _operations(document):
        body = op.get("requestBody", {}).get("content", {}).get("application/json")
        if body is not None and "example" not in body and "examples" not in body:
            missing.append(name)
    assert missing == []


def test_every_operation_lists_its_problem_codes_by_status(document: dict[str, Any]) -> None:
    for name, op in _operations(document):
        codes = op["x-problem-codes"]
        assert codes, name
        for code in codes:
            status = str(PROBLEM_TYPES[code].status)
            examples = op["responses"][status]["content"]["application/problem+json"]["examples"]
            assert examples[code]["value"]["type"] == f"/problems/{code}", name


def test_an_operation_on_one_object_can_answer_not_found(document: dict[str, Any]) -> None:
    for name, op in _operations(document):
        if any(
            p["in"] == "path" and p["name"] in ("id", "prefix") for p in op.get("parameters", [])
        ):
            assert "not_found" in op["x-problem-codes"], name


def test_the_real_success_statuses_are_documented(document: dict[str, Any]) -> None:
    feed = document["paths"]["/v1/operators/{id}/feed"]["put"]["responses"]
    assert {"201", "200"} <= set(feed)
    assert "Location" in feed["201"]["headers"]
    for name, op in _operations(document):
        # Offers and fares have no URL of their own to GET (yet): nothing to point at.
        if "201" in op["responses"] and name not in NO_LOCATION:
            assert "Location" in op["responses"]["201"].get("headers", {}), name


def test_the_document_names_its_server(document: dict[str, Any]) -> None:
    assert document["servers"][0]["url"] == "/"


def _raised_codes() -> Iterator[tuple[str, str]]:
    """Yield (code, where) of every literal problem code the gateway's source raises."""
    sources = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            index = {"Problem": 1, "conflict": 0}.get(str(name))
            if index is None or len(node.args) <= index:
                continue
            arg = node.args[index]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                yield arg.value, f"{path.relative_to(ROOT)}:{node.lineno}"


def test_every_code_the_gateway_raises_has_a_page() -> None:
    codes = list(_raised_codes())
    assert len(codes) > 20  # the scan finds the gateway's problems at all
    assert [(c, where) for c, where in codes if c not in PROBLEM_TYPES] == []


def test_every_planner_error_has_a_page() -> None:
    kinds = [JourneyError, *JourneyError.__subclasses__()]
    assert [k.code for k in kinds if k.code not in PROBLEM_TYPES] == []

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
from gateway.openapi_examples import EXAMPLES
from gateway.problem_types import PROBLEM_TYPES
from gateway.problems import GATEWAY_STATUSES, HTTP_CODES, JOURNEY_STATUSES, sales_status
from journeys.errors import JourneyError
from sales.errors import SalesError

ROOT = Path(__file__).resolve().parents[2]
METHODS = ("get", "put", "post", "delete", "patch")
PACKAGES = ("gateway", "sales", "operators", "flows", "journeys", "gtfs")
NO_LOCATION = ("PUT /v1/operators/{id}/fares",)


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
            example = document["components"]["examples"][examples[code]["$ref"].split("/")[-1]]
            assert example["value"]["type"] == f"/problems/{code}", name


def test_an_operation_on_one_object_can_answer_not_found(document: dict[str, Any]) -> None:
    for name, op in _operations(document):
        if any(
            p["in"] == "path" and p["name"] in ("id", "prefix") for p in op.get("parameters", [])
        ):
            assert "404" in op["responses"], name


def test_the_real_success_statuses_are_documented(document: dict[str, Any]) -> None:
    feed = document["paths"]["/v1/operators/{id}/feed"]["put"]["responses"]
    assert {"201", "200"} <= set(feed)
    assert "Location" in feed["201"]["headers"]
    for name, op in _operations(document):
        # A PUT that creates names the resource by its own URL; fares have no GET to point at.
        if "201" in op["responses"] and name not in NO_LOCATION:
            assert "Location" in op["responses"]["201"].get("headers", {}), name


def test_the_document_names_its_server(document: dict[str, Any]) -> None:
    assert document["servers"][0]["url"] == "/"


def _raised_codes() -> Iterator[tuple[str, int | None, str]]:
    """Yield (code, status, where) of every literal problem code the source raises."""
    sources = [p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))]
    for path in sources:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = str(getattr(node.func, "id", getattr(node.func, "attr", None)))
            args = [a.value if isinstance(a, ast.Constant) else None for a in node.args[:2]]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name == "Problem" and len(args) == 2 and isinstance(args[1], str):
                yield args[1], args[0] if isinstance(args[0], int) else None, where
            elif name == "conflict" and isinstance(args[0], str):
                yield args[0], 409, where


def test_every_code_the_gateway_raises_has_a_page_and_its_status() -> None:
    codes = list(_raised_codes())
    assert len(codes) > 20  # the scan finds the gateway's problems at all
    assert [(c, where) for c, _, where in codes if c not in PROBLEM_TYPES] == []
    wrong = [
        (code, status, where)
        for code, status, where in codes
        if status is not None and status != PROBLEM_TYPES[code].status
    ]
    assert wrong == []


def test_every_domain_error_has_a_page_with_the_status_it_is_answered_with() -> None:
    for code, kind in SalesError.by_code.items():
        assert PROBLEM_TYPES[code].status == sales_status(kind), code
        assert PROBLEM_TYPES[code].title == kind.title, code
    journey_kinds: list[type[JourneyError]] = [JourneyError, *JourneyError.__subclasses__()]
    for journey in journey_kinds:
        assert PROBLEM_TYPES[journey.code].status == JOURNEY_STATUSES.get(journey.code, 422)


def test_aiohttp_errors_and_the_gateway_table_agree() -> None:
    for status, (code, _) in HTTP_CODES.items():
        assert PROBLEM_TYPES[code].status == status, code
    assert set(GATEWAY_STATUSES) <= set(PROBLEM_TYPES)


def test_every_example_is_valid_for_its_model() -> None:
    handlers.load()
    models = {m.__name__: m for e in api.endpoints for m in (e.body, e.response) if m is not None}
    assert set(EXAMPLES) <= set(models)
    for name, example in EXAMPLES.items():
        models[name].model_validate(example)


def test_the_main_responses_have_examples(document: dict[str, Any]) -> None:
    for path, method in [
        ("/v1/stops", "get"),
        ("/v1/stops/{id}/departures", "get"),
        ("/v1/journeys", "get"),
        ("/v1/offers", "post"),
        ("/v1/bookings", "post"),
    ]:
        responses = document["paths"][path][method]["responses"]
        ok = next(v for k, v in responses.items() if k.startswith("2"))
        assert "example" in ok["content"]["application/json"], path

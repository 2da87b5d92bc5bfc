"""Schemathesis over the gateway's own `/openapi.json`: every operation, with every caller.

Each operation gets `MAAS_CONFORMANCE_EXAMPLES` generated cases (derandomised, so a run is
repeatable) per caller: anonymous and a maas, operator, planner and admin key. Upload
operations alternate real bodies (GTFS zips from `../shared/data`, GTFS-Realtime feeds)
with generated ones. Every answer must be a documented status with a documented content
type, a body that matches its schema and documented headers; never a 5xx.

Then each operation gets `MAAS_CONFORMANCE_NEGATIVE_EXAMPLES` invalid requests per caller
(a wrong type, a value out of range, a missing or unknown field or parameter): each must be
refused with a documented 4xx, never accepted and never a 5xx.
"""

from __future__ import annotations

import functools
import itertools
import os
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway import credentials
from gateway.settings import Settings
from tests.gateway.conformance.examples import upload_bodies
from tests.gateway.conformance.server import LoopbackGateway, loopback_gateway
from tests.sales.support import operator_with_demo_fares
from tests.servers import fresh_database

EXAMPLES = int(os.environ.get("MAAS_CONFORMANCE_EXAMPLES", "10"))
NEGATIVE_EXAMPLES = int(os.environ.get("MAAS_CONFORMANCE_NEGATIVE_EXAMPLES", "5"))
CALLERS = ("anonymous", "maas", "operator", "planner", "admin")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
NEGATIVE_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
]
#: Streams never end: a request would wait for the test's timeout.
STREAMING = ("text/event-stream",)
UPLOADS = {"put_feed": "feed", "put_fares": "fares", "push_feed": "realtime"}

pytestmark = pytest.mark.timeout(900)

# The upload bodies are bytes, sent as they are (as `application/octet-stream` would be).
schemathesis.serializer.alias(
    ["application/zip", "application/x-protobuf"], "application/octet-stream"
)


@pytest.fixture(scope="module")
def gateway(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Serve one gateway on loopback for the module, with a key of every role.

    On a database of its own: what thousands of generated requests create (releases of
    the example's period, feeds, keys) must not reach the tests that share the run's.
    """
    with fresh_database(tmp_path_factory.mktemp("conformance-db")) as database_url:
        yield from _serve(database_url, redis_url, tmp_path_factory)


def _serve(database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    settings = Settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_prefix=f"maas-conformance:{uuid.uuid4().hex[:8]}:",
        data_dir=tmp_path_factory.mktemp("conformance"),
        log_json=False,
        # every case is one request from one address: limits are tested elsewhere, and
        # a 429 answered to most cases would leave their operations untried
        rate_limit_requests=1_000_000,
        rate_limit_anonymous_requests=1_000_000,
    )
    with loopback_gateway(settings) as served:
        operator_id = served.run(operator_with_demo_fares)
        served.keys["operator_id"] = operator_id
        roles: tuple[credentials.Role, ...] = ("maas", "operator", "planner", "admin")
        for role in roles:
            served.keys[role] = served.run(
                functools.partial(
                    credentials.create_key,
                    role=role,
                    name=f"conformance-{role}",
                    operator_id=operator_id if role == "operator" else None,
                )
            )
        _wait_ready(served)
        yield served


def _wait_ready(served: LoopbackGateway) -> None:
    """Wait for the first timetable: before it, the planner answers a documented 503."""
    deadline = time.monotonic() + 300
    ready = f"{served.base_url}/ready"
    while requests.get(ready, timeout=30).json()["timetable"] != "ok":
        assert time.monotonic() < deadline, "the gateway's timetable was never built"
        time.sleep(0.2)


def _document(gateway: LoopbackGateway) -> dict[str, Any]:
    """Return `/openapi.json`, its `{id}` parameters pointed at the test's operator."""
    resp = requests.get(f"{gateway.base_url}/openapi.json", timeout=30)
    assert resp.status_code == 200, resp.text
    document: dict[str, Any] = orjson.loads(resp.content)
    for path, item in document["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if path.startswith("/v1/operators/{id}") and parameter["name"] == "id":
                    parameter["example"] = gateway.keys["operator_id"]
    return document


def _headers(gateway: LoopbackGateway, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    return {"Authorization": f"Bearer {gateway.keys[caller]}"}


def _streams(operation: Any) -> bool:
    responses = operation.definition.raw.get("responses", {})
    return any(m in STREAMING for r in responses.values() for m in r.get("content", {}))


def _run_operation(
    gateway: LoopbackGateway,
    operation: Any,
    caller: str,
    real: list[bytes],
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> tuple[int, list[str], list[int]]:
    """Run the operation's cases; return how many ran, the failures and the statuses."""
    bodies = itertools.cycle(real) if real else None
    operator_id = gateway.keys["operator_id"]
    ran = itertools.count()
    failures: list[str] = []
    statuses: list[int] = []
    positive = mode is GenerationMode.POSITIVE

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=EXAMPLES if positive else NEGATIVE_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        number = next(ran)
        if bodies is not None and number % 2 == 0:
            case.body = next(bodies)
            case.query = {}  # the whole real feed: a generated `agency_id` names no agency
            # ... sent to the test's operator: another's is 403, and whether a generated id
            # hit it depended on Hypothesis's seed (a digest of this function's source).
            case.path_parameters = {**(case.path_parameters or {}), "id": operator_id}
        try:
            response = case.call_and_validate(
                base_url=gateway.base_url,
                headers=_headers(gateway, caller),
                checks=CHECKS if positive else NEGATIVE_CHECKS,
                timeout=60,
            )
            statuses.append(response.status_code)
        except (FailureGroup, AssertionError) as exc:
            lines = " | ".join(str(exc).splitlines()[2:9])
            failures.append(f"{caller} {operation.label}: {lines} ({case.as_curl_command()})")

    run()
    return next(ran), failures, statuses


@pytest.mark.parametrize("caller", CALLERS)
def test_every_operation_conforms(gateway: LoopbackGateway, caller: str, shared_data: Path) -> None:
    """Every operation answers as the document says, whoever calls it; no 5xx."""
    schema = schemathesis.openapi.from_dict(_document(gateway))
    real = upload_bodies(shared_data)
    cases, failures = 0, []
    accepted: dict[str, bool] = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if _streams(operation):
            continue
        kind = UPLOADS.get(operation.definition.raw.get("operationId", ""))
        ran, found, statuses = _run_operation(
            gateway, operation, caller, real[kind] if kind else []
        )
        cases += ran
        failures += found
        if kind and caller in ("operator", "admin"):  # a real body is taken, not only refused
            accepted[operation.label] = any(200 <= s < 300 for s in statuses)
    print(f"conformance {caller}: {cases} cases, {len(failures)} failures")  # noqa: T201
    assert cases > 0
    assert not failures, "\n".join(failures)
    assert all(accepted.values()), accepted


@pytest.mark.parametrize("caller", CALLERS)
def test_every_invalid_request_is_refused_as_documented(
    gateway: LoopbackGateway, caller: str
) -> None:
    """Invalid requests (wrong types, values out of range, unknown fields) are a 4xx."""
    schema = schemathesis.openapi.from_dict(_document(gateway))
    cases, failures = 0, []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if _streams(operation):
            continue
        try:
            ran, found, _ = _run_operation(
                gateway, operation, caller, [], mode=GenerationMode.NEGATIVE
            )
        except Unsatisfiable:  # nothing of it can be invalid (no parameter, no body)
            continue
        cases += ran
        failures += found
    print(f"negative {caller}: {cases} cases, {len(failures)} failures")  # noqa: T201
    assert cases > 0
    assert not failures, "\n".join(failures)

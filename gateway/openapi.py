"""The OpenAPI 3.1 document, generated from the declared endpoints and their pydantic models.

Each operation says what it does (the handler's docstring), its success statuses, and
every problem code it can answer with, grouped by the status that the one table of
problem types (`gateway.problem_types`) gives each code.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api import Api, Endpoint, openapi_path
from gateway.openapi_examples import EXAMPLES
from gateway.problem_types import COMMON_CODES, PROBLEM_TYPES
from gateway.problems import CONTENT_TYPE as PROBLEM
from gateway.problems import PROBLEM_TYPE_BASE

_REF = "#/components/schemas/{model}"
_EXAMPLE_REF = "#/components/examples/problem-{code}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "description": "`/problems/{code}`: a page on the gateway that explains the code",
        },
        "title": {"type": "string", "description": "a short, human summary of the code"},
        "status": {"type": "integer", "description": "the HTTP status of the answer"},
        "code": {"type": "string", "description": "stable, machine-readable: what went wrong"},
        "detail": {"type": "string", "description": "what went wrong with this request"},
        "instance": {"type": "string", "description": "the path of the request that failed"},
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "one entry per bad field (`field`, `message`, `type`) or feed row",
        },
    },
}

#: What a path parameter names, by the collection it follows in the path.
_PATH_PARAMETERS = {
    "operators": "The operator's id, e.g. `kuopion-liikenne`.",
    "stops": "A stop id, prefixed with its operator's id, e.g. `kuopion-liikenne:201804`.",
    "routes": "A route id, prefixed with its operator's id, e.g. `kuopion-liikenne:1`.",
    "bookings": "The booking's id (a UUID), as `POST /v1/bookings` answered it.",
    "offers": "The offer's id (a UUID), as `POST /v1/offers` or `/v1/journeys` gave it.",
    "tickets": "The ticket's id (a UUID), from a confirmed booking's `tickets`.",
    "keys": "The key's prefix (`mk_<role>_<prefix>`), as `GET /v1/keys` lists it.",
    "realtime": "The kind of GTFS-Realtime feed.",
    "problems": "A problem `code`, e.g. `sold_out`.",
    "status-lists": "The operator's id, e.g. `kuopion-liikenne`: the list its tickets name.",
    "travellers": "The app's opaque reference for the traveller (the booking's `traveller_ref`).",
    "consents": "The purpose consented to: `trip-statistics`.",
    "releases": "The release's id (a UUID), as `POST /v1/flows/releases` answered it.",
    "webhooks": "The webhook endpoint's id (a UUID), as `POST /v1/webhooks` answered it.",
    "zone-systems": "A zone system: `fare-zones`, `h3-7`, `h3-8` or uploaded districts' id.",
}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": (
        "A fresh random token (a UUID) per purchase, 1 to 255 printable ASCII characters. "
        "Repeating the same key with the same body replays the first answer; with another "
        "body it is refused (422 `idempotency_key_reused`). A replayed answer carries "
        "`Idempotent-Replayed: true`."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "example": "5f0c2b7e-3d1a-4c39-9a51-2f7d8e6b1c40",
}

_REPLAYED = {
    "description": (
        "`true` when this is the outcome of an earlier request (the same Idempotency-Key, "
        "or a confirm or cancel the booking had already had), not of this one; absent otherwise"
    ),
    "required": False,
    "schema": {"type": "string", "enum": ["true"]},
}

_SEGMENT = re.compile(r"^\{([a-zA-Z_][a-zA-Z0-9_]*)(?::([^}]*))?\}$")


def _path_parameters(path: str) -> list[dict[str, Any]]:
    """Return the path's parameters, described by the collection each follows."""
    segments = path.strip("/").split("/")
    params = []
    for i, segment in enumerate(segments):
        match = _SEGMENT.match(segment)
        if match is None:
            continue
        schema: dict[str, Any] = {"type": "string"}
        if match[2] and re.fullmatch(r"[a-z-]+(\|[a-z-]+)*", match[2]):
            schema["enum"] = match[2].split("|")
        params.append(
            {
                "name": match[1],
                "in": "path",
                "required": True,
                "description": _PATH_PARAMETERS.get(segments[i - 1], ""),
                "schema": schema,
            }
        )
    return params


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
            **({"description": prop["description"]} if "description" in prop else {}),
        }
        for name, prop in schema.get("properties", {}).items()
    ]


def error_codes(endpoint: Endpoint) -> list[str]:
    """Return every problem code the operation can answer with, its own ones first."""
    codes = [*endpoint.errors, "unauthorized"]  # a key that is sent must be valid, anywhere
    if "{" in endpoint.path:
        codes.append("not_found")  # an operation that names an object may not find it
    if endpoint.roles is not None:
        codes.append("forbidden")
    if endpoint.query is not None or endpoint.body is not None:
        codes.append("validation_failed")
    if endpoint.body is not None:
        codes += ["invalid_json", "unsupported_media_type", "payload_too_large"]
    if endpoint.upload is not None:
        codes.append("payload_too_large")
    if endpoint.idempotent_key:
        codes += [
            *(["idempotency_key_required"] if endpoint.idempotent_key is True else []),
            "idempotency_key_invalid",
            "idempotency_key_reused",
            "idempotency_key_in_progress",
        ]
    return list(dict.fromkeys([*codes, *COMMON_CODES]))


def _problem_example(code: str) -> dict[str, Any]:
    kind = PROBLEM_TYPES[code]
    value = {"type": PROBLEM_TYPE_BASE + code, "title": kind.title, "status": kind.status}
    return {"summary": kind.title, "value": {**value, "code": code, "detail": kind.meaning}}


def _error_responses(codes: list[str]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in codes:
        by_status.setdefault(PROBLEM_TYPES[code].status, []).append(code)
    responses = {}
    for status, found in sorted(by_status.items()):
        listed = "; ".join(f"`{c}`: {PROBLEM_TYPES[c].meaning}" for c in found)
        responses[str(status)] = {
            "description": f"{listed} (see `/problems/{{code}}`)",
            "content": {
                PROBLEM: {
                    "schema": {"$ref": "#/components/schemas/Problem"},
                    "examples": {c: {"$ref": _EXAMPLE_REF.format(code=c)} for c in found},
                }
            },
        }
    return responses


def _examples(model: type[BaseModel]) -> dict[str, Any]:
    """Return a media type's `example` of the model, if `gateway.openapi_examples` has one."""
    example = EXAMPLES.get(model.__name__)
    return {"example": example} if example is not None else {}


def _media_schema(media: str) -> dict[str, Any]:
    """Return the schema of a body in another media type than the operation's JSON model."""
    if media == "application/json" or media.endswith("+json"):
        return {"type": "object", "description": "a JSON document of this media type"}
    if media.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}


def _success(endpoint: Endpoint, description: str) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if endpoint.response is not None:
        schema = {"$ref": _ref(endpoint.response)}
        content["application/json"] = {"schema": schema, **_examples(endpoint.response)}
    for media in endpoint.media_types:
        content.setdefault(media, {"schema": _media_schema(media)})
    ok: dict[str, Any] = {"description": description}
    if content:
        ok["content"] = content
    return ok


def _responses(endpoint: Endpoint) -> dict[str, Any]:
    doc = _first_line(endpoint.response) if endpoint.response is not None else "OK"
    ok = _success(endpoint, doc)
    if endpoint.status == 201 and endpoint.location is not None:
        ok["headers"] = {
            "Location": {
                "description": f"the created resource, `{endpoint.location}`",
                "schema": {"type": "string", "format": "uri-reference"},
            }
        }
    if endpoint.idempotent_key:
        ok["headers"] = {**ok.get("headers", {}), "Idempotent-Replayed": _REPLAYED}
    responses = {str(endpoint.status): ok}
    for status, description in endpoint.also:
        bodiless = status in (204, 304)
        responses[str(status)] = (
            {"description": description} if bodiless else _success(endpoint, description)
        )
    return responses | _error_responses(error_codes(endpoint))


def _request_body(endpoint: Endpoint) -> dict[str, Any] | None:
    if endpoint.body is not None:
        media = {"schema": {"$ref": _ref(endpoint.body)}, **_examples(endpoint.body)}
        return {
            "required": True,
            "description": _first_line(endpoint.body),
            "content": {"application/json": media},
        }
    if endpoint.upload is not None:
        binary = {"schema": {"type": "string", "format": "binary"}}
        return {
            "required": True,
            "description": (
                f"the file's bytes as the body ({endpoint.upload}), not a form: "
                f"`curl --data-binary @FILE -H 'Content-Type: {endpoint.upload}'`"
            ),
            "content": {endpoint.upload: binary},
        }
    return None


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "description": endpoint.description,
        "tags": [endpoint.tag],
        "operationId": endpoint.handler.__name__,
    }
    params = _path_parameters(endpoint.path)
    if endpoint.query is not None:
        params += _query_parameters(endpoint.query)
    if endpoint.idempotent_key:
        params.append({**_IDEMPOTENCY_KEY, "required": endpoint.idempotent_key is True})
    if params:
        op["parameters"] = params
    body = _request_body(endpoint)
    if body is not None:
        op["requestBody"] = body
    op["responses"] = _responses(endpoint)
    op["x-problem-codes"] = error_codes(endpoint)
    if endpoint.roles is not None:
        op["security"] = [{"apiKey": []}]
        op["x-roles"] = sorted(endpoint.roles)
    else:
        op["security"] = []
    return op


def _ref(model: type[BaseModel]) -> str:
    return _REF.format(model=model.__name__)


def _first_line(model: type[BaseModel]) -> str:
    return (model.__doc__ or model.__name__).strip().splitlines()[0]


def _refs(node: Any) -> list[str]:
    """Return the names of the component schemas a schema refers to."""
    if isinstance(node, dict):
        found = [node["$ref"].rsplit("/", 1)[-1]] if isinstance(node.get("$ref"), str) else []
        return found + [name for value in node.values() for name in _refs(value)]
    if isinstance(node, list):
        return [name for value in node for name in _refs(value)]
    return []


def _reachable(schemas: dict[str, Any], roots: list[str]) -> set[str]:
    """Return the schemas that answers are made of: the roots and what they refer to."""
    seen: set[str] = set()
    todo = [r for r in roots if r in schemas]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo += [r for r in _refs(schemas[name]) if r in schemas]
    return seen


def _nullable(prop: dict[str, Any]) -> bool:
    return any(option.get("type") == "null" for option in prop.get("anyOf", ())) or (
        prop.get("type") == "null"
    )


def _nulls_omitted(schema: dict[str, Any]) -> None:
    """Answers leave out null fields (`exclude_none`): a nullable field is never required."""
    props = schema.get("properties", {})
    if "required" in schema:
        schema["required"] = [n for n in schema["required"] if not _nullable(props.get(n, {}))]
        if not schema["required"]:
            del schema["required"]


def build_openapi(api: Api, version: str) -> dict[str, Any]:
    """Return the OpenAPI 3.1 document of every declared endpoint."""
    paths: dict[str, dict[str, Any]] = {}
    models: dict[str, type[BaseModel]] = {}
    for endpoint in api.endpoints:
        paths.setdefault(openapi_path(endpoint.path), {})[endpoint.method.lower()] = _operation(
            endpoint
        )
        for model in (endpoint.body, endpoint.response):
            if model is not None:
                models[model.__name__] = model
    _, defs = models_json_schema([(m, "validation") for m in models.values()], ref_template=_REF)
    schemas = dict(defs.get("$defs", {}))
    answered = [e.response.__name__ for e in api.endpoints if e.response is not None]
    for name in _reachable(schemas, answered):
        _nulls_omitted(schemas[name])
    schemas["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MaaS Gateway",
            "version": version,
            "description": (
                "Ticket sales, merged timetables and journeys, and anonymised trip flows "
                "for transport operators under the Finnish Act on Transport Services. "
                "Every error is `application/problem+json` with a stable `code`; "
                "`/problems/{code}` explains each and how to fix the request."
            ),
        },
        "servers": [{"url": "/", "description": "this gateway (the host serving this document)"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            # Each problem's example once, referred to by every operation that can answer it.
            "examples": {f"problem-{c}": _problem_example(c) for c in sorted(PROBLEM_TYPES)},
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer mk_<role>_<prefix>_<secret>`",
                }
            },
        },
    }

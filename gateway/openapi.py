"""The OpenAPI 3.1 document, generated from the declared endpoints and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from gateway.api import Api, Endpoint, openapi_path, path_params
from gateway.problems import CONTENT_TYPE as PROBLEM

_REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "code"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string", "description": "stable, machine-readable"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


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


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "operationId": endpoint.handler.__name__,
    }
    params = [
        {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
        for p in path_params(endpoint.path)
    ]
    if endpoint.query is not None:
        params += _query_parameters(endpoint.query)
    if endpoint.idempotent_key:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        )
    if params:
        op["parameters"] = params
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": _ref(endpoint.body)}}},
        }
    if endpoint.upload is not None:
        op["requestBody"] = {
            "required": True,
            "content": {endpoint.upload: {"schema": {"type": "string", "format": "binary"}}},
        }
    content: dict[str, Any] = {}
    if endpoint.response is not None:
        content["application/json"] = {"schema": {"$ref": _ref(endpoint.response)}}
    for media in endpoint.media_types:
        content[media] = {"schema": {"type": "string", "format": "binary"}}
    ok: dict[str, Any] = {"description": "OK"}
    if content:
        ok["content"] = content
    problem = {"content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    op["responses"] = {str(endpoint.status): ok, "default": {"description": "a problem", **problem}}
    if endpoint.roles is not None:
        op["security"] = [{"apiKey": []}]
        op["x-roles"] = sorted(endpoint.roles)
    else:
        op["security"] = []
    return op


def _ref(model: type[BaseModel]) -> str:
    return _REF.format(model=model.__name__)


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
    schemas["Problem"] = PROBLEM_SCHEMA
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MaaS Gateway",
            "version": version,
            "description": (
                "Ticket sales, merged timetables and journeys, and anonymised trip flows "
                "for transport operators under the Finnish Act on Transport Services."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "mk_<role>_…"}
            },
        },
    }

"""Declared endpoints: one place says a route's roles, request and response models.

The same declaration checks the caller's role, validates the query and body
with pydantic (422 naming the field), serialises the response, and feeds the
OpenAPI document, so the document can never drift from what handlers do.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from gateway.credentials import Principal, Role
from gateway.problems import Problem

Handler = Callable[..., Awaitable[web.StreamResponse | BaseModel]]
PRINCIPAL = web.RequestKey("principal", Principal)


@dataclass(frozen=True)
class Endpoint:
    """One route of the public API and everything the OpenAPI document says of it."""

    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    roles: frozenset[Role] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    media_types: tuple[str, ...] = ()
    #: True: an `Idempotency-Key` header is required; "optional": honoured when sent.
    idempotent_key: bool | Literal["optional"] = False
    upload: str | None = None
    errors: tuple[str, ...] = ()
    also: tuple[tuple[int, str], ...] = ()
    location: str | None = None

    @property
    def description(self) -> str:
        """Return what the operation does: the handler's docstring."""
        return (self.handler.__doc__ or "").strip()


class Api:
    """A registry of endpoints that mounts them on an application."""

    def __init__(self) -> None:
        self.endpoints: list[Endpoint] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        summary: str,
        tag: str,
        roles: Iterable[Role] | None = None,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: type[BaseModel] | None = None,
        status: int = 200,
        media_types: tuple[str, ...] = (),
        idempotent_key: bool | Literal["optional"] = False,
        upload: str | None = None,
        errors: tuple[str, ...] = (),
        also: tuple[tuple[int, str], ...] = (),
        location: str | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a handler for `method path`.

        `upload` names a binary body's media type; `errors` the problem codes the handler
        raises itself (those of authentication, validation and rate limits are added);
        `also` other success statuses and what each means; `location` the template of a
        201's `Location`, filled from the path's parameters and the response's fields.
        """

        def register(fn: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    path,
                    fn,
                    summary,
                    tag,
                    frozenset(roles) if roles is not None else None,
                    body,
                    query,
                    response,
                    status,
                    media_types,
                    idempotent_key,
                    upload,
                    errors,
                    also,
                    location,
                )
            )
            return fn

        return register

    def mount(self, app: web.Application) -> None:
        """Add every declared endpoint to the application's router."""
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, endpoint.path, _wrap(endpoint))


def principal(request: web.Request) -> Principal:
    """Return the authenticated caller (endpoints with roles always have one)."""
    found: Principal | None = request.get(PRINCIPAL)
    if found is None:
        raise Problem(401, "unauthorized", "Unauthorized", "an API key is required")
    return found


def require_own_operator(request: web.Request, operator_id: str) -> None:
    """Let an operator key act only on its own operator (admins act on any)."""
    caller = principal(request)
    if caller.role == "operator" and caller.operator_id != operator_id:
        raise Problem(
            403, "forbidden", "Forbidden", "an operator key acts only on its own operator"
        )


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """Serialise plain data or a pydantic model with orjson."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_none=True)
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


#: A time whose `+hh:mm` offset arrived as ` hh:mm`: a `+` in a query string means a space.
_PLUS_AS_SPACE = re.compile(r"\d{2}:\d{2}(:\d{2}(\.\d+)?)? \d{2}(:?\d{2})?$")


def _hint(where: str, value: object) -> str:
    """Return what to change in a bad value, when the mistake is a common one."""
    if where == "query" and isinstance(value, str) and _PLUS_AS_SPACE.search(value):
        fixed = value[::-1].replace(" ", "B2%", 1)[::-1]
        return f" (a + in a URL means a space: write the offset's + as %2B, e.g. {fixed})"
    return ""


def validation_problem(exc: ValidationError, where: str) -> Problem:
    """Turn a pydantic error into a 422 problem that names each bad field."""
    errors = []
    for err in exc.errors(include_url=False):
        path = where
        for part in err["loc"]:
            path += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = err["msg"] + _hint(where, err.get("input"))
        errors.append({"field": path, "message": message, "type": err["type"]})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem(422, "validation_failed", "Validation failed", detail, errors=errors)


def _check_role(request: web.Request, endpoint: Endpoint) -> None:
    if endpoint.roles is None:
        return
    caller = principal(request)
    if caller.role not in endpoint.roles:
        allowed = ", ".join(sorted(endpoint.roles))
        raise Problem(403, "forbidden", "Forbidden", f"this endpoint needs a key of role {allowed}")


async def _read_body(request: web.Request, model: type[BaseModel]) -> BaseModel:
    if request.content_type != "application/json":
        raise Problem(
            415,
            "unsupported_media_type",
            "Unsupported media type",
            f"send the body as application/json, not {request.content_type or 'nothing'}",
        )
    raw = await request.read()
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Problem(400, "invalid_json", "Invalid JSON", f"the body is not JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_problem(exc, "body") from None


def _read_query(request: web.Request, model: type[BaseModel]) -> BaseModel:
    # No query model takes a list: a repeated key would silently keep one of its values.
    repeated = sorted({k for k in request.query if len(request.query.getall(k)) > 1})
    if repeated:
        errors = [
            {
                "field": f"query.{key}",
                "message": f"given {len(request.query.getall(key))} times; give it once",
                "type": "repeated_parameter",
            }
            for key in repeated
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        raise Problem(422, "validation_failed", "Validation failed", detail, errors=errors)
    try:
        return model.model_validate(dict(request.query))
    except ValidationError as exc:
        raise validation_problem(exc, "query") from None


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        _check_role(request, endpoint)
        kwargs: dict[str, BaseModel] = {}
        if endpoint.query is not None:
            kwargs["query"] = _read_query(request, endpoint.query)
        if endpoint.body is not None:
            kwargs["body"] = await _read_body(request, endpoint.body)
        result = await endpoint.handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            response = result
        else:
            response = json_response(result, endpoint.status)
        if endpoint.location is not None and response.status == 201:
            _set_location(request, response, endpoint.location)
        return response

    handle.__name__ = endpoint.handler.__name__
    return handle


def _set_location(request: web.Request, response: web.StreamResponse, template: str) -> None:
    """Name the created resource from the path's parameters and the JSON body's fields."""
    values: dict[str, Any] = {}
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        parsed = orjson.loads(response.body)
        if isinstance(parsed, dict):
            values.update(parsed)
    values.update(request.match_info)
    quoted = {k: quote(str(v), safe=":@") for k, v in values.items()}
    response.headers.setdefault("Location", template.format_map(quoted))


_PATH_PARAM = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}")


def path_params(path: str) -> list[str]:
    """Return the names of a route's path parameters."""
    return _PATH_PARAM.findall(path)


def openapi_path(path: str) -> str:
    """Return the route with aiohttp's regex parts removed (`{id:...}` becomes `{id}`)."""
    return _PATH_PARAM.sub(lambda m: "{" + m[1] + "}", path)


api = Api()

"""JSON log lines, each carrying the id of the request it belongs to."""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, Request, StreamResponse

from gateway.clientaddr import client_address

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

_STANDARD = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = request_id_var.get()
        if request_id:
            doc["request_id"] = request_id
        doc.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def configure_logging(level: str, json_lines: bool = True) -> None:
    """Send every log record to stderr, as JSON lines unless told otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # pgserver narrates every pg_ctl call at INFO; its warnings still show.
    logging.getLogger("pgserver").setLevel(max(logging.WARNING, root.level))


#: Paths that name a traveller: logged as their route (`/v1/travellers/{ref}/data`), since
#: an erased traveller's reference must not stay behind in the logs.
_NAMES_A_TRAVELLER = "/v1/travellers/"


def _logged_path(request: BaseRequest) -> str:
    if not request.path.startswith(_NAMES_A_TRAVELLER):
        return request.path
    match_info = getattr(request, "match_info", None)
    route = None if match_info is None else match_info.route.resource
    return _NAMES_A_TRAVELLER + "..." if route is None else route.canonical


class AccessLogger(AbstractAccessLogger):
    """One structured line per request: method, path, status, duration, request id."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the access line for a finished request."""
        self.logger.info(
            "request",
            extra={
                "request_id": response.headers.get("X-Request-Id"),
                "method": request.method,
                "path": _logged_path(request),
                "status": response.status,
                "duration_ms": round(time * 1000, 2),
                "remote": (
                    client_address(request) if isinstance(request, Request) else request.remote
                ),
            },
        )

"""The access log: one structured line per request, with the request's id."""

from __future__ import annotations

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, Request, StreamResponse

from gateway.clientaddr import client_address

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

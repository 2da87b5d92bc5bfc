"""TOMP-API 1.6.1 over HTTP: `POST /bookings` and `POST /bookings/{id}/events`.

What a back-end says when it fails (its error body, its address in a connection
error) is logged for the gateway's operators and never put in the error, whose
text reaches the MaaS app: the app gets the status and a reason code. Redirects are
not followed: a 3xx is a refusal.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from operators.adapter import OperatorRefused, OperatorUnavailable
from operators.resilience import NotSent

log = logging.getLogger(__name__)
#: How much of a back-end's error body goes to the log.
LOGGED_BODY_CHARS = 500


class TompClient:
    """A thin client for one operator's TOMP back-end."""

    def __init__(
        self, session: aiohttp.ClientSession, base_url: str, token: str | None, maas_id: str
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.headers = {
            "Accept-Language": "en",
            "Api": "TOMP",
            "Api-Version": "1.6",
            "maas-id": maas_id,
        }
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    async def post(self, path: str, body: dict[str, Any], idempotency_key: str) -> Any:
        """POST JSON and return the decoded answer; map failures to the OperatorError family."""
        headers = {**self.headers, "Idempotency-Key": idempotency_key}
        return await self._request("POST", path, body, headers)

    async def get(self, path: str) -> Any:
        """GET a document (no side effects); map failures to the OperatorError family."""
        return await self._request("GET", path, None, self.headers)

    async def _request(
        self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]
    ) -> Any:
        url = self.base_url + path
        try:
            # Never followed: a 307 would post the booking again wherever the back-end
            # points, a private address or the metadata service included.
            async with self.session.request(
                method, url, json=body, headers=headers, allow_redirects=False
            ) as resp:
                if resp.status >= 300:
                    await self._log_failure(path, resp)
                if resp.status >= 500:
                    raise OperatorUnavailable(
                        f"TOMP {path}: HTTP {resp.status} ({OperatorUnavailable.reason})"
                    )
                if resp.status >= 400:
                    raise OperatorRefused(
                        f"TOMP {path}: HTTP {resp.status} ({OperatorRefused.reason})"
                    )
                if resp.status >= 300:
                    raise OperatorRefused(
                        f"TOMP {path}: HTTP {resp.status}, redirects are not followed "
                        f"({OperatorRefused.reason})"
                    )
                return await resp.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:
            log.warning("TOMP back-end unreachable", extra={"path": path, "error": str(exc)})
            raise NotSent(f"TOMP {path}: cannot connect ({NotSent.reason})") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            log.warning("TOMP back-end answer unusable", extra={"path": path, "error": repr(exc)})
            raise OperatorUnavailable(
                f"TOMP {path}: {type(exc).__name__} ({OperatorUnavailable.reason})"
            ) from exc

    async def _log_failure(self, path: str, resp: aiohttp.ClientResponse) -> None:
        """Log a failed answer with (the start of) its body, for the gateway's operators."""
        try:
            text = (await resp.text(errors="replace"))[:LOGGED_BODY_CHARS]
        except (aiohttp.ClientError, ValueError) as exc:
            text = f"(body unreadable: {type(exc).__name__})"
        log.warning(
            "TOMP back-end refused a call",
            extra={"path": path, "status": resp.status, "body": text},
        )

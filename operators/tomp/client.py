"""TOMP-API 1.6.1 over HTTP: `POST /bookings` and `POST /bookings/{id}/events`."""

from __future__ import annotations

from typing import Any

import aiohttp

from operators.adapter import OperatorRefused, OperatorUnavailable
from operators.resilience import NotSent


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
        try:
            async with self.session.post(self.base_url + path, json=body, headers=headers) as resp:
                if resp.status >= 500:
                    raise OperatorUnavailable(f"TOMP {path}: HTTP {resp.status}")
                if resp.status >= 400:
                    raise OperatorRefused(
                        f"TOMP {path}: HTTP {resp.status}: {(await resp.text())[:200]}"
                    )
                return await resp.json(content_type=None)
        except aiohttp.ClientConnectorError as exc:
            raise NotSent(f"TOMP {path}: cannot connect: {exc}") from exc
        except (aiohttp.ClientError, ValueError) as exc:
            raise OperatorUnavailable(f"TOMP {path}: {type(exc).__name__}: {exc}") from exc

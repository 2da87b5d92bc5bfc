"""What can go wrong with webhooks and the event feed; each error has a stable `code`."""

from __future__ import annotations

from typing import ClassVar


class WebhookError(Exception):
    """A request about events that cannot be answered; `detail` says why."""

    code: ClassVar[str] = "webhook_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class WebhookNotFound(WebhookError):
    """A webhook endpoint that does not exist, or belongs to someone else."""

    code = "not_found"


class UnknownEventCursor(WebhookError):
    """An `after` that names no event."""

    code = "invalid_cursor"


class DeliveryFailed(Exception):
    """A delivery that did not reach its receiver (refused address, timeout, connection)."""

"""Opaque list cursors: callers pass back what they were given, never build one."""

from __future__ import annotations

import base64
import binascii

import orjson

from gateway.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(position: int | str) -> str:
    """Return an opaque cursor for a position in a list (an offset or the last key seen)."""
    return base64.urlsafe_b64encode(orjson.dumps({"p": position})).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: type[int] | type[str]) -> int | str | None:
    """Return the position a cursor holds (None without one); 400 for a cursor not ours."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = orjson.loads(base64.urlsafe_b64decode(padded))["p"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        position = None
    if not isinstance(position, kind) or isinstance(position, bool):
        raise Problem(400, "invalid_cursor", "Invalid cursor", "pass back a cursor you were given")
    return position


def decode_offset(cursor: str | None) -> int:
    """Return the offset a cursor holds (0 without one)."""
    offset = decode_cursor(cursor, int)
    if isinstance(offset, int) and offset >= 0:
        return offset
    if offset is None:
        return 0
    raise Problem(400, "invalid_cursor", "Invalid cursor", "pass back a cursor you were given")

"""Opaque list cursors: callers pass back what they were given, never build one."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

import orjson

from gateway.problems import Problem

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(position: int | str | list[str]) -> str:
    """Return an opaque cursor for a position in a list (an offset or the last key seen)."""
    return base64.urlsafe_b64encode(orjson.dumps({"p": position})).decode().rstrip("=")


def decode_cursor(
    cursor: str | None, kind: type[int] | type[str] | type[list[str]]
) -> int | str | list[str] | None:
    """Return the position a cursor holds (None without one); 400 for a cursor not ours."""
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = orjson.loads(base64.urlsafe_b64decode(padded))["p"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        position = None
    if not isinstance(position, kind) or isinstance(position, bool):
        raise _invalid()
    return position


def decode_offset(cursor: str | None) -> int:
    """Return the offset a cursor holds (0 without one)."""
    offset = decode_cursor(cursor, int)
    if isinstance(offset, int) and offset >= 0:
        return offset
    if offset is None:
        return 0
    raise _invalid()


def encode_time_id(created_at: datetime, ident: uuid.UUID) -> str:
    """Return the cursor after an object listed by (creation time, id)."""
    return encode_cursor([created_at.isoformat(), str(ident)])


def decode_time_id(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """Return the (creation time, id) a cursor holds (None without one)."""
    position = decode_cursor(cursor, list)
    if not isinstance(position, list):
        return None
    try:
        created, ident = position
        return datetime.fromisoformat(created), uuid.UUID(ident)
    except (TypeError, ValueError):
        raise _invalid() from None


def encode_keys(*keys: str) -> str:
    """Return the cursor after an object listed by a tuple of text keys (name, time, ...)."""
    return encode_cursor(list(keys))


def decode_keys(cursor: str | None, count: int) -> tuple[str, ...] | None:
    """Return the `count` text keys a cursor holds (None without one)."""
    position = decode_cursor(cursor, list)
    if not isinstance(position, list):
        return None
    if len(position) != count or not all(isinstance(k, str) for k in position):
        raise _invalid()
    return tuple(position)


def encode_time_key(created_at: datetime, key: str) -> str:
    """Return the cursor after an object listed by (creation time, a unique text key)."""
    return encode_keys(created_at.isoformat(), key)


def decode_time_key(cursor: str | None) -> tuple[datetime, str] | None:
    """Return the (creation time, key) a cursor holds (None without one)."""
    keys = decode_keys(cursor, 2)
    if keys is None:
        return None
    try:
        return datetime.fromisoformat(keys[0]), keys[1]
    except ValueError:
        raise _invalid() from None


def _invalid() -> Problem:
    return Problem(400, "invalid_cursor", "Invalid cursor", "pass back a cursor you were given")

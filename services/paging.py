"""Cursor pagination for every list the shop and the API return: a page of items and an opaque
cursor for the next one (keyset: the last item's sort key and id, so pages never repeat or skip
a row while rows are added), signed so that a cursor made up or altered by a client is refused
(InvalidCursor), never handed to the database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from flask import current_app

from models.errors import InvalidCursor

T = TypeVar("T")
MAX_CURSOR = 512  # characters: far more than any real cursor


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # None: this is the last page


def encode_cursor(kind: str, key: list[Any]) -> str:
    """An opaque cursor for list `kind` after the row with sort key `key` (JSON values)."""
    body = json.dumps([kind, key], separators=(",", ":"), ensure_ascii=False).encode()
    return _b64(body) + "." + _b64(_mac(body)[:12])


def decode_cursor(kind: str, cursor: str | None) -> list[Any] | None:
    """The sort key a cursor of list `kind` holds; None for no cursor (the first page)."""
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR or cursor.count(".") != 1:
        raise InvalidCursor("not a cursor")
    body_text, mac_text = cursor.split(".")
    try:
        body, mac = _unb64(body_text), _unb64(mac_text)
    except ValueError as e:
        raise InvalidCursor("not a cursor") from e
    if not hmac.compare_digest(mac, _mac(body)[:12]):
        raise InvalidCursor("a cursor this server did not make")
    try:
        found_kind, key = json.loads(body)
    except (ValueError, TypeError) as e:
        raise InvalidCursor("not a cursor") from e
    if found_kind != kind or not isinstance(key, list):
        raise InvalidCursor("a cursor of another list")
    return key


def page_limit(limit: object, maximum: int = 50) -> int:
    """A page size from outside: 1..maximum, else InvalidCursor (a 400 at the edges)."""
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= maximum:
        raise InvalidCursor(f"the page size is 1 to {maximum}", reason="limit")
    return limit


def _mac(body: bytes) -> bytes:
    key = hashlib.sha256(b"fenxiao-cursor:" + current_app.secret_key.encode()).digest()
    return hmac.new(key, body, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not text.isascii():
        raise ValueError("empty")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

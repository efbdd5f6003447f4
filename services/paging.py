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
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy import tuple_

from models import db
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


def keyset_page(
    query,
    id_column,
    cursor: str | None,
    limit: int = 50,
    *,
    sort_column=None,
    descending: bool = True,
    kind: str | None = None,
) -> Page:
    """One page of `query`'s rows ordered by (sort_column, id), newest or largest first unless
    `descending` is False; the cursor holds the last row's key. A sort on a nullable column is
    not supported (a NULL key cannot be compared past)."""
    limit = page_limit(limit, 200)
    kind = kind or f"{id_column.table.name}:{getattr(sort_column, 'key', 'id')}:{descending}"
    after = decode_cursor(kind, cursor)
    columns = [c for c in (sort_column, id_column) if c is not None]
    if after is not None:
        if len(after) != len(columns):
            raise InvalidCursor("a cursor of another list")
        values = [_key_value(c, v) for c, v in zip(columns, after, strict=True)]
        query = query.where(_after(columns, values, descending))
    order = [c.desc() if descending else c.asc() for c in columns]
    rows = list(db.session.scalars(query.order_by(*order).limit(limit + 1)))
    more, rows = len(rows) > limit, rows[:limit]
    if not more or not rows:
        return Page(rows, None)
    last = rows[-1]
    key = [_json_value(getattr(last, c.key)) for c in columns]
    return Page(rows, encode_cursor(kind, key))


def _after(columns, values, descending: bool):
    """Rows past (values) in the (columns) order, as a row-value comparison: (a, b) < (x, y).
    Both PostgreSQL and SQLite (3.15 on) read it as one range of an index on (a, b), where the
    spelled-out `a < x OR (a = x AND b < y)` makes PostgreSQL filter the index from its start."""
    if len(columns) == 1:
        return columns[0] < values[0] if descending else columns[0] > values[0]
    row, past = tuple_(*columns), tuple_(*values)
    return row < past if descending else row > past


def _json_value(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _key_value(column, value):
    if isinstance(value, str) and _is_time(column):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as e:
            raise InvalidCursor("not a cursor") from e
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidCursor("not a cursor")
    return value


def _is_time(column) -> bool:
    kind = getattr(column.type, "impl_instance", column.type)  # TZDateTime: its DateTime
    try:
        return kind.python_type is datetime
    except NotImplementedError:
        return False


def sort_key(key: list, is_time: bool) -> tuple:
    """The (sort value, id) a decoded cursor holds, read back to the column's type: an aware
    time from its ISO text, or a whole number; InvalidCursor for anything else."""
    row_id = key[1] if len(key) == 2 else None
    if not isinstance(row_id, int) or isinstance(row_id, bool) or row_id < 1:
        raise InvalidCursor("not a cursor of this list")
    value = key[0]
    if is_time:
        try:
            value = datetime.fromisoformat(value) if isinstance(value, str) else None
        except ValueError:
            value = None
        if value is None or value.utcoffset() is None:
            raise InvalidCursor("not a cursor of this list")
    elif not isinstance(value, int) or isinstance(value, bool):
        raise InvalidCursor("not a cursor of this list")
    return value, row_id

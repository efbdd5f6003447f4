"""The hottest database reads, at the least cost a read can have: the webhook's sender, and the
shop's product page.

Every message reads its sender, and `收益` their earnings. Both come from one statement. On
PostgreSQL it runs on a connection of the serving thread's own, kept for the thread's life,
in autocommit (no BEGIN or ROLLBACK: one round trip), as a statement prepared once per
connection (no parse or plan per message), with every figure cast to bigint. It is executed
through psycopg's libpq layer (`psycopg.pq`: PQexecPrepared, which releases the GIL) and its
13 text columns (a `SenderRow`) read directly. Measured on the webhook benchmark: a pool
check-out and check-in cost as much as the query, and the cursor layer (query conversion,
adapters, result machinery) another 6 % of a `收益`; neither is needed for one fixed
statement. On SQLite the statement runs on the app's session, where none of that costs
anything worth saving. The earnings columns are services.lookups' one earnings query.

The shop's product page is read the same way (`read_row`, with services.catalog's statement):
each request of a link opened from a poster is a new visitor and, over a large catalogue, most
often a product no cache holds. Measured on bench/shop_bench.py, the read through the session
(a pool check-out, BEGIN, the statement planned afresh, ROLLBACK) cost about 0.6 ms of
PostgreSQL's CPU and 0.3 ms of the worker's, as much as the rest of the page's database work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import NamedTuple

import psycopg
from flask import current_app
from psycopg.pq import ConnStatus, ExecStatus
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import db
from services.lookups import Earnings, earnings_columns

_ENGINE = "fenxiao.hot_reads"
COMMAND_OK, TUPLES_OK = ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK
APPLICATION_NAME = "fenxiao-webhook-reads"  # as pg_stat_activity shows these connections


class SenderRow(NamedTuple):
    """What the webhook reads of a message's sender: the user, their distributor (None for a
    user who is not one) and that distributor's earnings (services.lookups.Earnings)."""

    user_id: int
    openid: str
    nickname: str | None
    language: str | None
    distributor_id: int | None
    status: str | None
    code: str | None
    available_fen: int | None
    pending_fen: int | None
    held_fen: int | None
    withdrawn_fen: int | None
    today_fen: int | None
    month_fen: int | None

    @property
    def earnings(self) -> Earnings | None:
        if self.distributor_id is None:
            return None
        return Earnings(*self[EARNINGS_AT:])


EARNINGS_AT = SenderRow._fields.index("available_fen")
_SELECT = (
    "SELECT u.id, u.openid, u.nickname, u.language, d.id, d.status, d.code, {earnings} "
    "FROM users u LEFT JOIN distributors d ON d.user_id = u.id WHERE u.openid = {openid}"
)
# $1 the openid, $2 today and $3 the first of the month (China days).
SENDER_POSTGRES = _SELECT.format(earnings=earnings_columns("d.id", "$2", "$3"), openid="$1")
SENDER_SQLITE = text(
    _SELECT.format(earnings=earnings_columns("d.id", ":today", ":start"), openid=":openid")
)


def sender_row(openid: str, today: date) -> SenderRow | None:
    if db.engine.dialect.name != "postgresql":
        params = {"openid": openid, "today": today, "start": today.replace(day=1)}
        row = db.session.execute(SENDER_SQLITE, params).first()
        return None if row is None else SenderRow(*row)
    return _connections().sender_row((openid, today, today.replace(day=1)))


class ThreadConnections:
    """One autocommit connection per serving thread (a sync worker has one thread, gthread a
    few), opened on first use. A read can't leave anything half-done, so after any error (the
    server dropped the connection, or a migration changed what the prepared statement
    returns) the connection is replaced and the read tried once more."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.local = threading.local()

    def sender_row(self, params: tuple) -> SenderRow | None:
        openid, today, start = params
        row = self.first_row(
            SENDER, [openid.encode(), today.isoformat().encode(), start.isoformat().encode()]
        )
        return None if row is None else SenderRow(*row)

    def first_row(self, read: PreparedRead, params: list[bytes]) -> tuple | None:
        try:
            return self._run(read, params)
        except psycopg.Error:
            self.close()
            return self._run(read, params)

    def _run(self, read: PreparedRead, params: list[bytes]) -> tuple | None:
        connection = getattr(self.local, "connection", None)
        if connection is None or connection.closed:
            connection = psycopg.connect(
                self.dsn,
                autocommit=True,
                application_name=APPLICATION_NAME,
                client_encoding="utf8",  # the text columns are decoded as UTF-8
            )
            self.local.connection, self.local.prepared = connection, set()
        if read.name not in self.local.prepared:
            result = connection.pgconn.prepare(read.name, read.sql.encode(), None)
            _check(connection, result, COMMAND_OK)
            self.local.prepared.add(read.name)
        result = connection.pgconn.exec_prepared(read.name, params)
        _check(connection, result, TUPLES_OK)
        if not result.ntuples:
            return None
        value = result.get_value
        return tuple(
            None if (raw := value(0, i)) is None else convert(raw)
            for i, convert in enumerate(read.columns)
        )

    def close(self) -> None:
        connection = getattr(self.local, "connection", None)
        self.local.connection = None
        if connection is not None:
            connection.close()


class PreparedRead(NamedTuple):
    """A statement prepared once per connection under `name`, with how each of its columns
    reads from PostgreSQL's text format."""

    name: bytes
    sql: str
    columns: tuple[Callable[[bytes], object], ...]


# The sender: ids and fen as int, the rest as text.
SENDER = PreparedRead(
    b"fenxiao_sender",
    SENDER_POSTGRES,
    (int, *(bytes.decode,) * 3, int, *(bytes.decode,) * 2, *(int,) * 6),
)


def first_row(read: PreparedRead, params: list[bytes]) -> tuple | None:
    """PostgreSQL only: the first row of a prepared read on this thread's own connection
    (params in text format, None for NULL), or None for no row."""
    return _connections().first_row(read, params)


def _check(connection, result, expected) -> None:
    if result.status != expected:
        message = result.get_error_message()
        if connection.pgconn.status != ConnStatus.OK:
            raise psycopg.OperationalError(message)
        raise psycopg.DatabaseError(message)


def _connections() -> ThreadConnections:
    connections = current_app.extensions.get(_ENGINE)
    if connections is None:
        url = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"])
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connections = current_app.extensions[_ENGINE] = ThreadConnections(dsn)
    return connections


def dispose(app) -> None:
    """Close this thread's connection (tests, shutting an app down)."""
    connections = app.extensions.get(_ENGINE)
    if connections is not None:
        connections.close()

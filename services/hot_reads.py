"""The webhook's one database read, at the least cost a read can have.

Every message reads its sender, and `收益` their earnings. Both come from one statement. On
PostgreSQL it runs on a connection of the serving thread's own, kept for the thread's life,
in autocommit (no BEGIN or ROLLBACK: one round trip), as a server-side prepared statement (no
parse or plan per message), through one reused cursor, with every figure cast to bigint (an
int to read, not a numeric to parse as Decimal). Measured: a pool checkout and check-in cost
as much as the query itself, so there is none. On SQLite the statement runs on the app's
session, where none of that costs anything worth saving.
"""

from __future__ import annotations

import threading
from datetime import date

import psycopg
from flask import current_app
from sqlalchemy import text
from sqlalchemy.engine import make_url

from models import db
from models.ledger import AVAILABLE, HELD, PAID_OUT, PENDING

_ENGINE = "fenxiao.hot_reads"
APPLICATION_NAME = "fenxiao-webhook-reads"  # as pg_stat_activity shows these connections

# (user id, openid, nickname, language, distributor id, status, code, then the earnings: the
# available, pending, held and paid-out balances, earned today, earned this month), for
# $1 the openid, $2 today and $3 the first of the month.
_ACCOUNT_KINDS = (AVAILABLE, PENDING, HELD, PAID_OUT)
SENDER_POSTGRES = (
    "SELECT u.id, u.openid, u.nickname, u.language, d.id, d.status, d.code, a.*, dd.* "
    "FROM users u LEFT JOIN distributors d ON d.user_id = u.id "
    "LEFT JOIN LATERAL (SELECT "
    + ", ".join(
        f"COALESCE(SUM(balance_fen) FILTER (WHERE kind = '{kind}'), 0)::bigint"
        for kind in _ACCOUNT_KINDS
    )
    + " FROM ledger_accounts WHERE distributor_id = d.id) AS a ON d.id IS NOT NULL "
    "LEFT JOIN LATERAL (SELECT COALESCE(SUM(earned_fen) FILTER (WHERE day = $2), 0)::bigint, "
    "COALESCE(SUM(earned_fen), 0)::bigint FROM distributor_days "
    "WHERE distributor_id = d.id AND day >= $3 AND day <= $2) AS dd "
    "ON d.id IS NOT NULL WHERE u.openid = $1"
)
SENDER_SQLITE = text(
    "SELECT u.id, u.openid, u.nickname, u.language, d.id, d.status, d.code, "
    + "".join(
        f"(SELECT COALESCE(SUM(balance_fen), 0) FROM ledger_accounts "
        f"WHERE distributor_id = d.id AND kind = '{kind}'), "
        for kind in _ACCOUNT_KINDS
    )
    + "(SELECT COALESCE(SUM(earned_fen), 0) FROM distributor_days "
    "WHERE distributor_id = d.id AND day = :today), "
    "(SELECT COALESCE(SUM(earned_fen), 0) FROM distributor_days "
    "WHERE distributor_id = d.id AND day >= :start AND day <= :today) "
    "FROM users u LEFT JOIN distributors d ON d.user_id = u.id WHERE u.openid = :openid"
)


def sender_row(openid: str, today: date) -> tuple | None:
    if db.engine.dialect.name != "postgresql":
        params = {"openid": openid, "today": today, "start": today.replace(day=1)}
        return db.session.execute(SENDER_SQLITE, params).first()
    return _connections().sender_row((openid, today, today.replace(day=1)))


class ThreadConnections:
    """One autocommit connection per serving thread (a sync worker has one thread, gthread a
    few), opened on first use. A read can't leave anything half-done, so a connection the
    server dropped (restart, idle timeout) is replaced and the read tried once more."""

    def __init__(self, dsn: str):
        self.dsn = dsn
        self.local = threading.local()

    def sender_row(self, params: tuple) -> tuple | None:
        try:
            return self._run(params)
        except psycopg.OperationalError:
            self.close()
            return self._run(params)

    def _run(self, params: tuple) -> tuple | None:
        cursor = getattr(self.local, "cursor", None)
        if cursor is None or cursor.closed or cursor.connection.closed:
            connection = psycopg.connect(
                self.dsn, autocommit=True, application_name=APPLICATION_NAME
            )
            cursor = self.local.cursor = psycopg.RawCursor(connection)
        cursor.execute(SENDER_POSTGRES, params, prepare=True)
        return cursor.fetchone()

    def close(self) -> None:
        cursor = getattr(self.local, "cursor", None)
        self.local.cursor = None
        if cursor is not None:
            cursor.connection.close()


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

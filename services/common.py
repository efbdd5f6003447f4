"""Helpers shared by the services: the unit of work, the merchant's settings, the clock, locks."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from models import Merchant, db
from models.base import begin_write

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991
DEMO_MERCHANT_SLUG = "demo"


def now() -> datetime:
    return datetime.now(UTC)


def china_day(at: datetime) -> date:
    """The calendar day in China: 'today' and 'this month' are the merchant's, not UTC's."""
    return at.astimezone(CHINA).date()


def china_day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).astimezone(UTC)


@contextlib.contextmanager
def unit_of_work() -> Iterator:
    """Commit once at the end, or roll back on any error and re-raise."""
    session = db.session
    begin_write(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def merchant() -> Merchant:
    """The installation's merchant, created with default settings on first use."""
    found = db.session.scalar(select(Merchant).order_by(Merchant.id).limit(1))
    if found is None:
        found = Merchant(slug=DEMO_MERCHANT_SLUG, name="Fenxiao")
        db.session.add(found)
        db.session.flush()
    return found


def is_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def for_update(stmt, skip_locked: bool = False):
    """Row locks on PostgreSQL; SQLite already holds its write lock from BEGIN IMMEDIATE.

    FOR NO KEY UPDATE, not FOR UPDATE: rows that others reference by foreign key (orders,
    distributors, accounts) must stay lockable by the KEY SHARE locks that inserting a
    referencing row takes, or two transactions deadlock.
    """
    if not is_postgres():
        return stmt
    return stmt.with_for_update(skip_locked=skip_locked, key_share=True)


def upsert(table, values: list[dict], keys: list[str], increments: list[str]):
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET col = col + excluded.col, on either backend."""
    dialect = postgresql if is_postgres() else sqlite
    stmt = dialect.insert(table).values(values)
    return stmt.on_conflict_do_update(
        index_elements=keys,
        set_={c: table.c[c] + stmt.excluded[c] for c in increments},
    )


def insert_ignore(table, values: list[dict], keys: list[str]):
    """INSERT ... ON CONFLICT (keys) DO NOTHING, on either backend."""
    dialect = postgresql if is_postgres() else sqlite
    return dialect.insert(table).values(values).on_conflict_do_nothing(index_elements=keys)

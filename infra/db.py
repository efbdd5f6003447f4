"""The unit of work and the SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from models import db
from models.base import begin_write
from models.errors import NotFound


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


def locked_or_not_found(model, row_id: int, what: str):
    """The row with `row_id`, locked for this transaction (see for_update), or NotFound."""
    row = db.session.scalar(for_update(select(model).where(model.id == row_id)))
    if row is None:
        raise NotFound(f"no such {what}", what=what)
    return row

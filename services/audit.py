"""The console's audit log: every change made from the console, written with the change.

A console view runs its service call inside `acting(actor, "withdrawal.approve")`. While it
runs, each flush writes one AuditEntry per audited record it inserts, updates or deletes: the
columns that changed, from what to what, with who, from where and when. The rows go out on
the flush's own connection, so they commit or roll back with the change itself, and no service
has to remember to write them. Audit entries are never updated or deleted through the ORM
(AuditImmutable).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

import models
from infra.clock import now
from models import AuditEntry, db
from models.errors import AuditImmutable
from services.paging import Page, keyset_page

# What touches money, rules, people or stock. Ledger rows are not listed: they are written by
# the services the audited actions call, and carry their own references.
AUDITED = (
    models.Binding,
    models.Category,
    models.CommissionCampaign,
    models.Coupon,
    models.Distributor,
    models.Merchant,
    models.Order,
    models.OrderLine,
    models.PosterTemplate,
    models.Product,
    models.ProductPhoto,
    models.PromoImage,
    models.PromoMaterial,
    models.RefundRequest,
    models.RuleSet,
    models.Sku,
    models.StaffUser,
    models.Tier,
    models.Withdrawal,
)
HIDDEN = frozenset({"password_hash", "session_token"})


@dataclass(frozen=True)
class Actor:
    staff_id: int | None
    staff_name: str
    ip: str = ""


@dataclass
class _Acting:
    actor: Actor
    action: str
    written: int = field(default=0)


_current: ContextVar[_Acting | None] = ContextVar("fenxiao_audit_acting", default=None)


@contextlib.contextmanager
def acting(actor: Actor, action: str) -> Iterator[_Acting]:
    """Audit every change flushed inside the block as `action` by `actor`."""
    token = _current.set(_Acting(actor, action[:48]))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def install_listeners() -> None:
    """Called once by web.install_listeners_and_handlers."""
    if not event.contains(Session, "before_flush", _refuse_edits):
        event.listen(Session, "before_flush", _refuse_edits)
        event.listen(Session, "after_flush", _write_entries)


def _refuse_edits(session: Session, _context, _instances) -> None:
    for row in (*session.dirty, *session.deleted):
        if isinstance(row, AuditEntry) and (row in session.deleted or session.is_modified(row)):
            raise AuditImmutable("audit entries cannot be changed or removed")


def _write_entries(session: Session, _context) -> None:
    acting_now = _current.get()
    if acting_now is None:
        return
    at, actor = now(), acting_now.actor
    rows = []
    for kind, objects in (
        ("new", session.new),
        ("dirty", session.dirty),
        ("deleted", session.deleted),
    ):
        for row in objects:
            if not isinstance(row, AUDITED):
                continue
            before, after = _change(row, kind)
            if before is None and after is None:
                continue
            rows.append(
                {
                    "staff_id": actor.staff_id,
                    "staff_name": actor.staff_name[:32],
                    "action": acting_now.action,
                    "entity": row.__tablename__,
                    "entity_id": _row_id(row),
                    "before": before,
                    "after": after,
                    "ip": actor.ip[:45],
                    "created_at": at,
                }
            )
    if rows:
        session.connection().execute(insert(AuditEntry.__table__), rows)
        acting_now.written += len(rows)


def _row_id(row) -> int | None:
    """The row's id: read from the instance, as an insert's id is there by the after-flush
    hook while its identity key is not registered yet."""
    key = inspect(row).mapper.primary_key_from_instance(row)
    return key[0] if len(key) == 1 and isinstance(key[0], int) else None


def _change(row, kind: str) -> tuple[dict | None, dict | None]:
    state = inspect(row)
    if kind == "new":
        return None, {a.key: _plain(a.key, getattr(row, a.key)) for a in state.mapper.column_attrs}
    if kind == "deleted":
        return {a.key: _plain(a.key, getattr(row, a.key)) for a in state.mapper.column_attrs}, None
    before, after = {}, {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[attr.key], after[attr.key] = _plain(attr.key, old), _plain(attr.key, new)
    return (before, after) if after else (None, None)


def _plain(key: str, value):
    """A value as JSON can hold it: secrets hidden, bytes by size, times as ISO text."""
    if key in HIDDEN:
        return "***"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def entries(
    *,
    staff_id: int | None = None,
    action: str | None = None,
    entity: str | None = None,
    entity_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> Page[AuditEntry]:
    """The log, newest (or oldest) first, filtered, a keyset page at a time."""
    query = _filtered(staff_id, action, entity, entity_id)
    return keyset_page(query, AuditEntry.id, cursor, limit, descending=newest_first)


def all_entries(**filters):
    """Every entry the filters select (those of `entries`), in order, a page at a time (the
    CSV export: a long log never sits whole in memory)."""
    cursor = None
    while True:
        page = entries(**filters, cursor=cursor, limit=200)
        yield from page.items
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def _filtered(staff_id, action, entity, entity_id):
    query = select(AuditEntry)
    if staff_id is not None:
        query = query.where(AuditEntry.staff_id == staff_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if entity:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    return query


def for_record(entity: str, entity_id: int, limit: int = 100) -> list[AuditEntry]:
    return list(
        db.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.entity == entity, AuditEntry.entity_id == entity_id)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    )

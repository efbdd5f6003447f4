"""Publishing domain events after commit. The bot registers handlers (template messages)."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import select, update

from models import DomainEvent, db
from models.base import begin_write
from services.common import is_postgres, now

log = logging.getLogger(__name__)

HANDLERS: dict[str, list[Callable[[DomainEvent], None]]] = defaultdict(list)
BATCH = 500


def subscribe(kind: str, handler: Callable[[DomainEvent], None]) -> None:
    if handler not in HANDLERS[kind]:
        HANDLERS[kind].append(handler)


def publish_pending(batch: int = BATCH) -> int:
    """Hand unpublished events to their handlers, oldest first, and mark them published.

    Handlers only enqueue further jobs (which are idempotent), so a crash between a handler and
    the commit at worst enqueues a job twice, never sends twice.
    """
    published = 0
    while True:
        begin_write()
        stmt = (
            select(DomainEvent)
            .where(DomainEvent.published_at.is_(None))
            .order_by(DomainEvent.id)
            .limit(batch)
        )
        if is_postgres():
            stmt = stmt.with_for_update(skip_locked=True)
        events = db.session.scalars(stmt).all()
        if not events:
            db.session.rollback()
            return published
        for event in events:
            for handler in HANDLERS.get(event.kind, ()):
                handler(event)
        db.session.execute(
            update(DomainEvent)
            .where(DomainEvent.id.in_([e.id for e in events]))
            .values(published_at=now()),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
        published += len(events)

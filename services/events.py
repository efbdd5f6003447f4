"""Domain events: recorded in the caller's transaction, published after commit by a job.

Publishing hands each event to the handlers subscribed to its kind. The handlers are installed
in one place (`web.create_app`), and every kind must have one: recording or publishing a kind
that nothing handles is an error, never a silent "published".
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from infra.clock import now
from infra.db import is_postgres
from infra.jobs import enqueue_after_commit
from models import DomainEvent, db
from models.base import begin_write
from models.errors import DomainError

PUBLISH_JOB = "workers.events.publish_pending"
_SCHEDULED = "fenxiao.publish_scheduled"
BATCH = 500

Handler = Callable[[DomainEvent], None]
HANDLERS: dict[str, list[Handler]] = defaultdict(list)


class UnhandledEvent(DomainError):
    """An event kind with no handler subscribed: a wiring mistake, caught where it happens."""


def subscribe(kind: str, handler: Handler) -> None:
    if handler not in HANDLERS[kind]:
        HANDLERS[kind].append(handler)


def require_handler(kind: str) -> None:
    """Refuse to record a kind nothing handles (record_event, and settlement's bulk events)."""
    if not HANDLERS.get(kind):
        raise UnhandledEvent(f"no handler is subscribed to {kind!r} events")


def record_event(kind: str, distributor_id: int | None = None, **payload) -> DomainEvent:
    require_handler(kind)
    event_row = DomainEvent(kind=kind, distributor_id=distributor_id, payload=payload)
    db.session.add(event_row)
    schedule_publish()
    return event_row


def schedule_publish() -> None:
    """Ask for one publish run after this transaction commits (at most one per transaction)."""
    session = db.session()
    if not session.info.get(_SCHEDULED):
        session.info[_SCHEDULED] = True
        enqueue_after_commit(PUBLISH_JOB, queue="default", session=session)


def publish_pending(batch: int = BATCH) -> int:
    """Hand unpublished events to their handlers, oldest first, and mark them published.

    Handlers only enqueue further jobs (which are idempotent), so a crash between a handler and
    the commit at worst enqueues a job twice, never sends twice. A batch that holds a kind with
    no handler is rolled back whole and the error raised, so the job fails loudly and retries.
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
        try:
            for row in events:
                _hand_out(row)
        except BaseException:
            db.session.rollback()
            raise
        db.session.execute(
            update(DomainEvent)
            .where(DomainEvent.id.in_([e.id for e in events]))
            .values(published_at=now()),
            execution_options={"synchronize_session": False},
        )
        db.session.commit()
        published += len(events)


def _hand_out(row: DomainEvent) -> None:
    handlers = HANDLERS.get(row.kind)
    if not handlers:
        raise UnhandledEvent(f"event {row.id} of kind {row.kind!r} has no handler")
    for handler in handlers:
        handler(row)


def _forget_schedule(session, *_):
    session.info.pop(_SCHEDULED, None)


def install_listeners() -> None:
    """A publish is asked for once per transaction: the mark ends with the transaction."""
    for name in ("after_commit", "after_soft_rollback"):
        if not event.contains(Session, name, _forget_schedule):
            event.listen(Session, name, _forget_schedule)

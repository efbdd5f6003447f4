"""Recording domain events: written in the caller's transaction, published by a job after commit."""

from __future__ import annotations

from models import DomainEvent, db
from workers.queues import enqueue_after_commit

PUBLISH_JOB = "workers.events.publish_pending"


def record_event(kind: str, distributor_id: int | None = None, **payload) -> DomainEvent:
    event = DomainEvent(kind=kind, distributor_id=distributor_id, payload=payload)
    db.session.add(event)
    schedule_publish()
    return event


def schedule_publish() -> None:
    """Ask for one publish run after this transaction commits (at most one per transaction)."""
    session = db.session()
    if not session.info.get("fenxiao.publish_scheduled"):
        session.info["fenxiao.publish_scheduled"] = True
        enqueue_after_commit(PUBLISH_JOB, queue="default", session=session)


def _reset(session, *_):
    session.info.pop("fenxiao.publish_scheduled", None)


def _install_listeners() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_commit", _reset)
    event.listen(Session, "after_soft_rollback", _reset)


_install_listeners()

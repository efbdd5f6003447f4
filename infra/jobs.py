"""Queues, the default retry policy, and enqueueing only after the database commits."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rq import Queue, Retry
from sqlalchemy import event
from sqlalchemy.orm import Session

from infra.redis_client import get_redis
from models import db

log = logging.getLogger(__name__)

HIGH, DEFAULT, LOW = "high", "default", "low"
# Listed in priority order: a worker always drains `high` (replies a user waits for) first.
QUEUE_NAMES = (HIGH, DEFAULT, LOW)

DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])
DEFAULT_JOB_TIMEOUT = 300

_PENDING = "fenxiao.jobs_after_commit"


def get_queue(name: str = DEFAULT) -> Queue:
    if name not in QUEUE_NAMES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis())


@dataclass
class PendingJob:
    queue: Queue
    func: Callable[..., Any] | str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    def enqueue(self):
        options = {"retry": DEFAULT_RETRY, "timeout": DEFAULT_JOB_TIMEOUT, **self.options}
        return self.queue.enqueue_call(self.func, args=self.args, kwargs=self.kwargs, **options)


def enqueue_after_commit(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = DEFAULT,
    kwargs: dict | None = None,
    session: Session | None = None,
    **options: Any,
) -> None:
    """Enqueue `func(*args, **kwargs)` once the current transaction commits; drop it on rollback.

    A job enqueued before commit can run before its rows are visible, or run for a transaction
    that then rolls back. `options` are RQ's (job_id, retry, timeout, at_front, ...).
    """
    session = session or db.session()
    pending = PendingJob(get_queue(queue), func, tuple(args), dict(kwargs or {}), options)
    session.info.setdefault(_PENDING, []).append(pending)


def _enqueue_pending(session: Session) -> None:
    for job in session.info.pop(_PENDING, []):
        try:
            job.enqueue()
        except Exception:
            # The data is committed; the job is lost unless something re-derives it. Jobs in this
            # project are written so a periodic sweep can (e.g. settlement re-scans by state).
            log.exception("could not enqueue %s%r after commit", job.func, job.args)


def _drop_pending(session: Session, _previous_transaction) -> None:
    if not session.in_transaction():
        session.info.pop(_PENDING, None)


def install_listeners() -> None:
    """Jobs go out when their transaction commits and are dropped when it rolls back."""
    for name, listener in (
        ("after_commit", _enqueue_pending),
        ("after_soft_rollback", _drop_pending),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


def log_failed_job(job, exc_type, exc_value, _tb) -> bool:
    """Worker exception handler: every failure is logged with the job's arguments."""
    log.error(
        "job %s failed: %s(args=%r, kwargs=%r) on queue %s: %s: %s",
        job.id,
        job.func_name,
        job.args,
        job.kwargs,
        job.origin,
        exc_type.__name__,
        exc_value,
    )
    return True  # go on to RQ's handler: retry or the failed-job registry

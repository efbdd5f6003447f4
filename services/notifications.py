"""Which domain events become a template message to the distributor (sent by an RQ job)."""

from __future__ import annotations

from infra.jobs import get_queue
from models import DomainEvent
from models.events import (
    APPLICATION_APPROVED,
    APPLICATION_REJECTED,
    COMMISSION_PENDING,
    COMMISSION_REVERSED,
    COMMISSION_SETTLED,
    TIER_UPGRADED,
    WITHDRAWAL_FAILED,
    WITHDRAWAL_PAID,
    WITHDRAWAL_REJECTED,
    WITHDRAWAL_WAITING_USER,
)
from services.events import subscribe

NOTIFY_JOB = "workers.notifications.notify"
NOTIFIED_KINDS = (
    APPLICATION_APPROVED,
    APPLICATION_REJECTED,
    COMMISSION_PENDING,
    COMMISSION_SETTLED,
    COMMISSION_REVERSED,
    WITHDRAWAL_PAID,
    WITHDRAWAL_FAILED,
    WITHDRAWAL_REJECTED,
    WITHDRAWAL_WAITING_USER,
    TIER_UPGRADED,
)


def enqueue_notification(event: DomainEvent) -> None:
    # A fixed job id: publishing the same event twice queues one notification.
    get_queue("default").enqueue(NOTIFY_JOB, event.id, job_id=f"notify-{event.id}")


def subscribe_all() -> None:
    for kind in NOTIFIED_KINDS:
        subscribe(kind, enqueue_notification)

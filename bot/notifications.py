"""Domain events become template messages to the distributor, sent by an RQ job."""

from __future__ import annotations

from workers.events import subscribe
from workers.queues import get_queue

NOTIFY_JOB = "workers.notifications.notify"
NOTIFIED_KINDS = (
    "application_approved",
    "application_rejected",
    "commission_pending",
    "commission_settled",
    "commission_reversed",
    "withdrawal_paid",
    "withdrawal_failed",
    "withdrawal_rejected",
    "tier_upgraded",
)


def _enqueue(event) -> None:
    # A fixed job id: publishing the same event twice queues one notification.
    get_queue("default").enqueue(NOTIFY_JOB, event.id, job_id=f"notify-{event.id}")


def register() -> None:
    for kind in NOTIFIED_KINDS:
        subscribe(kind, _enqueue)

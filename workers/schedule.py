"""The periodic jobs that `flask --app web cron` enqueues; later issues add settlement, expiry."""

from __future__ import annotations

from dataclasses import dataclass

from rq.cron import CronScheduler
from rq.utils import import_attribute

from workers.queues import DEFAULT


@dataclass(frozen=True)
class PeriodicJob:
    func: str  # dotted path, so this module imports nothing heavy
    queue: str = DEFAULT
    interval: int | None = None  # seconds
    cron: str | None = None  # crontab syntax, in UTC


PERIODIC_JOBS: tuple[PeriodicJob, ...] = (
    PeriodicJob("workers.settlement.settle_matured_commissions", interval=60),
    PeriodicJob("workers.maintenance.cancel_unpaid_orders", interval=60),
    PeriodicJob("workers.maintenance.confirm_shipped_orders", interval=3600),
    PeriodicJob("workers.maintenance.expire_bindings", interval=600),
    PeriodicJob("workers.payouts.retry_stuck_payouts", interval=300),
    # A sweep for events whose after-commit publish job was lost.
    PeriodicJob("workers.events.publish_pending", interval=60),
)


def build_cron_scheduler(connection, jobs=PERIODIC_JOBS) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    for job in jobs:
        scheduler.register(
            import_attribute(job.func), job.queue, interval=job.interval, cron=job.cron
        )
    return scheduler

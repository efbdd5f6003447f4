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


PERIODIC_JOBS: tuple[PeriodicJob, ...] = ()


def build_cron_scheduler(connection, jobs=PERIODIC_JOBS) -> CronScheduler:
    scheduler = CronScheduler(connection=connection)
    for job in jobs:
        scheduler.register(
            import_attribute(job.func), job.queue, interval=job.interval, cron=job.cron
        )
    return scheduler

"""The periodic jobs that `flask --app web cron` enqueues; later issues add settlement, expiry."""

from __future__ import annotations

from dataclasses import dataclass

from rq.cron import CronScheduler
from rq.exceptions import StopRequested
from rq.utils import import_attribute

from infra.jobs import DEFAULT, LOW


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
    # 商家转账: settle bills whose notify never came; cancel those the user never confirmed.
    PeriodicJob("workers.payouts.sync_transfer_bills", interval=120),
    PeriodicJob("workers.payouts.cancel_unconfirmed_transfers", interval=300),
    PeriodicJob("workers.wechat.flush_last_seen", interval=60),
    # The shop's WeChat Pay: payments whose notify never came (a prepay older than 5 minutes),
    # refunds unanswered, and payments on cancelled orders whose refund job was lost.
    PeriodicJob("workers.shop.sync_unpaid_orders", interval=120),
    PeriodicJob("workers.shop.sync_refunds", interval=300),
    # A sweep for events whose after-commit publish job was lost.
    PeriodicJob("workers.events.publish_pending", interval=60),
    # The leaderboard's truth is the database: this week's and month's boards, rebuilt hourly.
    PeriodicJob("workers.leaderboard.rebuild_current", queue=LOW, interval=3600),
    # Shop-link visits queued in Redis, written to share_events (statistics lag at most this).
    PeriodicJob("workers.tracking.flush_visits", queue=LOW, interval=30),
)


class FenxiaoCronScheduler(CronScheduler):
    """RQ's cron scheduler, with a stop that cannot be lost.

    RQ stops by raising StopRequested from the signal handler. If the signal lands while the
    scheduler is logging, `logging` swallows the exception and the stop is lost until the next
    wake-up (up to a minute later). The flag makes the next loop turn stop instead.
    """

    stop_requested = False

    def _request_stop(self, signum, frame):
        self.stop_requested = True
        super()._request_stop(signum, frame)

    def calculate_sleep_interval(self) -> float:
        if self.stop_requested:
            raise StopRequested()
        return super().calculate_sleep_interval()


def build_cron_scheduler(connection, jobs=PERIODIC_JOBS) -> CronScheduler:
    scheduler = FenxiaoCronScheduler(connection=connection)
    for job in jobs:
        scheduler.register(
            import_attribute(job.func), job.queue, interval=job.interval, cron=job.cron
        )
    return scheduler

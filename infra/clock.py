"""The clock: UTC in code and storage, China time for every day and time a person sees."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991


def now() -> datetime:
    return datetime.now(UTC)


def china_day(at: datetime) -> date:
    """The calendar day in China: 'today' and 'this month' are the merchant's, not UTC's."""
    return at.astimezone(CHINA).date()


def china_day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CHINA).astimezone(UTC)

"""The distributor centre's pure rules (no I/O): how people and amounts are masked, which tier
comes next and what it still needs, what a list filter means, and which week a day is in."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, timedelta

from models.errors import InvalidQuery
from models.tiers import TierRule

ANONYMOUS = "微信用户"  # what WeChat itself shows for a user without a nickname
COMMISSION_STATUSES = ("pending", "available", "reversed")

# Spend bands, in fen: (from, to) with `to` exclusive, None for no upper bound. Nothing spent is
# "¥0"; each band shows in whole yuan.
SPEND_BANDS: tuple[tuple[int, int | None], ...] = (
    (1, 10_000),  # ¥0-100
    (10_000, 50_000),  # ¥100-500
    (50_000, 100_000),  # ¥500-1000
    (100_000, 500_000),  # ¥1000-5000
    (500_000, None),  # ¥5000+
)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)


def mask_nickname(nickname: str | None) -> str:
    """ "张三丰" -> "张**", "Amy" -> "A**", "张三" -> "张*", "x" -> "x*", None or "" -> "微信用户".

    The first character only, then one star for a two-character name and two for any longer
    one (a long name's length is not shown)."""
    name = (nickname or "").strip()
    if not name:
        return ANONYMOUS
    return name[0] + "*" * (1 if len(name) <= 2 else 2)


def spend_band(fen: int) -> str:
    """What a shopper has spent, as a band: "¥0", "¥0-100", "¥100-500", "¥500-1000",
    "¥1000-5000" or "¥5000+" (whole yuan; a band holds its lower bound, not its upper)."""
    if fen <= 0:
        return "¥0"
    for low, high in SPEND_BANDS:
        if high is None:
            return f"¥{low // 100}+"
        if fen < high:
            return f"¥{(low // 100)}-{high // 100}"
    raise AssertionError("the last band has no upper bound")


def next_tier(rules: Sequence[TierRule], current_rank: int) -> TierRule | None:
    """The next tier up that can be earned (the lowest rank above `current_rank` with any
    condition set); tiers only ever given by hand are skipped. None at the top."""
    reachable = [
        r
        for r in rules
        if r.rank > current_rank
        and any(
            need is not None
            for need in (r.min_own_sales_fen, r.min_team_sales_fen, r.min_direct_team)
        )
    ]
    return min(reachable, key=lambda r: r.rank, default=None)


def tier_needs(
    rule: TierRule, own_sales_fen: int, team_sales_fen: int, direct_team: int
) -> list[tuple[str, int, int]]:
    """(condition, have, need) for each condition `rule` sets, in a fixed order."""
    return [
        (condition, have, need)
        for condition, have, need in (
            ("own_sales_fen", own_sales_fen, rule.min_own_sales_fen),
            ("team_sales_fen", team_sales_fen, rule.min_team_sales_fen),
            ("direct_team", direct_team, rule.min_direct_team),
        )
        if need is not None
    ]


def commission_status(status: str | None) -> str | None:
    """A commission list's status filter: None (all) or one of COMMISSION_STATUSES."""
    if status is None or status == "":
        return None
    if status not in COMMISSION_STATUSES:
        raise InvalidQuery(
            f"status is one of {', '.join(COMMISSION_STATUSES)}", reason="status", value=status
        )
    return status


def month_days(month: str | None) -> tuple[date, date] | None:
    """ "2026-12" -> (the month's first day, the next month's first day); None for no month.
    Anything else, or a month out of 1..12 or years 2000..2999, is InvalidQuery."""
    if month is None or month == "":
        return None
    found = _MONTH.match(month) if isinstance(month, str) else None
    if not found or not 2000 <= int(found.group(1)) <= 2999 or not 1 <= int(found.group(2)) <= 12:
        raise InvalidQuery("month is YYYY-MM, e.g. 2026-12", reason="month", value=str(month)[:20])
    first = date(int(found.group(1)), int(found.group(2)), 1)
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first, following


def week_start(day: date) -> date:
    """The Monday of `day`'s week."""
    return day - timedelta(days=day.weekday())


def funnel_weeks(today: date, weeks: int) -> list[date]:
    """The Mondays of the last `weeks` weeks up to `today`'s, oldest first."""
    if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= 52:
        raise InvalidQuery("weeks is 1 to 52", reason="weeks")
    this_week = week_start(today)
    return [this_week - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]

"""The distributor centre's pure rules: masking, spend bands, the next tier, filters, weeks."""

from __future__ import annotations

from datetime import date

import pytest

from models.centre import (
    funnel_weeks,
    mask_nickname,
    month_days,
    next_tier,
    spend_band,
    tier_needs,
    week_start,
)
from models.errors import InvalidQuery
from models.tiers import TierRule


@pytest.mark.parametrize(
    ("nickname", "masked"),
    [
        ("张三丰", "张**"),
        ("Amy", "A**"),
        ("张三", "张*"),
        ("x", "x*"),
        ("欧阳娜娜娜娜", "欧**"),
        ("Alexander", "A**"),
        ("  李四  ", "李*"),
        ("😀Joy", "😀**"),
        (None, "微信用户"),
        ("", "微信用户"),
        ("   ", "微信用户"),
    ],
)
def test_a_nickname_shows_its_first_character_only(nickname, masked):
    assert mask_nickname(nickname) == masked


@pytest.mark.parametrize(
    ("fen", "band"),
    [
        (-100, "¥0"),
        (0, "¥0"),
        (1, "¥0-100"),
        (9_999, "¥0-100"),
        (10_000, "¥100-500"),
        (49_999, "¥100-500"),
        (50_000, "¥500-1000"),
        (100_000, "¥1000-5000"),
        (499_999, "¥1000-5000"),
        (500_000, "¥5000+"),
        (10**12, "¥5000+"),
    ],
)
def test_spend_is_shown_as_a_band_holding_its_lower_bound(fen, band):
    assert spend_band(fen) == band


SILVER = TierRule(2, 1, min_own_sales_fen=100_000, min_direct_team=5, match="any")
MANUAL = TierRule(4, 2)  # no conditions: only given by hand
GOLD = TierRule(3, 3, min_own_sales_fen=500_000, min_team_sales_fen=1_000_000, match="all")
TIERS = [GOLD, MANUAL, SILVER]


@pytest.mark.parametrize(
    ("current_rank", "expected"),
    [(-1, SILVER), (0, SILVER), (1, GOLD), (2, GOLD), (3, None), (9, None)],
)
def test_the_next_tier_is_the_lowest_one_above_that_can_be_earned(current_rank, expected):
    assert next_tier(TIERS, current_rank) == expected


def test_no_tiers_means_no_next_tier():
    assert next_tier([], -1) is None


@pytest.mark.parametrize(
    ("rule", "have", "needs"),
    [
        (SILVER, (20_000, 0, 3), [("own_sales_fen", 20_000, 100_000), ("direct_team", 3, 5)]),
        (
            GOLD,
            (600_000, 7, 1),
            [("own_sales_fen", 600_000, 500_000), ("team_sales_fen", 7, 1_000_000)],
        ),
        (MANUAL, (1, 2, 3), []),
    ],
)
def test_a_tier_needs_only_the_conditions_it_sets(rule, have, needs):
    assert tier_needs(rule, *have) == needs


@pytest.mark.parametrize(
    ("month", "days"),
    [
        ("2026-12", (date(2026, 12, 1), date(2027, 1, 1))),
        ("2026-01", (date(2026, 1, 1), date(2026, 2, 1))),
        ("2028-02", (date(2028, 2, 1), date(2028, 3, 1))),
        (None, None),
        ("", None),
    ],
)
def test_a_month_is_its_first_day_to_the_next_month(month, days):
    assert month_days(month) == days


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "2026-1", "26-12", "1999-12", "x", 202612])
def test_a_month_not_yyyy_mm_is_an_invalid_query(month):
    with pytest.raises(InvalidQuery):
        month_days(month)


@pytest.mark.parametrize(
    ("day", "monday"),
    [
        (date(2026, 12, 7), date(2026, 12, 7)),  # a Monday
        (date(2026, 12, 13), date(2026, 12, 7)),  # the Sunday after
        (date(2027, 1, 1), date(2026, 12, 28)),  # across a year
    ],
)
def test_a_week_starts_on_monday(day, monday):
    assert week_start(day) == monday


def test_funnel_weeks_are_the_mondays_up_to_this_week_oldest_first():
    assert funnel_weeks(date(2026, 12, 9), 3) == [
        date(2026, 11, 23),
        date(2026, 11, 30),
        date(2026, 12, 7),
    ]


@pytest.mark.parametrize("weeks", [0, 53, -1, True, "8"])
def test_funnel_weeks_out_of_range_is_an_invalid_query(weeks):
    with pytest.raises(InvalidQuery):
        funnel_weeks(date(2026, 12, 9), weeks)

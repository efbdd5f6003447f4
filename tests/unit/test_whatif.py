"""The what-if of a rule change: per-level totals by the engine's own commission function,
checked against sums worked out by hand."""

from __future__ import annotations

import pytest

from models.commission import Beneficiary, Line, ProductCommission, Rule
from models.whatif import LineCase, WhatIf, as_levels, by_level

A, B, C = Beneficiary(1), Beneficiary(2), Beneficiary(3)


def case(base_fen: int, chain, count: int = 1, quantity: int = 1, **line) -> LineCase:
    return LineCase(Line(0, 7, quantity, base_fen, **line), chain, None, count)


def test_three_levels_at_20_10_5_percent_round_each_share_down():
    rule = Rule(levels=3, rates_bps=(2000, 1000, 500), max_share_bps=5000)
    # 9999 fen: 1999.8 -> 1999, 999.9 -> 999, 499.95 -> 499
    assert by_level([case(9999, [A, B, C])], rule) == (1999, 999, 499)


def test_alike_lines_count_as_many_times_as_they_were_paid():
    rule = Rule(levels=2, rates_bps=(1000, 500, 0))
    assert by_level([case(9999, [A, B], count=3)], rule) == (3 * 999, 3 * 499, 0)


def test_levels_past_the_rule_earn_nothing():
    rule = Rule(levels=1, rates_bps=(1000, 500, 200))
    assert by_level([case(10_000, [A, B, C])], rule) == (1000, 0, 0)


def test_the_cap_cuts_the_lower_levels_first_come_first_served():
    rule = Rule(levels=3, rates_bps=(3000, 2000, 1000), max_share_bps=4000)
    assert by_level([case(10_000, [A, B, C])], rule) == (3000, 1000, 0)


def test_a_product_override_and_a_campaign_multiplier_are_the_lines_own():
    rule = Rule(levels=2, rates_bps=(1000, 500, 0))
    fixed = ProductCommission("fixed", (300, 100, 0))
    lines = [
        case(10_000, [A, B], quantity=2, override=fixed),  # 2 x 300, 2 x 100
        case(10_000, [A, B], multiplier_bps=20_000),  # double: 2000, 1000
    ]
    assert by_level(lines, rule) == (600 + 2000, 200 + 1000, 0)


def test_an_inactive_distributor_and_a_buyer_without_self_purchase_earn_nothing():
    rule = Rule(levels=2, rates_bps=(1000, 500, 0))
    frozen = Beneficiary(1, active=False)
    assert by_level([case(10_000, [frozen, B])], rule) == (0, 500, 0)
    buyer_case = LineCase(Line(0, 7, 1, 10_000), [A, B], 1, 1)
    assert by_level([buyer_case], rule) == (0, 500, 0)


def test_a_tier_rate_replaces_the_global_rate_for_its_member():
    rule = Rule(levels=2, rates_bps=(1000, 500, 0))
    gold = Beneficiary(1, tier_rates_bps=(1500, None, None))
    assert by_level([case(10_000, [gold, B])], rule) == (1500, 500, 0)


@pytest.mark.parametrize(
    "recorded, levels", [({}, (0, 0, 0)), ({1: 5, 3: 7}, (5, 0, 7)), ({2: None}, (0, 0, 0))]
)
def test_recorded_sums_by_level_fill_missing_levels_with_zero(recorded, levels):
    assert as_levels(recorded) == levels


def test_the_what_if_adds_up_and_gives_the_difference():
    figures = WhatIf(orders=2, proposed_by_level=(600, 300, 10), recorded_by_level=(500, 200, 0))
    assert figures.proposed_fen == 910 and figures.recorded_fen == 700
    assert figures.difference_fen == 210
    assert figures.levels() == [(1, 600, 500), (2, 300, 200), (3, 10, 0)]

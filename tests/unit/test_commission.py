"""Worked examples of the commission calculation, each with exact fen amounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.commission import (
    Beneficiary,
    Campaign,
    Line,
    ProductCommission,
    Rule,
    campaign_multiplier,
    commission_chain,
    compute_commissions,
    reversal_due,
)
from models.errors import InvalidRule
from models.money import allocate

A, B, C = Beneficiary(1), Beneficiary(2), Beneficiary(3)


def amounts(shares):
    return [(s.beneficiary_id, s.level, s.amount_fen) for s in shares]


def line(base_fen, quantity=1, override=None, multiplier_bps=10_000, line_id=1):
    return Line(line_id, 100, quantity, base_fen, override, multiplier_bps)


WORKED_EXAMPLES = [
    # (name, lines, chain, rule, expected [(beneficiary, level, fen)])
    ("one level", [line(10_000)], [A, B], Rule(levels=1, rates_bps=(1000, 0, 0)), [(1, 1, 1000)]),
    ("two levels by default", [line(10_000)], [A, B, C], Rule(), [(1, 1, 1000), (2, 2, 500)]),
    (
        "three levels",
        [line(10_000)],
        [A, B, C],
        Rule(levels=3, rates_bps=(1000, 500, 300)),
        [(1, 1, 1000), (2, 2, 500), (3, 3, 300)],
    ),
    (
        "cap of two ignores level three",
        [line(10_000)],
        [A, B, C],
        Rule(levels=2, rates_bps=(1000, 500, 300)),
        [(1, 1, 1000), (2, 2, 500)],
    ),
    (
        "per-product fixed fen per unit",
        [line(30_000, quantity=3, override=ProductCommission("fixed", (500, 200, 0)))],
        [A, B],
        Rule(),
        [(1, 1, 1500), (2, 2, 600)],
    ),
    (
        "per-product percent",
        [line(5_000, override=ProductCommission("percent", (2000, 1000, 0)))],
        [A, B],
        Rule(),
        [(1, 1, 1000), (2, 2, 500)],
    ),
    (
        "per-tier rate beats the global rate, level by level",
        [line(10_000)],
        [Beneficiary(1, (1500, None, None)), B],
        Rule(),
        [(1, 1, 1500), (2, 2, 500)],
    ),
    (
        "product override beats the tier",
        [line(10_000, override=ProductCommission("percent", (300, 100, 0)))],
        [Beneficiary(1, (1500, 800, None)), B],
        Rule(),
        [(1, 1, 300), (2, 2, 100)],
    ),
    (
        "campaign multiplier doubles",
        [line(10_000, multiplier_bps=20_000)],
        [A, B],
        Rule(),
        [(1, 1, 2000), (2, 2, 1000)],
    ),
    ("rounding is down, per line and level", [line(999)], [A, B], Rule(), [(1, 1, 99), (2, 2, 49)]),
    (
        "max share clamps the upper levels",
        [line(10_000)],
        [A, B],
        Rule(max_share_bps=1200),
        [(1, 1, 1000), (2, 2, 200)],
    ),
    (
        "a fixed amount larger than the base is clamped to the max share",
        [line(5_000, override=ProductCommission("fixed", (8_000, 100, 0)))],
        [A, B],
        Rule(),
        [(1, 1, 2500)],
    ),
    (
        "an inactive upline earns nothing and the levels do not shift",
        [line(10_000)],
        [Beneficiary(1, active=False), B],
        Rule(),
        [(2, 2, 500)],
    ),
    ("no chain, no commission", [line(10_000)], [], Rule(), []),
]


@pytest.mark.parametrize(
    ("lines", "chain", "rule", "expected"),
    [case[1:] for case in WORKED_EXAMPLES],
    ids=[case[0] for case in WORKED_EXAMPLES],
)
def test_worked_example(lines, chain, rule, expected):
    assert amounts(compute_commissions(lines, chain, rule)) == expected


def test_discount_spread_over_lines_then_commission_per_line():
    goods = [3_000, 7_000]
    shares_of_discount = allocate(1_001, goods)
    assert shares_of_discount == [300, 701]
    lines = [
        line(g - d, line_id=i)
        for i, (g, d) in enumerate(zip(goods, shares_of_discount, strict=True))
    ]
    shares = compute_commissions(lines, [A, B], Rule())
    assert [(s.line_id, s.level, s.base_fen, s.amount_fen) for s in shares] == [
        (0, 1, 2_700, 270),
        (0, 2, 2_700, 135),
        (1, 1, 6_299, 629),
        (1, 2, 6_299, 314),
    ]


def test_each_share_keeps_its_rule_snapshot():
    [share] = compute_commissions(
        [line(10_000, multiplier_bps=15_000)],
        [Beneficiary(7, (1200, None, None))],
        Rule(version=4, levels=1, rates_bps=(1000, 0, 0)),
    )
    assert (share.rule_version, share.rate_source, share.rate_kind, share.rate_value) == (
        4,
        "tier",
        "percent",
        1200,
    )
    assert (share.base_fen, share.multiplier_bps, share.amount_fen) == (10_000, 15_000, 1800)


class TestSelfPurchase:
    buyer_chain = (Beneficiary(10), Beneficiary(20), Beneficiary(30))  # buyer 10, upline 20
    bound_chain = (Beneficiary(20), Beneficiary(30))  # the buyer is bound to their upline

    def test_off_the_buyer_earns_nothing_and_the_upline_is_level_one(self):
        chain = commission_chain(self.buyer_chain, self.bound_chain, self_purchase=False)
        assert [b.distributor_id for b in chain] == [20, 30]
        shares = compute_commissions([line(10_000)], chain, Rule(), buyer_distributor_id=10)
        assert amounts(shares) == [(20, 1, 1000), (30, 2, 500)]

    def test_on_the_buyer_earns_level_one_on_their_own_order(self):
        chain = commission_chain(self.buyer_chain, self.bound_chain, self_purchase=True)
        rule = Rule(self_purchase=True)
        shares = compute_commissions([line(10_000)], chain, rule, buyer_distributor_id=10)
        assert amounts(shares) == [(10, 1, 1000), (20, 2, 500)]

    def test_off_even_a_chain_that_contains_the_buyer_pays_them_nothing(self):
        shares = compute_commissions(
            [line(10_000)], [Beneficiary(10), Beneficiary(20)], Rule(), buyer_distributor_id=10
        )
        assert amounts(shares) == [(20, 2, 500)]

    def test_a_shopper_who_is_not_a_distributor_uses_the_bound_chain(self):
        chain = commission_chain([], self.bound_chain, self_purchase=True)
        assert [b.distributor_id for b in chain] == [20, 30]


def test_campaign_multiplier_applies_only_in_its_window_and_to_its_products():
    start = datetime(2026, 10, 1, tzinfo=UTC)
    campaigns = [
        Campaign(20_000, start, start + timedelta(days=7)),
        Campaign(30_000, start, start + timedelta(days=1), frozenset({5})),
    ]
    assert campaign_multiplier(campaigns, 5, start) == 30_000
    assert campaign_multiplier(campaigns, 6, start) == 20_000
    assert campaign_multiplier(campaigns, 5, start + timedelta(days=2)) == 20_000
    assert campaign_multiplier(campaigns, 5, start + timedelta(days=7)) == 10_000


@pytest.mark.parametrize(
    ("amount", "paid", "refunded", "due"),
    [
        (1000, 10_000, 0, 0),
        (1000, 10_000, 10_000, 1000),
        (1000, 10_000, 5_000, 500),
        (999, 10_000, 3_333, 333),
        (1, 3, 1, 1),
        (7, 10, 9, 7),
    ],
)
def test_reversal_is_proportional_and_leaves_what_remains_rounded_down(amount, paid, refunded, due):
    assert reversal_due(amount, paid, refunded) == due


@pytest.mark.parametrize(
    ("levels", "rates", "max_share", "reason"),
    [
        (4, (1000, 500, 300), 5000, "levels"),
        (0, (1000, 0, 0), 5000, "levels"),
        (3, (6000, 3000, 2000), 10_000, "over_100"),
        (2, (-1, 500, 0), 5000, "rates"),
        (2, (1000, 500, 0), 10_001, "max_share"),
    ],
)
def test_invalid_rules_are_refused_with_a_named_error(levels, rates, max_share, reason):
    with pytest.raises(InvalidRule) as err:
        Rule(levels=levels, rates_bps=rates, max_share_bps=max_share)
    assert err.value.params["reason"] == reason


def test_product_commission_over_100_percent_is_refused():
    with pytest.raises(InvalidRule):
        ProductCommission("percent", (8000, 3000, 0))

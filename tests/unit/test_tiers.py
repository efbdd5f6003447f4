"""Tier upgrades: the best tier reached, any/all conditions, never down."""

from __future__ import annotations

from models.tiers import TierRule, earned_tier

SILVER = TierRule(2, 1, min_own_sales_fen=100_000, min_direct_team=5, match="any")
GOLD = TierRule(3, 2, min_own_sales_fen=500_000, min_team_sales_fen=1_000_000, match="all")
MANUAL = TierRule(4, 3)  # no conditions: only given by hand
TIERS = [SILVER, GOLD, MANUAL]


def test_any_condition_is_enough_for_a_tier_that_matches_any():
    assert earned_tier(TIERS, 0, 0, 0, 5) == SILVER
    assert earned_tier(TIERS, 0, 100_000, 0, 0) == SILVER


def test_all_conditions_are_needed_for_a_tier_that_matches_all():
    assert earned_tier(TIERS, 0, 500_000, 999_999, 0) == SILVER
    assert earned_tier(TIERS, 0, 500_000, 1_000_000, 0) == GOLD


def test_never_downgrades_and_never_reaches_a_manual_tier():
    assert earned_tier(TIERS, 2, 0, 0, 0) is None
    assert earned_tier(TIERS, 1, 10**12, 10**12, 10**6) == GOLD
    assert earned_tier(TIERS, 2, 10**12, 10**12, 10**6) is None

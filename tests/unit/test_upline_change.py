"""Moving a distributor under another upline (models.upline_change): which moves are refused,
and what a move writes for the moved distributor, their team and their old and new uplines."""

from __future__ import annotations

import pytest

from models.upline_change import (
    CYCLE,
    INACTIVE,
    NO_CHAIN,
    NOT_MEMBER,
    SELF,
    UNCHANGED,
    chain_under,
    move_refusal,
    plan_move,
)


@pytest.mark.parametrize(
    ("upline", "upline_chain", "expected"),
    [
        (None, NO_CHAIN, NO_CHAIN),
        (5, NO_CHAIN, (5, None, None)),
        (5, (4, None, None), (5, 4, None)),
        (5, (4, 3, None), (5, 4, 3)),
        (5, (4, 3, 2), (5, 4, 3)),  # the upline's ancestor3 is four levels up: not stored
    ],
)
def test_a_chain_under_an_upline_is_the_upline_then_its_two_nearest_uplines(
    upline, upline_chain, expected
):
    assert chain_under(upline, upline_chain) == expected


# moved 10 (upline 1), its team: 20 under it, 30 under 20.
@pytest.mark.parametrize(
    ("moved_status", "new_upline", "new_status", "new_ancestors", "reason"),
    [
        ("active", 2, "active", set(), None),
        ("frozen", 2, "active", {7, 8}, None),
        ("active", None, None, set(), None),  # to the top: no upline
        ("pending", 2, "active", set(), NOT_MEMBER),
        ("rejected", 2, "active", set(), NOT_MEMBER),
        ("active", 1, "active", set(), UNCHANGED),
        ("active", 10, "active", {1}, SELF),
        ("active", 20, "active", {10, 1}, CYCLE),
        ("active", 30, "active", {20, 10, 1}, CYCLE),
        ("active", 40, "active", {31, 30, 20, 10, 1}, CYCLE),  # deep in the team: still a cycle
        ("active", 2, "frozen", set(), INACTIVE),
        ("active", 2, "pending", set(), INACTIVE),
        ("active", 20, "frozen", {10, 1}, CYCLE),  # the cycle is the first thing said
    ],
)
def test_a_move_is_refused_for_the_reason_that_applies(
    moved_status, new_upline, new_status, new_ancestors, reason
):
    assert move_refusal(10, moved_status, 1, new_upline, new_status, new_ancestors) == reason


def test_moving_a_distributor_without_an_upline_to_the_top_changes_nothing():
    assert move_refusal(10, "active", None, None, None, set()) == UNCHANGED


def test_a_move_rewrites_the_chain_of_the_moved_one_and_of_their_two_nearest_levels():
    plan = plan_move((1, 2, 3), (7, 8, 9), (1, 0, 0))
    assert plan.moved == (7, 8, 9) and plan.level1 == (7, 8) and plan.level2 == 7


def test_a_lone_distributor_moved_leaves_one_upline_per_level_and_joins_the_new_ones():
    plan = plan_move((1, 2, 3), (7, 8, 9), (1, 0, 0))
    assert plan.team_deltas == {
        1: (-1, 0, 0),
        2: (0, -1, 0),
        3: (0, 0, -1),
        7: (1, 0, 0),
        8: (0, 1, 0),
        9: (0, 0, 1),
    }


def test_a_team_moves_with_its_distributor_level_by_level():
    # 4 members at level 1 and 6 at level 2 under the moved one
    plan = plan_move((1, 2, None), (7, None, None), (1, 4, 6))
    assert plan.team_deltas == {1: (-1, -4, -6), 2: (0, -1, -4), 7: (1, 4, 6)}


def test_an_upline_on_both_chains_keeps_what_stays_under_it():
    # from under 1 (whose upline is 2) to directly under 2
    plan = plan_move((1, 2, None), (2, None, None), (1, 3, 0))
    assert plan.team_deltas == {1: (-1, -3, 0), 2: (1, 2, -3)}


def test_moving_to_the_top_only_takes_the_team_away_from_the_old_uplines():
    plan = plan_move((1, None, None), NO_CHAIN, (1, 2, 5))
    assert plan.moved == NO_CHAIN and plan.level1 == (None, None) and plan.level2 is None
    assert plan.team_deltas == {1: (-1, -2, -5)}


def test_a_member_three_levels_down_counts_for_nobody_above_the_moved_one():
    plan = plan_move((1, 2, 3), (7, 8, 9), (1, 1, 1))
    assert plan.team_deltas[3] == (0, 0, -1) and plan.team_deltas[9] == (0, 0, 1)

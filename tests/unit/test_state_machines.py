"""Every allowed move of every state machine, and every forbidden one."""

from __future__ import annotations

import pytest

from models.errors import InvalidTransition
from models.states import (
    COMMISSION,
    DISTRIBUTOR,
    ORDER,
    REFUND_REQUEST,
    USER_COUPON,
    WITHDRAWAL,
    check_transition,
)

MACHINES = {
    "distributor": DISTRIBUTOR,
    "commission": COMMISSION,
    "withdrawal": WITHDRAWAL,
    "order": ORDER,
    "user_coupon": USER_COUPON,
    "refund_request": REFUND_REQUEST,
}


def moves(allowed: bool) -> list:
    return [
        pytest.param(name, current, new, id=f"{name}:{current}->{new}")
        for name, machine in MACHINES.items()
        for current in machine
        for new in machine
        if (new in machine[current]) == allowed
    ]


@pytest.mark.parametrize(("name", "current", "new"), moves(allowed=True))
def test_allowed_move(name, current, new):
    check_transition(MACHINES[name], name, current, new)


@pytest.mark.parametrize(("name", "current", "new"), moves(allowed=False))
def test_forbidden_move_raises_a_named_error(name, current, new):
    with pytest.raises(InvalidTransition) as err:
        check_transition(MACHINES[name], name, current, new)
    assert err.value.params == {"what": name, "current": current, "new": new}


def test_money_states_match_the_design():
    assert WITHDRAWAL["requested"] == {"approved", "rejected"}
    assert WITHDRAWAL["paying"] == {"paid", "failed", "waiting_user", "cancelling"}
    assert WITHDRAWAL["waiting_user"] == {"paid", "failed", "cancelling"}
    assert WITHDRAWAL["cancelling"] == {"paid", "failed"}
    assert not WITHDRAWAL["paid"] and not WITHDRAWAL["failed"] and not WITHDRAWAL["rejected"]
    assert COMMISSION["available"] == {"reversed"}
    assert "available" not in COMMISSION["reversed"]

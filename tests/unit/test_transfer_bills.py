"""How 商家转账 bill states move a withdrawal: a table over every state pair."""

from __future__ import annotations

import pytest

from models.states import WITHDRAWAL
from models.transfer_bills import (
    BILL_STATES,
    FINAL_BILL_STATES,
    next_status,
    withdrawal_status_for,
)


@pytest.mark.parametrize(
    ("bill_state", "status"),
    [
        ("ACCEPTED", "paying"),
        ("PROCESSING", "paying"),
        ("TRANSFERING", "paying"),
        ("WAIT_USER_CONFIRM", "waiting_user"),
        ("CANCELING", "cancelling"),
        ("SUCCESS", "paid"),
        ("FAIL", "failed"),
        ("CANCELLED", "failed"),
        ("SOMETHING_NEW", None),
        ("", None),
    ],
)
def test_each_wechat_state_maps_to_one_withdrawal_state(bill_state, status):
    assert withdrawal_status_for(bill_state) == status


@pytest.mark.parametrize(
    ("current", "bill_state", "moved_to"),
    [
        ("paying", "ACCEPTED", None),
        ("paying", "PROCESSING", None),
        ("paying", "WAIT_USER_CONFIRM", "waiting_user"),
        ("paying", "SUCCESS", "paid"),
        ("paying", "FAIL", "failed"),
        ("paying", "CANCELLED", "failed"),
        ("waiting_user", "WAIT_USER_CONFIRM", None),
        ("waiting_user", "TRANSFERING", None),  # confirmed, being paid: still not settled
        ("waiting_user", "ACCEPTED", None),  # a stale answer never moves it back
        ("waiting_user", "CANCELING", "cancelling"),
        ("waiting_user", "SUCCESS", "paid"),
        ("waiting_user", "FAIL", "failed"),
        ("cancelling", "WAIT_USER_CONFIRM", None),
        ("cancelling", "CANCELLED", "failed"),
        ("cancelling", "SUCCESS", "paid"),  # the user confirmed before the cancel took
        ("paid", "FAIL", None),
        ("paid", "SUCCESS", None),
        ("failed", "SUCCESS", None),
        ("failed", "CANCELLED", None),
        ("approved", "SUCCESS", None),  # only the payout job starts paying
        ("requested", "SUCCESS", None),
        ("rejected", "SUCCESS", None),
        ("paying", "NEW_STATE", None),
    ],
)
def test_a_bill_state_moves_a_withdrawal_only_forward(current, bill_state, moved_to):
    assert next_status(current, bill_state) == moved_to


def test_every_move_is_one_the_state_machine_allows_and_settled_ones_never_move():
    for current in WITHDRAWAL:
        for bill_state in BILL_STATES:
            target = next_status(current, bill_state)
            if target is not None:
                assert target in WITHDRAWAL[current]
            if current in ("paid", "failed", "rejected"):
                assert target is None
    assert {withdrawal_status_for(s) for s in FINAL_BILL_STATES} == {"paid", "failed"}

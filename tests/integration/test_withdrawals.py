"""request_withdrawal: every refusal is named, clear, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import LedgerEntry, StatusChange, Withdrawal, db
from models.errors import (
    BelowMinimum,
    ChannelUnavailable,
    DistributorNotActive,
    InsufficientBalance,
    InvalidAmount,
    OverDailyLimit,
)
from models.money import parse_yuan
from services import distributors, withdrawals
from services.ledger import balances, reconcile
from tests.factories import (
    make_earner,
    set_policy,
)


@pytest.fixture
def earner(ctx):
    """A distributor with ¥300.00 available."""
    distributor = make_earner(
        30_000, withdraw_max_per_day_fen=20_000, withdraw_auto_approve_max_fen=None
    )
    assert balances(distributor.id)["available"] == 30_000
    return distributor


def writes() -> tuple[int, int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(Withdrawal)),
        db.session.scalar(select(func.count()).select_from(LedgerEntry)),
        db.session.scalar(select(func.count()).select_from(StatusChange)),
    )


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        (0, InvalidAmount),
        (-100, InvalidAmount),
        (99, BelowMinimum),
        (30_001, InsufficientBalance),
        (20_001, OverDailyLimit),
    ],
)
def test_refused_requests_write_nothing(earner, amount, error):
    before = writes()
    with pytest.raises(error) as err:
        withdrawals.request_withdrawal(earner.id, amount)
    assert err.value.code and err.value.message
    assert writes() == before
    assert balances(earner.id)["available"] == 30_000


@pytest.mark.parametrize("text", ["abc", "1.234", "-5", "0"])
def test_bad_amount_text_is_refused_before_anything_happens(earner, text):
    with pytest.raises(InvalidAmount):
        withdrawals.request_withdrawal(earner.id, parse_yuan(text))


def test_a_frozen_distributor_cannot_withdraw(earner):
    distributors.freeze(earner.id, "风控审核")
    before = writes()
    with pytest.raises(DistributorNotActive):
        withdrawals.request_withdrawal(earner.id, 1_000)
    assert writes() == before


def test_bank_withdrawal_needs_the_account_and_an_offered_channel(earner):
    with pytest.raises(ChannelUnavailable):
        withdrawals.request_withdrawal(earner.id, 1_000, channel="bank")
    set_policy(withdraw_channels=["wechat"])
    with pytest.raises(ChannelUnavailable):
        withdrawals.request_withdrawal(earner.id, 1_000, channel="bank", bank_account={"no": "1"})


def test_the_daily_limit_counts_earlier_requests_today(earner):
    withdrawals.request_withdrawal(earner.id, 15_000)
    with pytest.raises(OverDailyLimit) as err:
        withdrawals.request_withdrawal(earner.id, 6_000)
    assert err.value.params["left_fen"] == 5_000
    withdrawals.request_withdrawal(earner.id, 5_000)
    assert balances(earner.id) == {"pending": 0, "available": 10_000, "held": 20_000, "paid_out": 0}


def test_reject_returns_the_funds_and_records_why(earner):
    withdrawal = withdrawals.request_withdrawal(earner.id, 10_000)
    assert withdrawal.status == "requested"
    withdrawals.reject_withdrawal(withdrawal.id, "信息不符")
    assert balances(earner.id)["available"] == 30_000
    assert db.session.get(Withdrawal, withdrawal.id).reason == "信息不符"
    assert reconcile().ok


def test_fee_is_taken_in_basis_points_at_payout(earner):
    from wechat.payouts import TransferResult

    set_policy(withdraw_fee_bps=60)
    withdrawal = withdrawals.request_withdrawal(earner.id, 10_000)
    assert (withdrawal.fee_fen, withdrawal.net_fen) == (60, 9_940)
    withdrawals.approve_withdrawal(withdrawal.id)
    request = withdrawals.start_payout(withdrawal.id)
    assert request.amount_fen == 9_940
    withdrawals.finish_payout(withdrawal.id, TransferResult(True, "pay-1"))
    assert balances(earner.id)["paid_out"] == 9_940
    assert reconcile().ok

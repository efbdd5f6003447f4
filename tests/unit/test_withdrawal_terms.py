"""Withdrawal terms: each refusal, the boundaries, the fee's rounding, and the fee's arithmetic."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import (
    BelowMinimum,
    InsufficientBalance,
    InvalidAmount,
    InvalidRule,
    OverDailyLimit,
    RealNameRequired,
)
from models.withdrawal_terms import (
    Refusal,
    WithdrawalPolicy,
    WithdrawalQuote,
    WithdrawalRefusal,
    withdrawal_terms,
)

POLICY = WithdrawalPolicy(minimum_fen=100, daily_limit_fen=20_000, fee_bps=60)
NO_LIMIT = WithdrawalPolicy(minimum_fen=100, daily_limit_fen=None, fee_bps=0)
Q, R = WithdrawalQuote, WithdrawalRefusal


def over_limit(left_fen: int) -> WithdrawalRefusal:
    return R(Refusal.OVER_DAILY_LIMIT, limit_fen=20_000, left_fen=left_fen)


@pytest.mark.parametrize(
    ("amount", "available", "today", "policy", "expected"),
    [
        # refusals, each alone
        (0, 30_000, 0, POLICY, R(Refusal.NOT_POSITIVE)),
        (-100, 30_000, 0, POLICY, R(Refusal.NOT_POSITIVE)),
        (99, 30_000, 0, POLICY, R(Refusal.BELOW_MINIMUM, minimum_fen=100)),
        (10_001, 10_000, 0, POLICY, R(Refusal.INSUFFICIENT_BALANCE, needed_fen=10_001)),
        (6_000, 30_000, 15_000, POLICY, over_limit(5_000)),
        # over the limit with more already withdrawn than the limit (it was lowered): none left
        (100, 30_000, 25_000, POLICY, over_limit(0)),
        # boundaries: exactly the minimum, the balance, the limit are allowed
        (100, 30_000, 0, POLICY, Q(100, 0)),
        (10_000, 10_000, 0, POLICY, Q(10_000, 60)),
        (5_000, 30_000, 15_000, POLICY, Q(5_000, 30)),
        (20_000, 30_000, 0, POLICY, Q(20_000, 120)),
        (20_001, 30_000, 0, POLICY, over_limit(20_000)),
        # the checks come in order: minimum, then balance, then the daily limit
        (99, 50, 20_000, POLICY, R(Refusal.BELOW_MINIMUM, minimum_fen=100)),
        (30_001, 30_000, 20_000, POLICY, R(Refusal.INSUFFICIENT_BALANCE, needed_fen=30_001)),
        # no daily limit
        (1_000_000, 1_000_000, 5_000_000, NO_LIMIT, Q(1_000_000, 0)),
        # the fee is rounded down to the fen: 0.6 % of 166 fen is 0.996 fen
        (166, 30_000, 0, POLICY, Q(166, 0)),
        (167, 30_000, 0, POLICY, Q(167, 1)),
        (333, 30_000, 0, POLICY, Q(333, 1)),
        (334, 30_000, 0, POLICY, Q(334, 2)),
        (101, 500, 0, WithdrawalPolicy(1, None, 10_000), Q(101, 101)),  # a 100 % fee
        (1, 500, 0, WithdrawalPolicy(1, None, 9_999), Q(1, 0)),
    ],
)
def test_withdrawal_terms(amount, available, today, policy, expected):
    assert withdrawal_terms(amount, available, today, policy) == expected


NAMED = WithdrawalPolicy(
    minimum_fen=100, daily_limit_fen=None, fee_bps=0, real_name_from_fen=200_000
)


@pytest.mark.parametrize(
    ("amount", "available", "policy", "named", "expected"),
    [
        # from the real-name amount a payee without a name is refused; exactly it needs one
        (200_000, 300_000, NAMED, False, R(Refusal.REAL_NAME_REQUIRED, from_fen=200_000)),
        (250_000, 300_000, NAMED, False, R(Refusal.REAL_NAME_REQUIRED, from_fen=200_000)),
        (199_999, 300_000, NAMED, False, Q(199_999, 0)),
        (200_000, 300_000, NAMED, True, Q(200_000, 0)),
        # what is transferred decides: 2,000.50 yuan less a 1 % fee is under 2,000 yuan
        (200_050, 300_000, replace(NAMED, fee_bps=100), False, Q(200_050, 2_000)),
        # a channel that never asks for a name (v2, manual) never refuses for it
        (250_000, 300_000, NO_LIMIT, False, Q(250_000, 0)),
        # the name is checked last: a balance that does not cover it says so first
        (250_000, 1_000, NAMED, False, R(Refusal.INSUFFICIENT_BALANCE, needed_fen=250_000)),
    ],
)
def test_a_large_withdrawal_needs_the_payees_real_name(amount, available, policy, named, expected):
    assert withdrawal_terms(amount, available, 0, policy, payee_named=named) == expected


@pytest.mark.parametrize(
    ("refusal", "error", "params"),
    [
        (R(Refusal.NOT_POSITIVE), InvalidAmount, {"reason": "not_positive"}),
        (R(Refusal.BELOW_MINIMUM, minimum_fen=100), BelowMinimum, {"minimum_fen": 100}),
        (R(Refusal.INSUFFICIENT_BALANCE, needed_fen=7), InsufficientBalance, {"needed": 7}),
        (
            R(Refusal.OVER_DAILY_LIMIT, limit_fen=20_000, left_fen=5_000),
            OverDailyLimit,
            {"limit_fen": 20_000, "left_fen": 5_000},
        ),
        (
            R(Refusal.REAL_NAME_REQUIRED, from_fen=200_000),
            RealNameRequired,
            {"from_fen": 200_000},
        ),
    ],
)
def test_each_refusal_maps_to_its_error_code(refusal, error, params):
    raised = refusal.error()
    assert type(raised) is error
    assert raised.code == refusal.reason.value
    assert raised.params == params
    assert raised.message


def test_every_refusal_has_an_error():
    assert {R(reason).error().code for reason in Refusal} == {r.value for r in Refusal}


@pytest.mark.parametrize(
    ("minimum", "limit", "fee_bps"),
    [(0, None, 0), (100, None, -1), (100, None, 10_001), (100, -1, 0)],
)
def test_a_policy_out_of_range_is_refused(minimum, limit, fee_bps):
    with pytest.raises(InvalidRule):
        WithdrawalPolicy(minimum, limit, fee_bps)


fen = st.integers(min_value=-1_000, max_value=10**12)
policies = st.builds(
    WithdrawalPolicy,
    minimum_fen=st.integers(1, 100_000),
    daily_limit_fen=st.none() | st.integers(0, 10**12),
    fee_bps=st.integers(0, 10_000),
)


@given(amount=fen, available=fen, today=st.integers(0, 10**12), policy=policies)
def test_a_quote_splits_the_amount_into_net_and_fee_in_whole_fen(amount, available, today, policy):
    terms = withdrawal_terms(amount, available, today, policy)
    if isinstance(terms, WithdrawalRefusal):
        assert terms.reason in Refusal
        return
    assert type(terms.fee_fen) is int and type(terms.net_fen) is int
    assert 0 <= terms.fee_fen <= terms.amount_fen == amount
    assert terms.net_fen + terms.fee_fen == amount
    # and a quote is only given within the terms
    assert policy.minimum_fen <= amount <= available
    assert policy.daily_limit_fen is None or today + amount <= policy.daily_limit_fen


@given(amount=st.integers(1, 10**12), policy=policies)
def test_the_fee_is_the_policy_rate_rounded_down(amount, policy):
    unlimited = WithdrawalPolicy(policy.minimum_fen, None, policy.fee_bps)
    terms = withdrawal_terms(max(amount, policy.minimum_fen), 10**13, 0, unlimited)
    assert isinstance(terms, WithdrawalQuote)
    exact_times_bps = terms.amount_fen * policy.fee_bps  # integers: no float rounding
    assert terms.fee_fen * 10_000 <= exact_times_bps < (terms.fee_fen + 1) * 10_000

"""Withdrawal terms, with no I/O: whether an amount may be withdrawn, and its fee.

(amount, what is available, what was already withdrawn today, the merchant's policy) -> either a
quote (the fee, and what reaches the distributor) or a named refusal. The service reads the
three figures under the distributor's available-account lock, so concurrent requests see each
other; this module only decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from models.errors import (
    BelowMinimum,
    DomainError,
    InsufficientBalance,
    InvalidAmount,
    InvalidRule,
    OverDailyLimit,
    RealNameRequired,
)
from models.money import BPS, percent_of


@dataclass(frozen=True)
class WithdrawalPolicy:
    """The merchant's withdrawal settings (models.system.Merchant holds them)."""

    minimum_fen: int
    daily_limit_fen: int | None  # None: no daily limit
    fee_bps: int  # rounded down to the fen: the distributor never pays a part fen
    # From this amount the payout needs the payee's real name (商家转账 from 2,000 yuan);
    # None: the channel never asks for it.
    real_name_from_fen: int | None = None

    def __post_init__(self):
        if self.minimum_fen < 1:
            raise InvalidRule("the minimum withdrawal is at least 1 fen", reason="withdraw_min")
        if not 0 <= self.fee_bps <= BPS:
            raise InvalidRule("the fee must be between 0 % and 100 %", reason="withdraw_fee")
        if self.daily_limit_fen is not None and self.daily_limit_fen < 0:
            raise InvalidRule("the daily limit cannot be negative", reason="withdraw_limit")


@dataclass(frozen=True)
class WithdrawalQuote:
    amount_fen: int  # leaves the available balance
    fee_fen: int  # kept by the merchant at payout

    @property
    def net_fen(self) -> int:
        """What the distributor receives."""
        return self.amount_fen - self.fee_fen


class Refusal(StrEnum):
    """Why a withdrawal is refused, in the order they are checked. The value is the code of the
    error the service raises for it (models.errors)."""

    NOT_POSITIVE = InvalidAmount.code
    BELOW_MINIMUM = BelowMinimum.code
    INSUFFICIENT_BALANCE = InsufficientBalance.code
    OVER_DAILY_LIMIT = OverDailyLimit.code
    REAL_NAME_REQUIRED = RealNameRequired.code


@dataclass(frozen=True)
class WithdrawalRefusal:
    reason: Refusal
    minimum_fen: int | None = None  # BELOW_MINIMUM
    needed_fen: int | None = None  # INSUFFICIENT_BALANCE: the amount asked for
    limit_fen: int | None = None  # OVER_DAILY_LIMIT
    left_fen: int | None = None  # OVER_DAILY_LIMIT: what may still be withdrawn today
    from_fen: int | None = None  # REAL_NAME_REQUIRED: the amount from which a name is needed

    def error(self) -> DomainError:
        """The named domain error the bot and the API translate, with its usual parameters."""
        match self.reason:
            case Refusal.NOT_POSITIVE:
                return InvalidAmount(
                    "the amount must be a positive number of fen", reason="not_positive"
                )
            case Refusal.BELOW_MINIMUM:
                return BelowMinimum("below the minimum withdrawal", minimum_fen=self.minimum_fen)
            case Refusal.INSUFFICIENT_BALANCE:
                return InsufficientBalance(
                    "the balance does not cover this amount", needed=self.needed_fen
                )
            case Refusal.OVER_DAILY_LIMIT:
                return OverDailyLimit(
                    "over the daily withdrawal limit",
                    limit_fen=self.limit_fen,
                    left_fen=self.left_fen,
                )
            case Refusal.REAL_NAME_REQUIRED:
                return RealNameRequired(
                    "this amount needs the payee's real name", from_fen=self.from_fen
                )
        raise AssertionError(self.reason)  # every Refusal is matched above


def withdrawal_terms(
    amount_fen: int,
    available_fen: int,
    withdrawn_today_fen: int,
    policy: WithdrawalPolicy,
    payee_named: bool = False,
) -> WithdrawalQuote | WithdrawalRefusal:
    """Quote a withdrawal of `amount_fen`, or refuse it: a non-positive amount, one below the
    minimum, one the available balance does not cover, one that takes today's total
    (`withdrawn_today_fen`, this request left out) past the daily limit, or one from the
    policy's real-name amount (what is transferred, after the fee) when the payee has given no
    real name (`payee_named`). Exactly
    the minimum, exactly the balance and exactly the limit are allowed; exactly the real-name
    amount needs the name."""
    if amount_fen <= 0:
        return WithdrawalRefusal(Refusal.NOT_POSITIVE)
    if amount_fen < policy.minimum_fen:
        return WithdrawalRefusal(Refusal.BELOW_MINIMUM, minimum_fen=policy.minimum_fen)
    if amount_fen > available_fen:
        return WithdrawalRefusal(Refusal.INSUFFICIENT_BALANCE, needed_fen=amount_fen)
    limit = policy.daily_limit_fen
    if limit is not None and withdrawn_today_fen + amount_fen > limit:
        left = max(limit - withdrawn_today_fen, 0)
        return WithdrawalRefusal(Refusal.OVER_DAILY_LIMIT, limit_fen=limit, left_fen=left)
    quote = WithdrawalQuote(amount_fen, percent_of(amount_fen, policy.fee_bps))
    named_from = policy.real_name_from_fen
    if named_from is not None and quote.net_fen >= named_from and not payee_named:
        return WithdrawalRefusal(Refusal.REAL_NAME_REQUIRED, from_fen=named_from)
    return quote

"""Withdrawals: request (available -> held), review, pay out (held -> paid out, or back)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from infra.clock import china_day, china_day_start, now
from infra.db import for_update, locked_or_not_found, unit_of_work
from infra.jobs import enqueue_after_commit
from models import Distributor, LedgerAccount, Merchant, Withdrawal, db
from models.errors import ChannelUnavailable, DistributorNotActive, NotFound
from models.events import WITHDRAWAL_FAILED, WITHDRAWAL_PAID, WITHDRAWAL_REJECTED
from models.ledger import AVAILABLE, FEE_INCOME, HELD, PAID_OUT, account_key
from models.withdrawal_terms import (
    Refusal,
    WithdrawalPolicy,
    WithdrawalRefusal,
    withdrawal_terms,
)
from services.events import record_event
from services.ledger import Leg, ensure_accounts, post
from services.merchant import merchant
from wechat.payouts import TransferRequest, TransferResult

PAYOUT_JOB = "workers.payouts.pay_withdrawal"
COUNTED_STATES = ("requested", "approved", "paying", "paid")


def new_out_bill_no(at: datetime) -> str:
    return "WD" + at.strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def withdrawal_policy(settings: Merchant) -> WithdrawalPolicy:
    return WithdrawalPolicy(
        minimum_fen=settings.withdraw_min_fen,
        daily_limit_fen=settings.withdraw_max_per_day_fen,
        fee_bps=settings.withdraw_fee_bps,
    )


def request_withdrawal(
    distributor_id: int,
    amount_fen: int,
    channel: str = "wechat",
    bank_account: dict | None = None,
) -> Withdrawal:
    """Check the distributor and the channel, then the terms (models.withdrawal_terms), and move
    the amount from available to held, in one transaction.

    The terms are decided on the available balance and today's withdrawals as read under the
    available account's row lock, so concurrent requests of one distributor take turns and each
    sees what the others did. The hold debits available with a conditional update besides, so
    nothing can overdraw it even if that read were wrong."""
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise WithdrawalRefusal(Refusal.NOT_POSITIVE).error()  # before any I/O
    with unit_of_work():
        policy = merchant()
        distributor = db.session.get(Distributor, distributor_id)
        if distributor is None:
            raise NotFound("no such distributor", what="distributor")
        if distributor.status != "active":
            raise DistributorNotActive(
                f"the distributor is {distributor.status}", status=distributor.status
            )
        if channel not in (policy.withdraw_channels or []):
            raise ChannelUnavailable(f"withdrawals to {channel} are not offered", channel=channel)
        if channel == "bank" and not bank_account:
            raise ChannelUnavailable("a bank withdrawal needs the bank account", channel=channel)
        at = now()
        available = account_key(AVAILABLE, distributor.id)
        terms = withdrawal_terms(
            amount_fen,
            available_fen=_lock_balance(available),
            withdrawn_today_fen=_withdrawn_on(distributor.id, china_day(at)),
            policy=withdrawal_policy(policy),
        )
        if isinstance(terms, WithdrawalRefusal):
            raise terms.error()
        withdrawal = Withdrawal(
            out_bill_no=new_out_bill_no(at),
            distributor_id=distributor.id,
            amount_fen=terms.amount_fen,
            fee_fen=terms.fee_fen,
            channel=channel,
            bank_account=bank_account,
            requested_at=at,
        )
        db.session.add(withdrawal)
        db.session.flush()
        post(
            "withdrawal_hold",
            f"withdrawal:{withdrawal.out_bill_no}:hold",
            [Leg(available, -amount_fen), Leg(account_key(HELD, distributor.id), amount_fen)],
            never_negative=[available],
        )
        auto = policy.withdraw_auto_approve_max_fen
        if channel == "wechat" and auto is not None and amount_fen <= auto:
            _approve(withdrawal, "auto")
    return withdrawal


def _lock_balance(key: str) -> int:
    """The account's balance, its row locked until the transaction ends (no account: 0)."""
    stmt = for_update(select(LedgerAccount.balance_fen).where(LedgerAccount.key == key))
    return db.session.scalar(stmt) or 0


def _withdrawn_on(distributor_id: int, day: date) -> int:
    """What the distributor asked to withdraw on that China day, refused requests left out."""
    start = china_day_start(day)
    return db.session.scalar(
        select(func.coalesce(func.sum(Withdrawal.amount_fen), 0)).where(
            Withdrawal.distributor_id == distributor_id,
            Withdrawal.requested_at >= start,
            Withdrawal.requested_at < start + timedelta(days=1),
            Withdrawal.status.in_(COUNTED_STATES),
        )
    )


def _locked(withdrawal_id: int) -> Withdrawal:
    return locked_or_not_found(Withdrawal, withdrawal_id, "withdrawal")


def _approve(withdrawal: Withdrawal, note: str) -> None:
    withdrawal.set_status("approved", note)
    withdrawal.reviewed_at = now()
    if withdrawal.channel == "wechat":
        enqueue_after_commit(PAYOUT_JOB, withdrawal.id, job_id=f"payout-{withdrawal.out_bill_no}")


def approve_withdrawal(withdrawal_id: int) -> Withdrawal:
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        _approve(withdrawal, "merchant")
    return withdrawal


def reject_withdrawal(withdrawal_id: int, reason: str) -> Withdrawal:
    """The merchant refuses a request: the held amount goes back to available."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        withdrawal.set_status("rejected", reason[:200])
        withdrawal.reason, withdrawal.reviewed_at = reason[:200], now()
        _release(withdrawal, "rejected")
        record_event(
            WITHDRAWAL_REJECTED,
            withdrawal.distributor_id,
            out_bill_no=withdrawal.out_bill_no,
            amount_fen=withdrawal.amount_fen,
            reason=reason[:200],
        )
    return withdrawal


def _release(withdrawal: Withdrawal, why: str) -> None:
    d = withdrawal.distributor_id
    post(
        "withdrawal_release",
        f"withdrawal:{withdrawal.out_bill_no}:{why}",
        [
            Leg(account_key(HELD, d), -withdrawal.amount_fen),
            Leg(account_key(AVAILABLE, d), withdrawal.amount_fen),
        ],
    )


def start_payout(withdrawal_id: int) -> TransferRequest | None:
    """Mark the withdrawal as paying (again, on a retry) and return the transfer to make, or
    None when there is nothing to do (already paid or failed, or not a wallet payout)."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status not in ("approved", "paying") or withdrawal.channel != "wechat":
            return None
        if withdrawal.status == "approved":
            withdrawal.set_status("paying")
        withdrawal.attempts += 1
        distributor = db.session.get(Distributor, withdrawal.distributor_id)
        request = TransferRequest(
            withdrawal.out_bill_no, distributor.user.openid, withdrawal.net_fen, "分销佣金提现"
        )
    return request


def finish_payout(withdrawal_id: int, result: TransferResult) -> Withdrawal:
    """Record the provider's definitive answer: held -> paid out, or held -> available."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status != "paying":
            return withdrawal  # a concurrent run already recorded it
        d = withdrawal.distributor_id
        if result.ok:
            withdrawal.set_status("paid")
            withdrawal.paid_at, withdrawal.provider_ref = now(), result.provider_ref
            ensure_accounts(None)
            post(
                "withdrawal_paid",
                f"withdrawal:{withdrawal.out_bill_no}:paid",
                [
                    Leg(account_key(HELD, d), -withdrawal.amount_fen),
                    Leg(account_key(PAID_OUT, d), withdrawal.net_fen),
                    Leg(account_key(FEE_INCOME), withdrawal.fee_fen),
                ],
            )
            record_event(
                WITHDRAWAL_PAID,
                d,
                out_bill_no=withdrawal.out_bill_no,
                amount_fen=withdrawal.net_fen,
            )
        else:
            withdrawal.set_status("failed", (result.reason or "")[:200])
            withdrawal.failed_at, withdrawal.reason = now(), (result.reason or "failed")[:200]
            _release(withdrawal, "failed")
            record_event(
                WITHDRAWAL_FAILED,
                d,
                out_bill_no=withdrawal.out_bill_no,
                amount_fen=withdrawal.amount_fen,
                reason=withdrawal.reason,
            )
    return withdrawal


def mark_paid_manually(withdrawal_id: int, reference: str) -> Withdrawal:
    """A bank-card withdrawal the merchant paid by hand."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        withdrawal.set_status("paying", "manual")
    return finish_payout(withdrawal_id, TransferResult(True, provider_ref=reference[:64]))


def stuck_payouts(older_than: timedelta = timedelta(minutes=10)) -> list[int]:
    """Approved or paying wallet withdrawals whose job may have been lost."""
    cutoff = now() - older_than
    ids = list(
        db.session.scalars(
            select(Withdrawal.id).where(
                Withdrawal.status.in_(("approved", "paying")),
                Withdrawal.channel == "wechat",
                Withdrawal.reviewed_at < cutoff,
            )
        )
    )
    db.session.rollback()
    return ids


def withdrawn_today_fen(distributor_id: int) -> int:
    return _withdrawn_on(distributor_id, china_day(now()))

"""Withdrawals: request (available -> held), review, pay out (held -> paid out, or back)."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select

from infra.clock import china_day, china_day_start, now
from infra.db import for_update, locked_or_not_found, unit_of_work
from infra.jobs import enqueue_after_commit
from models import Distributor, LedgerAccount, Merchant, Withdrawal, db
from models.errors import ChannelUnavailable, DistributorNotActive, InvalidRealName, NotFound
from models.events import (
    WITHDRAWAL_FAILED,
    WITHDRAWAL_PAID,
    WITHDRAWAL_REJECTED,
    WITHDRAWAL_WAITING_USER,
)
from models.identifiers import parse_real_name
from models.ledger import AVAILABLE, FEE_INCOME, HELD, PAID_OUT, account_key
from models.transfer_bills import (
    FAILED,
    MANUAL,
    OPEN_STATES,
    PAID,
    PAYOUT_CHANNELS,
    TRANSFER_BILLS,
    TRANSFER_NAME_FROM_FEN,
    WAITING_USER,
    WECHAT_V2,
    next_status,
)
from models.withdrawal_terms import (
    Refusal,
    WithdrawalPolicy,
    WithdrawalRefusal,
    withdrawal_terms,
)
from services.events import record_event
from services.ledger import Leg, ensure_accounts, post
from services.merchant import merchant
from wechat.pay_v3 import TransferBill
from wechat.payouts import TransferRequest, TransferResult

log = logging.getLogger(__name__)
PAYOUT_JOB = "workers.payouts.pay_withdrawal"
COUNTED_STATES = ("requested", "approved", "paying", "waiting_user", "cancelling", "paid")
TRANSFER_REMARK = "分销佣金提现"


@dataclass(frozen=True)
class PayoutStart(TransferRequest):
    """The transfer to make, and the channel it goes through (fixed on the withdrawal)."""

    via: str = WECHAT_V2
    real_name: str | None = None  # sent from TRANSFER_NAME_FROM_FEN (商家转账)


def pay_v3_configured() -> bool:
    """商家转账 needs WeChat Pay APIv3 (infra.config checks the whole set when any is given)."""
    return bool(current_app.config.get("WECHAT_PAY_PRIVATE_KEY"))


def set_payout_channel(channel: str, cancel_minutes: int | None = None) -> Merchant:
    """The deployment's payout channel for wallet withdrawals, and the time after which an
    unconfirmed 商家转账 bill is cancelled. Withdrawals already started keep their channel."""
    if channel not in PAYOUT_CHANNELS:
        raise ChannelUnavailable(
            f"the payout channel is one of {', '.join(PAYOUT_CHANNELS)}", channel=channel
        )
    if channel == TRANSFER_BILLS and not pay_v3_configured():
        raise ChannelUnavailable(
            "商家转账 needs the WeChat Pay APIv3 settings (WECHAT_PAY_PRIVATE_KEY, ...)",
            channel=channel,
        )
    if cancel_minutes is not None and cancel_minutes < 1:
        raise ChannelUnavailable("the cancel time is at least 1 minute", channel=channel)
    with unit_of_work():
        settings = merchant()
        settings.payout_channel = channel
        if cancel_minutes is not None:
            settings.transfer_cancel_minutes = cancel_minutes
    return settings


def confirm_url(withdrawal_id: int) -> str:
    """The distributor's page that asks WeChat to confirm receipt of a 商家转账 bill."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/me/withdrawals/{withdrawal_id}"


def real_name_url() -> str:
    """The distributor's page where they give the real name a large 商家转账 needs."""
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/me/real-name"


def set_real_name(distributor_id: int, text: str) -> str:
    """Keep the distributor's real name for payouts that need it; returns the name as kept.
    Refused (InvalidRealName) when it cannot be a person's name."""
    name = parse_real_name(text)
    if name is None:
        raise InvalidRealName("not a real name", reason="format")
    with unit_of_work():
        distributor = locked_or_not_found(Distributor, distributor_id, what="distributor")
        distributor.real_name = name
    return name


def new_out_bill_no(at: datetime) -> str:
    return "WD" + at.strftime("%Y%m%d%H%M%S") + secrets.token_hex(5).upper()


def withdrawal_policy(settings: Merchant, channel: str = "wechat") -> WithdrawalPolicy:
    named = channel == "wechat" and settings.payout_channel == TRANSFER_BILLS
    return WithdrawalPolicy(
        minimum_fen=settings.withdraw_min_fen,
        daily_limit_fen=settings.withdraw_max_per_day_fen,
        fee_bps=settings.withdraw_fee_bps,
        real_name_from_fen=TRANSFER_NAME_FROM_FEN if named else None,
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
            policy=withdrawal_policy(policy, channel),
            payee_named=bool(distributor.real_name),
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


def start_payout(withdrawal_id: int) -> PayoutStart | None:
    """Mark the withdrawal as paying (again, on a retry) and return the transfer to make, or
    None when there is nothing to do (already paid, failed or waiting for the user, not a
    wallet payout, or paid by hand). The channel is fixed on the withdrawal the first time, so
    a later change of the merchant's channel never pays it a second way; the out-bill number,
    openid, amount and remark are the same on every retry."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status not in ("approved", "paying") or withdrawal.channel != "wechat":
            return None
        if withdrawal.payout_via is None:
            channel = merchant().payout_channel
            if channel == TRANSFER_BILLS and not pay_v3_configured():
                # Nothing is sent and nothing is fixed: once APIv3 is configured (or the
                # channel changed), the periodic sweep starts it again.
                log.error("withdrawal %s: 商家转账 without APIv3 settings", withdrawal.out_bill_no)
                return None
            withdrawal.payout_via = channel
            if channel == TRANSFER_BILLS and withdrawal.net_fen >= TRANSFER_NAME_FROM_FEN:
                named = db.session.get(Distributor, withdrawal.distributor_id).real_name
                withdrawal.payee_name = named  # None: the job refuses it, the money returns
        if withdrawal.payout_via == MANUAL:
            return None  # the merchant pays it and records it with `withdrawal mark-paid`
        if withdrawal.status == "approved":
            withdrawal.set_status("paying")
        withdrawal.attempts += 1
        distributor = db.session.get(Distributor, withdrawal.distributor_id)
        start = PayoutStart(
            withdrawal.out_bill_no,
            distributor.user.openid,
            withdrawal.net_fen,
            TRANSFER_REMARK,
            via=withdrawal.payout_via,
            real_name=withdrawal.payee_name,
        )
    return start


def finish_payout(withdrawal_id: int, result: TransferResult) -> Withdrawal:
    """Record the provider's definitive answer: held -> paid out, or held -> available."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status != "paying":
            return withdrawal  # a concurrent run already recorded it
        if result.ok:
            _paid(withdrawal, result.provider_ref)
        else:
            _failed(withdrawal, result.reason or "failed")
    return withdrawal


def _paid(withdrawal: Withdrawal, provider_ref: str | None, note: str | None = None) -> None:
    d = withdrawal.distributor_id
    withdrawal.set_status(PAID, note)
    withdrawal.paid_at, withdrawal.provider_ref = now(), provider_ref
    withdrawal.package_info = None
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


def _failed(withdrawal: Withdrawal, reason: str) -> None:
    withdrawal.set_status(FAILED, reason[:200])
    withdrawal.failed_at, withdrawal.reason = now(), (reason or "failed")[:200]
    withdrawal.package_info = None
    _release(withdrawal, "failed")
    record_event(
        WITHDRAWAL_FAILED,
        withdrawal.distributor_id,
        out_bill_no=withdrawal.out_bill_no,
        amount_fen=withdrawal.amount_fen,
        reason=withdrawal.reason,
    )


# -- 商家转账 bills ----------------------------------------------------------------------------

# A bill refused because 2,000 yuan or more needs the payee's real name (not collected yet).
NEEDS_REAL_NAME = "TRANSFER_NEEDS_REAL_NAME"


def record_bill(withdrawal_id: int, bill: TransferBill) -> Withdrawal:
    """Apply what WeChat says of the withdrawal's 商家转账 bill (an answer to create, query or
    cancel, or a notify), exactly once: under the withdrawal's row lock, through
    models.transfer_bills.next_status, so a repeat, a concurrent delivery or a stale answer
    moves nothing; SUCCESS posts held -> paid out and FAIL/CANCELLED held -> available, each
    under its unique ledger reference besides."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if withdrawal.payout_via != TRANSFER_BILLS:
            return withdrawal  # a bill for a withdrawal paid another way: nothing of ours
        withdrawal.bill_checked_at = now()
        target = next_status(withdrawal.status, bill.state)
        if withdrawal.status in OPEN_STATES:
            withdrawal.bill_state = bill.state[:24]
            if bill.package_info and target != FAILED and target != PAID:
                withdrawal.package_info = bill.package_info
        if target is None:
            return withdrawal
        ref = (bill.transfer_bill_no or "")[:64] or None
        if target == PAID:
            _paid(withdrawal, ref or withdrawal.provider_ref, bill.state)
        elif target == FAILED:
            # WeChat's code (MCH_CANCEL, OVERDUE_CLOSE, ...): texts.messages words it for people.
            _failed(withdrawal, bill.fail_reason or bill.state)
            withdrawal.provider_ref = ref or withdrawal.provider_ref
        else:
            withdrawal.set_status(target, bill.state)
            withdrawal.provider_ref = ref or withdrawal.provider_ref
            if target == WAITING_USER and withdrawal.waiting_since is None:
                withdrawal.waiting_since = now()
                # cancel_unconfirmed_transfers cancels it from then on (unconfirmed_bills)
                confirm_by = withdrawal.waiting_since + timedelta(
                    minutes=merchant().transfer_cancel_minutes
                )
                record_event(
                    WITHDRAWAL_WAITING_USER,
                    withdrawal.distributor_id,
                    out_bill_no=withdrawal.out_bill_no,
                    amount_fen=withdrawal.net_fen,
                    url=confirm_url(withdrawal.id),
                    confirm_by=confirm_by.isoformat(),
                )
    return withdrawal


def bill_request(withdrawal_id: int) -> PayoutStart | None:
    """The create request of a 商家转账 withdrawal waiting for the user whose package_info is
    not known (WeChat's query does not return it; a repeat create with the same number and
    parameters does), else None."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if (
            withdrawal.payout_via != TRANSFER_BILLS
            or withdrawal.status != WAITING_USER
            or withdrawal.package_info
        ):
            return None
        distributor = db.session.get(Distributor, withdrawal.distributor_id)
        start = PayoutStart(
            withdrawal.out_bill_no,
            distributor.user.openid,
            withdrawal.net_fen,
            TRANSFER_REMARK,
            via=TRANSFER_BILLS,
            real_name=withdrawal.payee_name,
        )
    return start


def bill_refused(withdrawal_id: int, reason: str) -> Withdrawal:
    """WeChat refused to make the bill, and a query found none under its number: it never
    existed, so the money goes back (held -> available), once."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if withdrawal.status == "paying" and withdrawal.payout_via == TRANSFER_BILLS:
            withdrawal.bill_checked_at = now()
            _failed(withdrawal, reason)
    return withdrawal


def by_out_bill_no(out_bill_no: str) -> int | None:
    found = db.session.scalar(select(Withdrawal.id).where(Withdrawal.out_bill_no == out_bill_no))
    db.session.rollback()
    return found


def status_of(withdrawal_id: int) -> str | None:
    found = db.session.scalar(select(Withdrawal.status).where(Withdrawal.id == withdrawal_id))
    db.session.rollback()
    return found


def out_bill_no_of(withdrawal_id: int) -> str:
    found = db.session.scalar(select(Withdrawal.out_bill_no).where(Withdrawal.id == withdrawal_id))
    db.session.rollback()
    if found is None:
        raise NotFound("no such withdrawal", what="withdrawal")
    return found


def open_bills(older_than: timedelta) -> list[int]:
    """商家转账 withdrawals not settled yet and not heard of for `older_than`: the query job asks
    WeChat about them (a notify that never came, or was lost)."""
    cutoff = now() - older_than
    ids = list(
        db.session.scalars(
            select(Withdrawal.id)
            .where(
                Withdrawal.payout_via == TRANSFER_BILLS,
                Withdrawal.status.in_(OPEN_STATES),
                # Never heard of: counted from the review, so a create in flight is left to its
                # job rather than queried at the same moment.
                or_(
                    and_(Withdrawal.bill_checked_at.is_(None), Withdrawal.reviewed_at < cutoff),
                    Withdrawal.bill_checked_at < cutoff,
                ),
            )
            .order_by(Withdrawal.id)
        )
    )
    db.session.rollback()
    return ids


def unconfirmed_bills() -> list[int]:
    """Bills waiting for the user longer than the merchant allows (transfer_cancel_minutes)."""
    cutoff = now() - timedelta(minutes=merchant().transfer_cancel_minutes)
    ids = list(
        db.session.scalars(
            select(Withdrawal.id)
            .where(
                Withdrawal.payout_via == TRANSFER_BILLS,
                Withdrawal.status == WAITING_USER,
                Withdrawal.waiting_since < cutoff,
            )
            .order_by(Withdrawal.id)
        )
    )
    db.session.rollback()
    return ids


def waiting_for_user(distributor_id: int) -> list[tuple[int, int]]:
    """(id, net fen) of the distributor's withdrawals whose bill waits for them to confirm."""
    rows = [
        (row.id, row.amount_fen - row.fee_fen)
        for row in db.session.execute(
            select(Withdrawal.id, Withdrawal.amount_fen, Withdrawal.fee_fen)
            .where(Withdrawal.distributor_id == distributor_id, Withdrawal.status == WAITING_USER)
            .order_by(Withdrawal.id)
        )
    ]
    db.session.rollback()
    return rows


def paid_by_hand(withdrawal: Withdrawal) -> bool:
    """Whether the merchant pays this withdrawal by hand: a bank card, or a wallet withdrawal
    on the manual channel (fixed on it, or the merchant's while its payout has not started)."""
    if withdrawal.channel == "bank":
        return True
    if withdrawal.payout_via is not None:
        return withdrawal.payout_via == MANUAL
    return merchant().payout_channel == MANUAL


def mark_paid_manually(withdrawal_id: int, reference: str) -> Withdrawal:
    """A withdrawal the merchant paid by hand (paid_by_hand), recorded with the payment's
    reference. One WeChat pays, or may still pay, is refused (ChannelUnavailable): marking it
    paid as well could pay it twice. A wallet withdrawal whose payout had not started gets the
    manual channel fixed now, as start_payout would, so its payout job sends nothing; a run
    that stopped between its two steps (left `paying`) is finished by running it again."""
    with unit_of_work():
        withdrawal = _locked(withdrawal_id)
        if not paid_by_hand(withdrawal):
            raise ChannelUnavailable(
                f"withdrawal {withdrawal.out_bill_no} is paid through {withdrawal.payout_via}",
                channel=withdrawal.payout_via,
            )
        if withdrawal.channel == "wechat" and withdrawal.payout_via is None:
            withdrawal.payout_via = MANUAL
        if withdrawal.status != "paying":
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
                or_(Withdrawal.payout_via.is_(None), Withdrawal.payout_via != MANUAL),
            )
        )
    )
    db.session.rollback()
    return ids


def withdrawn_today_fen(distributor_id: int) -> int:
    return _withdrawn_on(distributor_id, china_day(now()))

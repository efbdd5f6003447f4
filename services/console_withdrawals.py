"""The console's withdrawals: the audit queue and every other status by filter, a withdrawal's
whole story (status history, distributor, ledger), batch approval, and "retry" of a payout that
stalled.

Reviewing and paying stay in services.withdrawals (the money path); this module reads for the
pages and decides what the console may offer. Each approval is its own transaction under the
withdrawal's row lock, so two staff approving the same request at once make one approval and
the other is told it was already decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select

from infra.clock import china_day_start, now
from infra.db import locked_or_not_found, unit_of_work
from infra.jobs import enqueue_after_commit
from models import (
    AuditEntry,
    Distributor,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    User,
    Withdrawal,
    db,
)
from models.errors import InvalidQuery, InvalidTransition, NotFound
from models.events import StatusChange
from models.identifiers import parse_code
from models.states import WITHDRAWAL
from models.transfer_bills import MANUAL, OPEN_STATES, PAYOUT_CHANNELS, TRANSFER_BILLS
from services import withdrawals
from services.audit import Actor
from services.ledger import balances
from services.merchant import merchant
from services.paging import Page, keyset_page

ALL = "all"
STATUSES = tuple(WITHDRAWAL)  # the state machine's order: requested first
CHANNELS = ("wechat", "bank")
NO_PAYOUT = "none"  # payout_via not fixed yet (not approved, or its job has not started)
# sort name -> (column, newest or largest first)
SORTS = {
    "oldest": (Withdrawal.requested_at, False),
    "newest": (Withdrawal.requested_at, True),
    "amount_desc": (Withdrawal.amount_fen, True),
    "amount_asc": (Withdrawal.amount_fen, False),
}
# The engine's own patience (services.withdrawals.stuck_payouts' default): a payout this long
# after its review, or a bill not heard of for this long, has stalled; before, its job or the
# notify is still expected.
STUCK_AFTER = timedelta(minutes=10)
PAY_JOB = withdrawals.PAYOUT_JOB
QUERY_JOB = "workers.payouts.sync_transfer_bill"
BATCH_MAX = 100
REASON_MAX = 200
REFERENCE_MAX = 64
EXPORT_BATCH = 500


@dataclass(frozen=True)
class Filters:
    status: str = "requested"  # one of STATUSES, or ALL
    channel: str | None = None
    payout_via: str | None = None  # one of PAYOUT_CHANNELS, or NO_PAYOUT
    day_from: date | None = None  # China days, both included
    day_to: date | None = None
    code: str | None = None  # the distributor's code
    sort: str = "oldest"


def filters_from(args: Mapping[str, str]) -> Filters:
    """The list's filters from a query string; InvalidQuery for a value no form offers."""
    status = args.get("status") or "requested"
    channel = args.get("channel") or None
    via = args.get("payout_via") or None
    sort = args.get("sort") or "oldest"
    if status not in (*STATUSES, ALL):
        raise InvalidQuery("unknown status", reason="status")
    if channel is not None and channel not in CHANNELS:
        raise InvalidQuery("unknown channel", reason="channel")
    if via is not None and via not in (*PAYOUT_CHANNELS, NO_PAYOUT):
        raise InvalidQuery("unknown payout channel", reason="payout_via")
    if sort not in SORTS:
        raise InvalidQuery("unknown sort", reason="sort")
    code_text = (args.get("code") or "").strip()[:32]
    return Filters(
        status=status,
        channel=channel,
        payout_via=via,
        day_from=_day(args.get("from")),
        day_to=_day(args.get("to")),
        # A text that is no code can match no one: it is kept (lowered) so the list is empty,
        # rather than dropped, which would list everyone's.
        code=parse_code(code_text) or (code_text.lower() or None),
        sort=sort,
    )


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text) if len(text) == 10 else _bad_day()
    except ValueError:
        return _bad_day()


def _bad_day():
    raise InvalidQuery("a day is YYYY-MM-DD", reason="day")


def _filtered(f: Filters):
    query = select(Withdrawal)
    if f.status != ALL:
        query = query.where(Withdrawal.status == f.status)
    if f.channel:
        query = query.where(Withdrawal.channel == f.channel)
    if f.payout_via == NO_PAYOUT:
        query = query.where(Withdrawal.payout_via.is_(None))
    elif f.payout_via:
        query = query.where(Withdrawal.payout_via == f.payout_via)
    if f.day_from:
        query = query.where(Withdrawal.requested_at >= china_day_start(f.day_from))
    if f.day_to:
        end = china_day_start(f.day_to + timedelta(days=1))
        query = query.where(Withdrawal.requested_at < end)
    if f.code:
        owner = select(Distributor.id).where(Distributor.code == f.code)
        query = query.where(Withdrawal.distributor_id.in_(owner))
    return query


@dataclass(frozen=True)
class Row:
    withdrawal: Withdrawal
    code: str
    nickname: str
    confirm_by: datetime | None  # 商家转账 waiting for the user: cancelled after this


def list_page(f: Filters, cursor: str | None, limit: int = 50) -> Page[Row]:
    """One keyset page of the filtered withdrawals in the chosen order (InvalidCursor on a
    cursor this list and sort did not make)."""
    column, descending = SORTS[f.sort]
    page = keyset_page(
        _filtered(f),
        Withdrawal.id,
        cursor,
        limit,
        sort_column=column,
        descending=descending,
        kind=f"console-withdrawals:{f.sort}",
    )
    return Page(_rows(page.items), page.next_cursor)


def export_rows(f: Filters) -> Iterator[Row]:
    """Every filtered withdrawal in the list's order, read a batch at a time (a CSV stream)."""
    column, descending = SORTS[f.sort]
    order = [column.desc(), Withdrawal.id.desc()] if descending else [column, Withdrawal.id]
    result = db.session.scalars(
        _filtered(f).order_by(*order).execution_options(yield_per=EXPORT_BATCH)
    )
    for batch in result.partitions(EXPORT_BATCH):
        yield from _rows(batch)


def _rows(items: Iterable[Withdrawal]) -> list[Row]:
    items = list(items)
    people = _people({w.distributor_id for w in items})
    cancel_after = timedelta(minutes=merchant().transfer_cancel_minutes) if items else None
    return [
        Row(w, *people.get(w.distributor_id, ("", "")), _confirm_by(w, cancel_after)) for w in items
    ]


def _people(distributor_ids: set[int]) -> dict[int, tuple[str, str]]:
    """distributor id -> (code, nickname)."""
    if not distributor_ids:
        return {}
    rows = db.session.execute(
        select(Distributor.id, Distributor.code, User.nickname)
        .join(User, User.id == Distributor.user_id)
        .where(Distributor.id.in_(distributor_ids))
    )
    return {row.id: (row.code, row.nickname) for row in rows}


def _confirm_by(w: Withdrawal, cancel_after: timedelta | None) -> datetime | None:
    if w.status != "waiting_user" or w.waiting_since is None or cancel_after is None:
        return None
    return w.waiting_since + cancel_after


# -- retry -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPlan:
    job: str | None  # the job a retry enqueues again; None: no retry
    refusal: str | None = None  # why not (texts.console_withdrawals.retry_refusal)

    @property
    def queries(self) -> bool:
        return self.job == QUERY_JOB


def plan_retry(w: Withdrawal, at: datetime) -> RetryPlan:
    """What "retry" means for this withdrawal now. A retry never makes a new payout: it puts
    back on the queue the job the engine's own sweeps would run for it, with the same
    withdrawal and so the same out_bill_no, the provider's idempotency key (docs/money.md,
    payout idempotency):

    - approved or paying, paid by WeChat Pay v2 or not started: `workers.payouts.pay_withdrawal`
      (what retry_stuck_payouts enqueues). start_payout sends nothing for a withdrawal already
      paid, failed or waiting, and the provider answers a repeated number with the same transfer.
    - a 商家转账 bill not settled (paying, waiting for the user, cancelling):
      `workers.payouts.sync_transfer_bill` (what sync_transfer_bills runs): it queries the bill by
      its number and applies the answer through record_bill, exactly once; if WeChat has no bill
      under it, it enqueues pay_withdrawal, which creates the bill under the same number.

    Offered only once the payout has stalled: STUCK_AFTER after the review (or after WeChat was
    last heard about the bill); before, its job or the notify is still on its way. Never for a
    failed withdrawal: its money is already back in `available` and its number is spent at the
    provider; the distributor asks again (a new withdrawal, a new number). Never for one paid by
    hand (bank card, or the manual channel): the merchant records it with mark-paid. Requested,
    rejected and paid withdrawals have nothing to retry."""
    if w.status == "failed":
        return RetryPlan(None, "failed")
    if w.status in ("paid", "rejected"):
        return RetryPlan(None, "settled")
    if w.status == "requested":
        return RetryPlan(None, "requested")
    if w.channel != "wechat" or w.payout_via == MANUAL:
        return RetryPlan(None, "manual")
    if w.payout_via == TRANSFER_BILLS and w.status in OPEN_STATES:
        heard = w.bill_checked_at or w.reviewed_at
        job = QUERY_JOB
    else:
        heard = w.reviewed_at
        job = PAY_JOB
    if heard is not None and heard > at - STUCK_AFTER:
        return RetryPlan(None, "in_progress")
    return RetryPlan(job)


def retry_payout(withdrawal_id: int, actor: Actor) -> RetryPlan:
    """Enqueue the withdrawal's payout or query job again (plan_retry), after commit, and
    record who asked in the audit log: the withdrawal's row does not change, so the audit's
    flush listener would write nothing. InvalidTransition (params: reason) when not offered."""
    with unit_of_work():
        w = locked_or_not_found(Withdrawal, withdrawal_id, "withdrawal")
        plan = plan_retry(w, now())
        if plan.job is None:
            raise InvalidTransition(
                f"no retry for a {w.status} withdrawal", reason=plan.refusal, current=w.status
            )
        enqueue_after_commit(plan.job, w.id)
        seen = {"status": w.status, "attempts": w.attempts, "bill_state": w.bill_state}
        db.session.add(
            AuditEntry(
                staff_id=actor.staff_id,
                staff_name=actor.staff_name[:32],
                action="withdrawal.retry",
                entity=Withdrawal.__tablename__,
                entity_id=w.id,
                before=seen,
                after={**seen, "job": plan.job, "out_bill_no": w.out_bill_no},
                ip=actor.ip[:45],
                created_at=now(),
            )
        )
    return plan


# -- decisions ---------------------------------------------------------------------------------


@dataclass
class BatchResult:
    approved: list[Withdrawal] = field(default_factory=list)
    refused: list[tuple[int, str | None]] = field(default_factory=list)  # (id, status or None)


def approve_many(withdrawal_ids: Iterable[int]) -> BatchResult:
    """Approve each requested withdrawal in its own transaction (services.withdrawals, under
    its row lock); one already decided, by someone else or a moment ago, is refused alone and
    reported with the status it has now (None: no such withdrawal)."""
    result = BatchResult()
    for withdrawal_id in dict.fromkeys(withdrawal_ids):  # each once, in the order given
        try:
            result.approved.append(withdrawals.approve_withdrawal(withdrawal_id))
        except InvalidTransition as e:
            result.refused.append((withdrawal_id, e.params.get("current")))
        except NotFound:
            result.refused.append((withdrawal_id, None))
    return result


def clean_text(text: str | None, longest: int) -> str | None:
    """A reason or reference as typed, trimmed; None when empty, too long or holding control
    characters (a form error, not a truncation)."""
    cleaned = (text or "").strip()
    if not cleaned or len(cleaned) > longest:
        return None
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in cleaned):
        return None
    return cleaned


# -- one withdrawal ----------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerLine:
    at: datetime
    kind: str  # withdrawal_hold, withdrawal_paid, withdrawal_release
    reference: str
    account: str
    amount_fen: int


@dataclass(frozen=True)
class Detail:
    withdrawal: Withdrawal
    distributor: Distributor
    nickname: str
    balances: dict[str, int]
    history: list[StatusChange]
    ledger: list[LedgerLine]
    confirm_by: datetime | None
    retry: RetryPlan
    may_mark_paid: bool


def detail(withdrawal_id: int) -> Detail:
    """A withdrawal, its distributor and balances, its status history and its ledger postings
    (NotFound for an unknown id)."""
    w = db.session.get(Withdrawal, withdrawal_id)
    if w is None:
        raise NotFound("no such withdrawal", what="withdrawal")
    distributor = db.session.get(Distributor, w.distributor_id)
    history = list(
        db.session.scalars(
            select(StatusChange)
            .where(StatusChange.entity == Withdrawal.__tablename__, StatusChange.entity_id == w.id)
            .order_by(StatusChange.id)
        )
    )
    cancel_after = timedelta(minutes=merchant().transfer_cancel_minutes)
    return Detail(
        withdrawal=w,
        distributor=distributor,
        nickname=distributor.user.nickname,
        balances=balances(distributor.id),
        history=history,
        ledger=_ledger(w.out_bill_no),
        confirm_by=_confirm_by(w, cancel_after),
        retry=plan_retry(w, now()),
        may_mark_paid=w.status in ("approved", "paying") and withdrawals.paid_by_hand(w),
    )


def _ledger(out_bill_no: str) -> list[LedgerLine]:
    prefix = f"withdrawal:{out_bill_no}:"
    rows = db.session.execute(
        select(
            LedgerTransaction.created_at,
            LedgerTransaction.kind,
            LedgerTransaction.reference,
            LedgerAccount.key,
            LedgerEntry.amount_fen,
        )
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .where(LedgerTransaction.reference.startswith(prefix, autoescape=True))
        .order_by(LedgerTransaction.id, LedgerEntry.id)
    )
    return [LedgerLine(*row) for row in rows]

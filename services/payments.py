"""WeChat Pay notifies, once verified (wechat.pay_v3), handed to the engine: each handled once.

WeChat delivers a notify again until it gets a 2xx, and may deliver it twice at once. The effect
is made idempotent by the engine's own key (a payment is unique on WeChat's transaction id in
`payments`), and the handling is recorded once in `pay_notifications`, unique on the kind and
WeChat's id. The effect runs first and the record second: a crash between the two leaves no
record, so the next delivery runs the (idempotent) effect again and records it. Recording first
could lose a payment for good.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select

from infra.db import insert_ignore, unit_of_work
from models import Order, PayNotification, Refund, db
from models.errors import NotFound, OrderError
from models.payments import REFUND, TRANSACTION, TRANSFER
from services import orders, refund_requests, withdrawals
from wechat.pay_v3 import NotifyMalformed, PayNotice, TransferBill

log = logging.getLogger(__name__)

EVENT_PREFIX = {TRANSACTION: "TRANSACTION.", REFUND: "REFUND.", TRANSFER: "MCHTRANSFER."}
ID_FIELD = {TRANSACTION: "transaction_id", REFUND: "refund_id", TRANSFER: "transfer_bill_no"}
OUT_FIELD = {TRANSACTION: "out_trade_no", REFUND: "out_refund_no", TRANSFER: "out_bill_no"}
STATE_FIELD = {TRANSACTION: "trade_state", REFUND: "refund_status", TRANSFER: "state"}


@dataclass(frozen=True)
class NotifyOutcome:
    kind: str
    resource_id: str
    outcome: str
    duplicate: bool  # this notify had been handled before


@dataclass(frozen=True)
class _Parsed:
    resource_id: str
    out_no: str
    state: str


def handle_notice(kind: str, notice: PayNotice) -> NotifyOutcome:
    """Handle a verified notify of `kind` (transaction, refund, transfer) once.

    NotifyMalformed when it is not a notify of that kind (answered 400). Anything the engine
    refuses for good (an unknown order, a paid amount that differs) is recorded with its reason
    and logged for the merchant: WeChat's retries could not change it."""
    parsed = _parse(kind, notice)
    done = db.session.scalar(
        select(PayNotification.outcome).where(
            PayNotification.kind == kind, PayNotification.resource_id == parsed.resource_id
        )
    )
    db.session.rollback()  # end the read; each step below owns its transaction
    if done is not None:
        return NotifyOutcome(kind, parsed.resource_id, done, duplicate=True)
    handler = {TRANSACTION: _transaction, REFUND: _refund, TRANSFER: _transfer}[kind]
    outcome = handler(notice.resource, parsed)
    with unit_of_work():
        result = db.session.execute(
            insert_ignore(
                PayNotification.__table__,
                [
                    {
                        "kind": kind,
                        "resource_id": parsed.resource_id,
                        "notify_id": notice.notify_id,
                        "event_type": notice.event_type,
                        "out_no": parsed.out_no,
                        "state": parsed.state,
                        "outcome": outcome,
                        "resource": notice.resource,
                        "created_at": datetime.now(UTC),
                    }
                ],
                ["kind", "resource_id"],
            )
        )
    # rowcount 0: a concurrent delivery recorded it first (the effect ran once, by its own key).
    return NotifyOutcome(kind, parsed.resource_id, outcome, duplicate=result.rowcount == 0)


def _parse(kind: str, notice: PayNotice) -> _Parsed:
    if not notice.event_type.startswith(EVENT_PREFIX[kind]):
        raise NotifyMalformed(f"a {notice.event_type} notify is not a {kind} notify")
    resource = notice.resource
    values = [resource.get(f[kind]) for f in (ID_FIELD, OUT_FIELD, STATE_FIELD)]
    if not all(isinstance(v, str) and 0 < len(v) <= 64 for v in values):
        raise NotifyMalformed(
            f"the {kind} resource lacks {ID_FIELD[kind]}, its out-number or state"
        )
    # WeChat's documents name it mchid in payments and refunds, mch_id in 商家转账 bills.
    for field in ("mchid", "mch_id"):
        if field in resource and resource[field] != current_app.config.get("WECHAT_PAY_MCH_ID"):
            raise NotifyMalformed(f"the {kind} resource is for another merchant")
    return _Parsed(*values)


def _transaction(resource: dict[str, Any], parsed: _Parsed) -> str:
    """「支付成功回调通知」: TRANSACTION.SUCCESS records the payment once (services.orders)."""
    if parsed.state != "SUCCESS":
        return "ignored"
    total = (resource.get("amount") or {}).get("total")
    if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
        raise NotifyMalformed("the transaction resource lacks amount.total")
    return book_transaction(
        parsed.resource_id, parsed.out_no, total, rfc3339_utc(resource.get("success_time"))
    )


def book_transaction(
    transaction_id: str, order_no: str, total_fen: int, paid_at: datetime | None = None
) -> str:
    """Book a successful WeChat Pay transaction, told by its notify or found by a query (the
    same path, so it is booked once whichever comes first). Returns the outcome: paid,
    payment_duplicate, refund_due (it paid an order already cancelled: refunded after the
    commit), unknown_order, or the engine's reason for not booking it."""
    try:
        paid = orders.record_payment(transaction_id, order_no, total_fen, "wechat", paid_at)
    except NotFound:
        log.error(
            "WeChat Pay paid %s fen for unknown order %s (transaction %s): refund by hand",
            total_fen,
            order_no,
            transaction_id,
        )
        return "unknown_order"
    except OrderError as e:
        # A different amount, or a second transaction for a paid order: money came in that
        # the engine will not book. Recorded and logged for the merchant to refund.
        log.error(
            "WeChat Pay transaction %s for order %s not booked: %s",
            transaction_id,
            order_no,
            e.message,
        )
        return str(e.params.get("reason") or "refused")[:32]
    if paid.refund_due:
        if not paid.duplicate:
            log.warning("order %s was paid after it was cancelled: refunding it", order_no)
        return "refund_due"
    return "payment_duplicate" if paid.duplicate else "paid"


def _refund(resource: dict[str, Any], parsed: _Parsed) -> str:
    """「退款结果通知」: booked once by book_refund."""
    order_no = resource.get("out_trade_no")
    refunded = (resource.get("amount") or {}).get("refund")
    if parsed.state != "SUCCESS":
        return book_refund(
            parsed.out_no, order_no if isinstance(order_no, str) else "", parsed.state, 0
        )
    if not isinstance(order_no, str) or not isinstance(refunded, int) or isinstance(refunded, bool):
        raise NotifyMalformed("the refund resource lacks out_trade_no or amount.refund")
    if refunded <= 0:
        raise NotifyMalformed("the refund resource's amount.refund is not positive")
    return book_refund(parsed.out_no, order_no, parsed.state, refunded)


def book_refund(out_refund_no: str, order_no: str, state: str, refunded_fen: int) -> str:
    """Book a refund's final state, told by its notify or found by a query: a shopper's refund
    request is completed on its line (or failed) by services.refund_requests; the refund of a
    payment on a cancelled order is recorded; any other refund (the merchant's own) goes
    through services.orders.refund_order, idempotent on the refund number, which reverses the
    refunded lines' commissions in proportion. A refund that ends CLOSED or ABNORMAL moved no
    money: nothing is reversed. PROCESSING is not final: nothing is booked."""
    if state == "PROCESSING":
        return "refund_processing"
    request_id = refund_requests.by_refund_no(out_refund_no)
    if request_id is not None:
        return refund_requests.record_refund_result(request_id, state, refunded_fen)
    if state != "SUCCESS":
        log.warning("WeChat Pay refund %s ended %s", out_refund_no, state)
        return f"refund_{state.lower()}"[:32]
    order_id = db.session.scalar(select(Order.id).where(Order.order_no == order_no))
    booked = db.session.scalar(select(Refund.id).where(Refund.refund_no == out_refund_no))
    db.session.rollback()
    if order_id is None:
        log.error("WeChat Pay refunded %s for unknown order %s", out_refund_no, order_no)
        return "unknown_order"
    if booked is not None:
        return "refund_booked_before"
    try:
        if out_refund_no == orders.cancelled_refund_no(order_no):
            orders.record_cancelled_refund(order_id, out_refund_no, refunded_fen)
            return "cancelled_refunded"
        orders.refund_order(order_id, out_refund_no, amount_fen=refunded_fen, reason="微信支付退款")
    except OrderError as e:
        log.error("WeChat Pay refund %s for order %s not booked: %s", out_refund_no, order_no, e)
        return str(e.params.get("reason") or "refused")[:32]
    return "reversed"


def _transfer(resource: dict[str, Any], parsed: _Parsed) -> str:
    """「商家转账回调通知」 MCHTRANSFER.BILL.FINISHED: the bill's final state applied to its
    withdrawal once (services.withdrawals.record_bill, under the withdrawal's row lock: SUCCESS
    held -> paid out, FAIL or CANCELLED held -> available; a repeat or a concurrent delivery
    finds it settled and moves nothing)."""
    withdrawal_id = withdrawals.by_out_bill_no(parsed.out_no)
    if withdrawal_id is None:
        log.warning("WeChat Pay transfer %s for unknown bill %s", parsed.resource_id, parsed.out_no)
        return "unknown_bill"
    fail_reason = resource.get("fail_reason")
    bill = TransferBill(
        out_bill_no=parsed.out_no,
        transfer_bill_no=parsed.resource_id,
        state=parsed.state,
        fail_reason=fail_reason if isinstance(fail_reason, str) else None,
    )
    before = withdrawals.status_of(withdrawal_id)
    after = withdrawals.record_bill(withdrawal_id, bill).status
    if after == before:
        return f"transfer_{parsed.state.lower()}"[:32]
    return f"withdrawal_{after}"[:32]


def rfc3339_utc(value) -> datetime | None:
    """WeChat's RFC 3339 times (2018-06-08T10:34:56+08:00) as UTC; None when absent or odd."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else None

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
from services import orders, withdrawals
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
    try:
        paid = orders.record_payment(
            parsed.resource_id, parsed.out_no, total, "wechat", _time(resource.get("success_time"))
        )
    except NotFound:
        log.error(
            "WeChat Pay paid %s fen for unknown order %s (transaction %s): refund by hand",
            total,
            parsed.out_no,
            parsed.resource_id,
        )
        return "unknown_order"
    except OrderError as e:
        # An order cancelled unpaid and paid afterwards, or a different amount: money came in
        # that the engine will not book. Recorded and logged for the merchant to refund.
        log.error(
            "WeChat Pay transaction %s for order %s not booked: %s",
            parsed.resource_id,
            parsed.out_no,
            e.message,
        )
        return str(e.params.get("reason") or "refused")[:32]
    return "payment_duplicate" if paid.duplicate else "paid"


def _refund(resource: dict[str, Any], parsed: _Parsed) -> str:
    """「退款结果通知」: REFUND.SUCCESS books the refund in the engine once, which reverses the
    refunded lines' commissions in proportion (services.orders.refund_order, idempotent on the
    refund number, so a refund the merchant already booked is not booked twice). A refund that
    ends CLOSED or ABNORMAL moved no money: recorded and logged, nothing reversed."""
    if parsed.state != "SUCCESS":
        log.warning("WeChat Pay refund %s ended %s", parsed.out_no, parsed.state)
        return f"refund_{parsed.state.lower()}"[:32]
    order_no = resource.get("out_trade_no")
    refunded = (resource.get("amount") or {}).get("refund")
    if not isinstance(order_no, str) or not isinstance(refunded, int) or isinstance(refunded, bool):
        raise NotifyMalformed("the refund resource lacks out_trade_no or amount.refund")
    if refunded <= 0:
        raise NotifyMalformed("the refund resource's amount.refund is not positive")
    order_id = db.session.scalar(select(Order.id).where(Order.order_no == order_no))
    booked = db.session.scalar(select(Refund.id).where(Refund.refund_no == parsed.out_no))
    db.session.rollback()
    if order_id is None:
        log.error("WeChat Pay refunded %s for unknown order %s", parsed.out_no, order_no)
        return "unknown_order"
    if booked is not None:
        return "refund_booked_before"
    try:
        orders.refund_order(order_id, parsed.out_no, amount_fen=refunded, reason="微信支付退款")
    except OrderError as e:
        log.error("WeChat Pay refund %s for order %s not booked: %s", parsed.out_no, order_no, e)
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


def _time(value) -> datetime | None:
    """WeChat's RFC 3339 times (2018-06-08T10:34:56+08:00) as UTC; None when absent or odd."""
    if not isinstance(value, str):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at.astimezone(UTC) if at.tzinfo else None

"""The shop's WeChat Pay jobs: close a cancelled order's transaction, give back a payment that
came after its order was cancelled, send an approved refund request, and the sweeps that find
what a lost notify or a lost job left behind. Each is safe to run twice: WeChat closes and
refunds once per number, and the engine books each answer once."""

from __future__ import annotations

import logging
from datetime import timedelta

from infra.clock import now
from models import Order, db
from services import checkout, orders, payments, refund_requests
from texts import messages
from wechat.pay_v3 import PayOutcomeUnknown, PayRefused, RefundResult, pay_gateway

log = logging.getLogger(__name__)

# A prepay this old with no notify yet is asked about; refunds likewise.
SYNC_AFTER = timedelta(minutes=5)
# WeChat's answers when there is no transaction (never prepaid there, or long expired).
NO_ORDER_CODES = {"ORDER_NOT_EXIST", "ORDERNOTEXIST", "RESOURCE_NOT_EXISTS", "NOT_FOUND"}
FINAL_REFUND_STATES = {"SUCCESS", "CLOSED", "ABNORMAL"}


def close_transaction(order_id: int) -> str:
    """「关闭订单」 for a cancelled order's prepaid transaction, so it can no longer be paid. A
    close refused because it was paid meanwhile: the payment is queried and booked (on a
    cancelled order that means refunded)."""
    order = db.session.get(Order, order_id)
    if order is None or order.status != "cancelled":
        db.session.rollback()
        return "nothing to do"
    order_no = order.order_no
    db.session.rollback()
    try:
        pay_gateway().close_transaction(order_no)
    except PayRefused as e:
        if e.code in NO_ORDER_CODES or e.status == 404:
            return "no transaction"
        log.warning("close of order %s refused (%s): asking whether it was paid", order_no, e)
        return checkout.sync_transaction(order_no)
    # PayOutcomeUnknown propagates: RQ retries the same close.
    return "closed"


def refund_cancelled_payment(order_id: int) -> str:
    """Give back, in full, a payment that landed on an order already cancelled, under the
    order's one refund number (WeChat refunds a number once, however often it is asked)."""
    payment = orders.cancelled_payment(order_id)
    if payment is None:
        db.session.rollback()
        return "nothing to do"
    amount = payment.amount_fen
    order_no = db.session.get(Order, order_id).order_no
    reason = messages.cancelled_payment_refund_reason()
    db.session.rollback()
    refund_no = orders.cancelled_refund_no(order_no)
    try:
        result = pay_gateway().refund(refund_no, order_no, amount, amount, reason)
    except PayRefused as e:
        log.error("refund %s of cancelled order %s refused: %s", refund_no, order_no, e)
        return "refused"
    return _book(result, order_no)


def send_refund(request_id: int) -> str:
    """「退款申请」 for an approved refund request, under its own refund number."""
    due = refund_requests.refund_to_send(request_id)
    if due is None:
        return "nothing to do"
    try:
        result = pay_gateway().refund(
            due["refund_no"], due["order_no"], due["amount_fen"], due["total_fen"], due["reason"]
        )
    except PayRefused as e:
        log.error("refund %s refused by WeChat Pay: %s", due["refund_no"], e)
        return refund_requests.refund_refused(request_id, e.code)
    return _book(result, due["order_no"])


def _book(result: RefundResult, order_no: str) -> str:
    """A refund's answer booked as its notify would be; PROCESSING waits for the notify."""
    if result.status not in FINAL_REFUND_STATES:
        return result.status.lower() or "processing"
    return payments.book_refund(result.out_refund_no, order_no, result.status, result.refund_fen)


def sync_unpaid_orders() -> int:
    """Ask WeChat about unpaid orders prepaid more than five minutes ago and book the ones
    paid: the notify that never came. Returns how many it asked about."""
    order_nos = checkout.unpaid_with_prepay(now() - SYNC_AFTER)
    for order_no in order_nos:
        checkout.sync_transaction(order_no)
    return len(order_nos)


def sync_refunds() -> int:
    """Ask WeChat about approved refund requests still unanswered, and send again the refunds
    of payments on cancelled orders whose job was lost. Returns how many it looked at."""
    since = now() - SYNC_AFTER
    request_ids = refund_requests.approved_waiting(since)
    for request_id in request_ids:
        try:
            _sync_refund_request(request_id)
        except PayOutcomeUnknown as e:
            log.warning("refund request %s: %s; the next sweep asks again", request_id, e)
    order_ids = orders.cancelled_payments_to_refund(since)
    for order_id in order_ids:
        try:
            refund_cancelled_payment(order_id)
        except PayOutcomeUnknown as e:
            log.warning("refund of cancelled order %s: %s; the next sweep asks again", order_id, e)
    return len(request_ids) + len(order_ids)


def _sync_refund_request(request_id: int) -> str:
    due = refund_requests.refund_to_send(request_id)
    if due is None:
        return "nothing to do"
    try:
        result = pay_gateway().query_refund(due["refund_no"])
    except PayRefused as e:
        if e.code in NO_ORDER_CODES or e.status == 404:
            return send_refund(request_id)  # the send never reached WeChat: send it now
        log.warning("refund %s: query refused (%s)", due["refund_no"], e)
        return "unknown"
    except PayOutcomeUnknown as e:
        log.warning("refund %s: query failed (%s), next sweep asks again", due["refund_no"], e)
        return "unknown"
    return _book(result, due["order_no"])

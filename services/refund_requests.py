"""Refund requests: a shopper asks for one order line back (refund only, or return and refund),
the merchant approves or refuses, and an approved request is refunded by WeChat Pay after the
commit under the request's stable refund number. WeChat's answer (the refund notify, or a
query) completes it through the engine, which reverses that line's commissions."""

from __future__ import annotations

import logging
import secrets
import unicodedata

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from infra.clock import now
from infra.db import for_update, locked_or_not_found, unit_of_work
from infra.jobs import enqueue_after_commit
from models import Order, OrderLine, RefundRequest, db
from models.errors import NotFound, OrderError
from services import orders
from services.paging import Page, decode_cursor, encode_cursor, page_limit
from texts import messages

log = logging.getLogger(__name__)

KINDS = ("refund_only", "return_refund")
REFUNDABLE_ORDERS = ("paid", "shipped", "completed")
# Requests that still claim part of their line: asked, being refunded, or refused by WeChat
# (which the merchant may approve again under the same number, so its money stays held).
HOLDING = ("requested", "approved", "failed")
MAX_REASON = 200
SEND_JOB = "workers.shop.send_refund"
PENDING_LIST = "refund_requests.pending"
# What WeChat Pay and the shopper are told when the merchant refunds without a reason.
MERCHANT_REASON = "商家退款"


def request_refund(
    user_id: int,
    order_no: str,
    order_line_id: int,
    kind: str,
    *,
    amount_fen: int | None = None,
    reason: str = "",
) -> RefundRequest:
    """A shopper's request to refund (part of) one line of their paid order. The amount defaults
    to what the line can still refund; requests under way count against it."""
    if kind not in KINDS:
        raise OrderError(f"a refund request is one of {', '.join(KINDS)}", reason="kind")
    if amount_fen is not None and (not _is_int(amount_fen) or amount_fen < 1):
        raise OrderError("a refund is a whole number of fen, at least 1", reason="amount")
    if not _is_int(order_line_id):
        raise NotFound("no such order line", what="order_line")
    reason = clean_text(reason, "reason")
    with unit_of_work():
        order = _their_order(order_no, user_id)
        if order.status not in REFUNDABLE_ORDERS:
            raise OrderError(f"order is {order.status}, not refundable", reason="not_refundable")
        line = next((line for line in order.lines if line.id == order_line_id), None)
        if line is None:
            raise NotFound("no such order line", what="order_line")
        left = line.paid_fen - line.refunded_fen - _held(line.id)
        if left <= 0:
            raise OrderError("nothing left to refund on this line", reason="nothing_left")
        amount = left if amount_fen is None else amount_fen
        if amount > left:
            raise OrderError(
                "refund exceeds what the line can refund", reason="too_much", refundable_fen=left
            )
        at = now()
        request = RefundRequest(
            refund_no=new_refund_no(at),
            order_id=order.id,
            order_line_id=line.id,
            kind=kind,
            amount_fen=amount,
            reason=reason,
            created_at=at,
        )
        db.session.add(request)
    return request


def new_refund_no(at) -> str:
    """A refund number made once, at request time: every send and every query uses it, so
    WeChat refunds it once however often it is asked (32 characters, as WeChat allows)."""
    return "RF" + at.strftime("%Y%m%d%H%M%S") + secrets.token_hex(8).upper()


def approve_refund(request_id: int) -> RefundRequest:
    """The merchant agrees: the refund goes to WeChat Pay after the commit (workers.shop)."""
    with unit_of_work():
        request = locked_or_not_found(RefundRequest, request_id, "refund_request")
        _approve(request, "merchant")
    return request


def retry_refund(request_id: int) -> RefundRequest:
    """The merchant asks WeChat Pay again for a refund it refused or closed (failed ->
    approved), under the request's same number, after the same checks as an approval."""
    with unit_of_work():
        request = locked_or_not_found(RefundRequest, request_id, "refund_request")
        if request.status != "failed":
            raise OrderError(f"the request is {request.status}, not failed", reason="not_failed")
        _approve(request, "merchant: retry")
    return request


def _approve(request: RefundRequest, note: str) -> None:
    """Approved, once the order and the line still take the refund; sent to WeChat Pay after
    the commit, always under the request's own refund number."""
    order = db.session.get(Order, request.order_id)
    if order.status not in REFUNDABLE_ORDERS:
        raise OrderError(f"order is {order.status}, not refundable", reason="not_refundable")
    line = db.session.get(OrderLine, request.order_line_id)
    if request.amount_fen > line.paid_fen - line.refunded_fen:
        # Refunded meanwhile by other means: WeChat would pay what the engine cannot book.
        raise OrderError("the line has less left to refund", reason="too_much")
    request.set_status("approved", note)
    request.decided_at = now()
    enqueue_after_commit(SEND_JOB, request.id, job_id=f"refund-{request.refund_no}")


def merchant_refund(
    order_id: int, line_amounts: dict[int, int], reason: str = ""
) -> list[RefundRequest]:
    """The merchant refunds an order, part or all of each line it names (line id -> fen): one
    approved request per line, each sent to WeChat Pay after the commit under its own number
    and booked on its line by WeChat's answer, as a shopper's request is. Each amount is
    bounded by what its line has left after refunds and requests under way."""
    reason = clean_text(reason, "reason") or MERCHANT_REASON
    amounts = {k: v for k, v in line_amounts.items() if v != 0}
    if not amounts:
        raise OrderError("name at least one line to refund", reason="no_lines")
    if not all(_is_int(k) and _is_int(v) and v > 0 for k, v in amounts.items()):
        raise OrderError("a refund is a whole number of fen, at least 1", reason="amount")
    with unit_of_work():
        order = db.session.scalar(
            for_update(select(Order).options(selectinload(Order.lines)).where(Order.id == order_id))
        )
        if order is None:
            raise NotFound("no such order", what="order")
        if order.status not in REFUNDABLE_ORDERS:
            raise OrderError(f"order is {order.status}, not refundable", reason="not_refundable")
        lines = {line.id: line for line in order.lines}
        at, made = now(), []
        for line_id in sorted(amounts):
            line = lines.get(line_id)
            if line is None:
                raise NotFound("no such order line", what="order_line")
            left = line.paid_fen - line.refunded_fen - _held(line.id)
            if amounts[line_id] > left:
                raise OrderError(
                    "refund exceeds what the line can refund",
                    reason="too_much",
                    line_id=line_id,
                    refundable_fen=max(left, 0),
                )
            request = RefundRequest(
                refund_no=new_refund_no(at),
                order_id=order.id,
                order_line_id=line.id,
                kind="refund_only",
                amount_fen=amounts[line_id],
                reason=reason,
                status="requested",
                created_at=at,
            )
            db.session.add(request)
            request.set_status("approved", "merchant")
            request.decided_at = at
            enqueue_after_commit(SEND_JOB, request.id, job_id=f"refund-{request.refund_no}")
            made.append(request)
    return made


def refuse_refund(request_id: int, reason: str) -> RefundRequest:
    """The merchant refuses, saying why (the shopper sees it)."""
    reason = clean_text(reason, "reason")
    if not reason:
        raise OrderError("say why the refund is refused", reason="reason")
    with unit_of_work():
        request = locked_or_not_found(RefundRequest, request_id, "refund_request")
        request.set_status("refused", reason)
        request.refuse_reason = reason
        request.decided_at = now()
    return request


def cancel_refund_request(user_id: int, request_id: int) -> RefundRequest:
    """The shopper withdraws a request the merchant has not decided yet."""
    if not _is_int(request_id):
        raise NotFound("no such refund request", what="refund_request")
    with unit_of_work():
        request = db.session.scalar(
            for_update(
                select(RefundRequest)
                .join(Order, Order.id == RefundRequest.order_id)
                .where(RefundRequest.id == request_id, Order.user_id == user_id)
            )
        )
        if request is None:
            raise NotFound("no such refund request", what="refund_request")
        if request.status != "requested":
            raise OrderError(
                f"the request is {request.status}, no longer cancellable", reason="not_cancellable"
            )
        request.set_status("cancelled", "shopper")
    return request


def refund_requests_of(order_id: int) -> list[RefundRequest]:
    """An order's refund requests, oldest first."""
    return list(
        db.session.scalars(
            select(RefundRequest)
            .where(RefundRequest.order_id == order_id)
            .order_by(RefundRequest.id)
        )
    )


def pending_refund_requests(cursor: str | None = None, limit: int = 50) -> Page[RefundRequest]:
    """Requests waiting for the merchant, oldest first (first asked, first answered)."""
    limit = page_limit(limit)
    key = decode_cursor(PENDING_LIST, cursor)
    stmt = select(RefundRequest).where(RefundRequest.status == "requested")
    if key is not None:
        if len(key) != 1 or not _is_int(key[0]):
            raise OrderError("not a cursor of this list", reason="cursor")
        stmt = stmt.where(RefundRequest.id > key[0])
    rows = list(db.session.scalars(stmt.order_by(RefundRequest.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(PENDING_LIST, [rows[-1].id]) if more else None)


# -- WeChat's side ----------------------------------------------------------------------------


def by_refund_no(refund_no: str) -> int | None:
    """The request a refund number belongs to, if it is a request's."""
    found = db.session.scalar(select(RefundRequest.id).where(RefundRequest.refund_no == refund_no))
    db.session.rollback()
    return found


def refund_to_send(request_id: int) -> dict | None:
    """What the send job asks WeChat for (plain values), or None when the request is no longer
    approved (refunded, or failed meanwhile)."""
    request = db.session.get(RefundRequest, request_id)
    if request is None or request.status != "approved":
        db.session.rollback()
        return None
    order = db.session.get(Order, request.order_id)
    due = {
        "refund_no": request.refund_no,
        "order_no": order.order_no,
        "amount_fen": request.amount_fen,
        "total_fen": order.payable_fen,
        "reason": request.reason or messages.refund_reason_default(request.kind),
    }
    db.session.rollback()
    return due


def approved_waiting(older_than, limit: int = 200) -> list[int]:
    """Approved requests decided before `older_than` and still without WeChat's answer."""
    ids = list(
        db.session.scalars(
            select(RefundRequest.id)
            .where(RefundRequest.status == "approved", RefundRequest.decided_at < older_than)
            .order_by(RefundRequest.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return ids


def record_refund_result(request_id: int, state: str, refunded_fen: int) -> str:
    """Apply WeChat's final answer to a request, once: SUCCESS books the refund on its line
    (services.orders.refund_order, idempotent on the refund number: the commissions on that
    line are reversed by the exact fen) and marks it refunded; CLOSED or ABNORMAL mark it
    failed. A repeat changes nothing."""
    request = db.session.get(RefundRequest, request_id)
    order_id, refund_no, line_id = request.order_id, request.refund_no, request.order_line_id
    amount, status = request.amount_fen, request.status
    db.session.rollback()
    if state != "SUCCESS":
        return _fail(request_id, state)
    if status == "refunded":
        return "refund_booked_before"
    if refunded_fen and refunded_fen != amount:
        log.error("refund %s: WeChat refunded %s fen, %s asked", refund_no, refunded_fen, amount)
    try:
        orders.refund_order(
            order_id, refund_no, line_amounts={line_id: refunded_fen or amount}, reason="退款申请"
        )
    except OrderError as e:
        log.error("refund %s was made by WeChat but not booked: %s", refund_no, e.message)
        return str(e.params.get("reason") or "refused")[:32]
    with unit_of_work():
        request = locked_or_not_found(RefundRequest, request_id, "refund_request")
        if request.status == "refunded":
            return "refund_booked_before"
        if request.status == "failed":  # ABNORMAL, then settled by the merchant at WeChat
            request.set_status("approved", "refunded by WeChat after all")
        request.set_status("refunded", "WeChat Pay")
        request.refunded_at = now()
    return "request_refunded"


def _fail(request_id: int, state: str) -> str:
    with unit_of_work():
        request = locked_or_not_found(RefundRequest, request_id, "refund_request")
        if request.status != "approved":
            return f"refund_{state.lower()}"[:32]
        request.set_status("failed", f"WeChat Pay: {state}"[:200])
    log.warning("refund request %s failed at WeChat Pay: %s", request_id, state)
    return "request_failed"


def refund_refused(request_id: int, code: str) -> str:
    """WeChat refused the refund request itself (a business error): the request failed."""
    return _fail(request_id, code)


# -- helpers ----------------------------------------------------------------------------------


def _their_order(order_no: str, user_id: int) -> Order:
    if not isinstance(order_no, str) or not 0 < len(order_no) <= 32:
        raise NotFound("no such order", what="order")
    order = db.session.scalar(
        for_update(
            select(Order)
            .options(selectinload(Order.lines))
            .where(Order.order_no == order_no, Order.user_id == user_id)
        )
    )
    if order is None:
        raise NotFound("no such order", what="order")
    return order


def _held(line_id: int) -> int:
    """What requests under way already claim of a line."""
    return db.session.scalar(
        select(func.coalesce(func.sum(RefundRequest.amount_fen), 0)).where(
            RefundRequest.order_line_id == line_id, RefundRequest.status.in_(HOLDING)
        )
    )


def clean_text(text: object, what: str, limit: int = MAX_REASON) -> str:
    """A shopper's or merchant's free text: control characters dropped, trimmed, at most
    `limit` characters (longer is refused, not cut: they should see what is kept)."""
    if not isinstance(text, str):
        raise OrderError(f"the {what} must be text", reason=what)
    cleaned = "".join(c for c in text if unicodedata.category(c) != "Cc").strip()
    if len(cleaned) > limit:
        raise OrderError(f"the {what} is longer than {limit} characters", reason=what, limit=limit)
    return cleaned


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

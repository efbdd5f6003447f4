"""Refund requests: a shopper asks for one order line back and may withdraw the request; the
merchant (bearer token, MERCHANT_API_TOKEN) lists those waiting, approves (the refund goes to
WeChat Pay after the commit) or refuses, saying why."""

from __future__ import annotations

from sqlalchemy import select

from models import Order, db
from services import checkout, refund_requests
from web.api.common import ApiBlueprint, errors, page_of, user_id
from web.api.schemas import (
    MerchantRefundRequestSchema,
    PageArgs,
    RefundRequestBody,
    RefundRequestSchema,
    RefuseBody,
    page_schema,
)

bp = ApiBlueprint("api_refunds", __name__, url_prefix="/api/v1", description="Refund requests")
merchant_bp = ApiBlueprint(
    "api_merchant",
    __name__,
    url_prefix="/api/v1/merchant",
    access="merchant",
    description="The merchant's refund decisions (Authorization: Bearer MERCHANT_API_TOKEN)",
)


@bp.get("/orders/<order_no:order_no>/refund-requests")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(RefundRequestSchema))
@errors(400)
def of_order(args, order_no: str):
    """An order's refund requests, oldest first."""
    order = checkout.order_of(order_no, user_id())
    found = refund_requests.refund_requests_of(order.id)
    return page_of(f"refunds:{order.id}", found, args.get("cursor"), args["limit"])


@bp.post("/orders/<order_no:order_no>/refund-requests")
@bp.arguments(RefundRequestBody)
@bp.response(201, RefundRequestSchema)
@bp.writes
@errors(409)
def request_refund(body, order_no: str):
    """Ask for (part of) one line of a paid order back. Refusals (409): not_refundable,
    nothing_left, too_much (details.refundable_fen says how much is left)."""
    return refund_requests.request_refund(
        user_id(),
        order_no,
        body["order_line_id"],
        body["kind"],
        amount_fen=body["amount_fen"],
        reason=body["reason"],
    )


@bp.post("/refund-requests/<api_id:request_id>/cancel")
@bp.response(200, RefundRequestSchema)
@bp.writes
@errors(409)
def cancel(request_id: int):
    """Withdraw a request the merchant has not decided yet (409 not_cancellable)."""
    return refund_requests.cancel_refund_request(user_id(), request_id)


@merchant_bp.get("/refund-requests")
@merchant_bp.arguments(PageArgs, location="query")
@merchant_bp.response(200, page_schema(MerchantRefundRequestSchema))
@errors(400)
def pending(args):
    """Requests waiting for the merchant, oldest first."""
    page = refund_requests.pending_refund_requests(args.get("cursor"), args["limit"])
    numbers = _order_numbers({r.order_id for r in page.items})
    names = RefundRequestSchema().fields
    items = [
        {**{name: getattr(r, name) for name in names}, "order_no": numbers[r.order_id]}
        for r in page.items
    ]
    return {"items": items, "next_cursor": page.next_cursor}


@merchant_bp.post("/refund-requests/<api_id:request_id>/approve")
@merchant_bp.response(200, RefundRequestSchema)
@errors(409)
def approve(request_id: int):
    """Approve: the refund is sent to WeChat Pay after the commit, under the request's refund
    number. 409 invalid_transition when it is no longer waiting, not_refundable or too_much."""
    return refund_requests.approve_refund(request_id)


@merchant_bp.post("/refund-requests/<api_id:request_id>/refuse")
@merchant_bp.arguments(RefuseBody)
@merchant_bp.response(200, RefundRequestSchema)
@errors(409)
def refuse(body, request_id: int):
    """Refuse, saying why (the shopper sees it)."""
    return refund_requests.refuse_refund(request_id, body["reason"])


def _order_numbers(order_ids: set[int]) -> dict[int, str]:
    if not order_ids:
        return {}
    rows = db.session.execute(select(Order.id, Order.order_no).where(Order.id.in_(order_ids)))
    return {order_id: order_no for order_id, order_no in rows}

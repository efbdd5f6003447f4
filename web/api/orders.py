"""Checkout and the shopper's orders: a quote priced from the database, placing an order, its
WeChat Pay parameters, and the orders afterwards (list, one, refresh, cancel, confirm receipt).
Prices never come from the request: there is no price field to send."""

from __future__ import annotations

from dataclasses import asdict

from services import checkout
from services.checkout import CheckoutItem
from texts import shop as shop_texts
from web.api.common import ApiBlueprint, errors, user_id
from web.api.schemas import (
    OrderQuery,
    OrderSchema,
    PayParamsSchema,
    PlaceOrderBody,
    QuoteBody,
    QuoteSchema,
    page_schema,
)

bp = ApiBlueprint("api_orders", __name__, url_prefix="/api/v1", description="Checkout and orders")


def _items(body: dict) -> list[CheckoutItem]:
    return [CheckoutItem(item["sku_id"], item["quantity"]) for item in body["items"]]


@bp.post("/checkout/quote")
@bp.arguments(QuoteBody)
@bp.response(200, QuoteSchema)
@bp.writes
@errors(404)
def quote(body):
    """The price of a checkout now: lines, the coupons that apply (and why others do not),
    shipping to the address (the default one if none is named), and what, if anything, stops
    the order (`refusal`: not_on_sale, out_of_stock, no_address, region_not_delivered...).
    Writes nothing; a POST because it carries a basket."""
    found = checkout.quote(
        user_id(),
        _items(body),
        user_coupon_id=body["user_coupon_id"],
        address_id=body["address_id"],
    )
    refusal = found.refusal
    return {
        **asdict(found),
        "refusal_message": (
            shop_texts.shop_refusal(refusal, {"reason": refusal, **found.refusal_params})
            if refusal
            else None
        ),
    }


@bp.post("/orders")
@bp.arguments(PlaceOrderBody)
@bp.response(201, OrderSchema)
@bp.writes
@errors(404, 409)
def place(body):
    """Place an order: stock taken, the coupon locked, priced from the database. Refusals
    (409): not_on_sale, out_of_stock, region_not_delivered, zero_payable, unavailable (the
    coupon); 404 for an address that is not theirs."""
    return checkout.place_order(
        user_id(),
        _items(body),
        address_id=body["address_id"],
        user_coupon_id=body["user_coupon_id"],
        note=body["note"],
        from_cart=body["from_cart"],
    )


@bp.get("/orders")
@bp.arguments(OrderQuery, location="query")
@bp.response(200, page_schema(OrderSchema))
@errors(400)
def my_orders(args):
    """The shopper's orders, newest first, optionally of one status."""
    return checkout.my_orders(
        user_id(), status=args.get("status"), cursor=args.get("cursor"), limit=args["limit"]
    )


@bp.get("/orders/<order_no:order_no>")
@bp.response(200, OrderSchema)
def one(order_no: str):
    """One of the shopper's orders (anyone else's is 404)."""
    return checkout.order_of(order_no, user_id())


@bp.post("/orders/<order_no:order_no>/pay")
@bp.response(200, PayParamsSchema)
@bp.writes
@errors(409, 503)
def pay(order_no: str):
    """The parameters for WeixinJSBridge getBrandWCPayRequest (a prepay younger than 110
    minutes is reused). 409 not_payable; 503 pay_unavailable when WeChat Pay cannot be
    reached."""
    return checkout.payment_params(order_no, user_id())


@bp.post("/orders/<order_no:order_no>/refresh")
@bp.response(200, OrderSchema)
@bp.writes
def refresh(order_no: str):
    """The order as it really is: an unpaid one is asked about at WeChat Pay, and a payment
    found is booked (for the page the shopper comes back to after paying)."""
    return checkout.refresh_order(order_no, user_id())


@bp.post("/orders/<order_no:order_no>/cancel")
@bp.response(200, OrderSchema)
@bp.writes
@errors(409)
def cancel(order_no: str):
    """Cancel an unpaid order (409 not_cancellable otherwise)."""
    return checkout.cancel_by_shopper(order_no, user_id())


@bp.post("/orders/<order_no:order_no>/confirm")
@bp.response(200, OrderSchema)
@bp.writes
@errors(409)
def confirm(order_no: str):
    """Confirm a shipped order arrived (409 not_shipped otherwise)."""
    return checkout.confirm_receipt(order_no, user_id())

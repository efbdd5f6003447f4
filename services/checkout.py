"""The shop's checkout: a quote priced from the database, the order placed in one transaction
(stock taken, the coupon locked, the chain snapshotted), its WeChat Pay parameters, and the
shopper's own orders afterwards (the result page, cancel, confirm receipt, the list).

Prices never come from the request: the SKUs' current prices, the coupon's terms and the
merchant's shipping template are read here and priced by models.pricing."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import selectinload

from infra.clock import now
from infra.db import locked_or_not_found, unit_of_work
from models import Address, CartItem, Coupon, Order, Sku, User, UserCoupon, db
from models.errors import (
    CouponRefused,
    InvalidTransition,
    NotFound,
    OrderError,
    RegionNotDelivered,
)
from models.events import StatusChange
from models.pricing import (
    CouponRefusal,
    CouponTerms,
    PriceLine,
    ShippingTemplate,
    coupon_discount,
    price_order,
)
from services import orders, payments
from services.catalog import first_photo_ids
from services.merchant import merchant
from services.paging import Page, decode_cursor, encode_cursor, page_limit
from services.refund_requests import clean_text
from texts import messages
from wechat.pay_v3 import PayError, PayRefused, pay_gateway

log = logging.getLogger(__name__)

MAX_LINES = orders.MAX_LINES
MAX_QUANTITY = orders.MAX_QUANTITY
MAX_NOTE = 200
# WeChat's prepay_id lasts 2 hours; one younger than this is reused, so the page's parameters
# stay valid for the whole payment.
PREPAY_REUSE = timedelta(minutes=110)
# What sync_transaction returns when WeChat's transaction is booked (paid, or to be refunded).
BOOKED = ("paid", "payment_duplicate", "refund_due")
ORDER_STATUSES = ("pending_payment", "paid", "shipped", "completed", "cancelled", "refunded")
MY_ORDERS = "checkout.my_orders"
# Where a quote is priced before the shopper has an address: only the fee, no region rules.
NO_PROVINCE = "-"


@dataclass(frozen=True)
class CheckoutItem:
    sku_id: int
    quantity: int


@dataclass(frozen=True)
class QuoteLine:
    sku_id: int
    product_id: int
    title: str
    spec_text: str
    unit_price_fen: int
    quantity: int
    goods_fen: int
    discount_fen: int
    paid_fen: int
    photo_id: int | None


@dataclass(frozen=True)
class CouponChoice:
    user_coupon_id: int
    title: str
    discount_fen: int | None
    refusal: str | None  # why it does not apply (a CouponRefused reason), None when it does
    short_fen: int | None = None  # below_minimum: the goods in scope still needed (还差)


@dataclass(frozen=True)
class Quote:
    lines: list[QuoteLine]
    goods_fen: int
    discount_fen: int
    shipping_fen: int
    payable_fen: int
    coupons: list[CouponChoice]  # the user's available coupons, usable ones first (best first)
    user_coupon_id: int | None  # the one applied (the chosen one if it applies)
    address_id: int | None
    refusal: str | None  # not_on_sale, out_of_stock, no_address, region_not_delivered, ...
    refusal_params: dict[str, Any] = field(default_factory=dict)  # sku_id, province, ...


# -- the quote ----------------------------------------------------------------------------------


def quote(
    user_id: int,
    items: Sequence[CheckoutItem],
    *,
    user_coupon_id: int | None = None,
    address_id: int | None = None,
    at: datetime | None = None,
) -> Quote:
    """The price of a checkout now, for the page: lines, coupons that apply and why others do
    not, shipping to the address (the default one when none is chosen), and what, if anything,
    stops the order. Bad items or someone else's address are refused as place_order would."""
    wanted = checkout_items(items)
    at = at or now()
    skus = _skus([sku_id for sku_id, _ in wanted])
    refusal, params = None, {}
    priced = []
    for sku_id, quantity in wanted:
        sku = skus.get(sku_id)
        if sku is None or not sku.on_sale or not sku.product.on_sale:
            refusal, params = refusal or "not_on_sale", params or {"sku_id": sku_id}
            continue
        if sku.stock < quantity:
            refusal, params = refusal or "out_of_stock", params or {"sku_id": sku_id}
        priced.append((sku, quantity))
    address = _quote_address(user_id, address_id)
    if refusal is None and address is None:
        refusal = "no_address"
    lines = [_price_line(sku, quantity) for sku, quantity in priced]
    coupons = _coupon_choices(user_id, lines, at)
    applied = next(
        (c for c in coupons if c.user_coupon_id == user_coupon_id and c.refusal is None), None
    )
    terms = _terms(_user_coupon(user_id, applied.user_coupon_id).coupon) if applied else None
    template = _template()
    province = address.province if address is not None else NO_PROVINCE
    if not lines:
        breakdown = None
    else:
        try:
            breakdown = price_order(lines, terms, template, province, at)
        except (RegionNotDelivered, OrderError) as e:
            if refusal is None:
                refusal = e.code if isinstance(e, RegionNotDelivered) else e.params["reason"]
                params = {"province": province}
            open_template = ShippingTemplate(
                flat_fee_fen=template.flat_fee_fen, free_over_fen=template.free_over_fen
            )
            breakdown = price_order(lines, terms, open_template, NO_PROVINCE, at)
    if breakdown is not None and refusal is None and not breakdown.needs_payment:
        refusal = "zero_payable"
    return _quote(breakdown, priced, coupons, applied, address, refusal, params)


def _quote(breakdown, priced, coupons, applied, address, refusal, params) -> Quote:
    photos = first_photo_ids(sku.product_id for sku, _ in priced)
    quote_lines = []
    if breakdown is not None:
        for (sku, _quantity), line in zip(priced, breakdown.lines, strict=True):
            quote_lines.append(
                QuoteLine(
                    sku_id=sku.id,
                    product_id=sku.product_id,
                    title=sku.product.title,
                    spec_text=sku.spec_text,
                    unit_price_fen=line.unit_price_fen,
                    quantity=line.quantity,
                    goods_fen=line.goods_fen,
                    discount_fen=line.discount_fen,
                    paid_fen=line.paid_fen,
                    photo_id=photos.get(sku.product_id),
                )
            )
    return Quote(
        lines=quote_lines,
        goods_fen=breakdown.goods_fen if breakdown else 0,
        discount_fen=breakdown.discount_fen if breakdown else 0,
        shipping_fen=breakdown.shipping_fen if breakdown else 0,
        payable_fen=breakdown.payable_fen if breakdown else 0,
        coupons=coupons,
        user_coupon_id=applied.user_coupon_id if applied else None,
        address_id=address.id if address is not None else None,
        refusal=refusal,
        refusal_params=params,
    )


def checkout_items(items: Sequence[CheckoutItem]) -> list[tuple[int, int]]:
    """(sku id, quantity) pairs, repeated SKUs merged in the order first seen; anything but
    1..50 SKUs of 1..999 each (whole numbers: True is not 1) is refused."""
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence) or not items:
        raise OrderError(f"an order has 1 to {MAX_LINES} items", reason="lines")
    merged: dict[int, int] = {}
    for item in items:
        if not isinstance(item, CheckoutItem) or not _is_int(item.sku_id) or item.sku_id < 1:
            raise OrderError("an item is a SKU and a quantity", reason="lines")
        if not _is_int(item.quantity) or not 1 <= item.quantity <= MAX_QUANTITY:
            raise OrderError(f"quantity must be 1 to {MAX_QUANTITY}", reason="quantity")
        merged[item.sku_id] = merged.get(item.sku_id, 0) + item.quantity
        if merged[item.sku_id] > MAX_QUANTITY:
            raise OrderError(f"quantity must be 1 to {MAX_QUANTITY}", reason="quantity")
        if len(merged) > MAX_LINES:
            raise OrderError(f"an order has 1 to {MAX_LINES} items", reason="lines")
    return list(merged.items())


def _skus(sku_ids: list[int]) -> dict[int, Sku]:
    rows = db.session.scalars(
        select(Sku).options(selectinload(Sku.product)).where(Sku.id.in_(sku_ids))
    )
    return {sku.id: sku for sku in rows}


def _price_line(sku: Sku, quantity: int) -> PriceLine:
    return PriceLine(sku.id, sku.product_id, sku.price_fen, quantity)


def _quote_address(user_id: int, address_id: int | None) -> Address | None:
    if address_id is not None:
        return their_address(user_id, address_id)
    return db.session.scalar(
        select(Address)
        .where(Address.user_id == user_id)
        .order_by(Address.is_default.desc(), Address.id.desc())
        .limit(1)
    )


def their_address(user_id: int, address_id: int) -> Address:
    """The user's own address, else NotFound (another's is never revealed)."""
    address = None
    if _is_int(address_id):
        address = db.session.scalar(
            select(Address).where(Address.id == address_id, Address.user_id == user_id)
        )
    if address is None:
        raise NotFound("no such address", what="address")
    return address


def _template() -> ShippingTemplate:
    m = merchant()
    return ShippingTemplate(
        flat_fee_fen=m.shipping_flat_fen,
        free_over_fen=m.shipping_free_over_fen,
        excluded_regions=frozenset(m.shipping_excluded_regions or ()),
    )


def _terms(coupon: Coupon) -> CouponTerms:
    return CouponTerms(
        kind=coupon.kind,
        starts_at=coupon.starts_at,
        ends_at=coupon.ends_at,
        off_fen=coupon.off_fen,
        discount_bps=coupon.discount_bps,
        cap_fen=coupon.cap_fen,
        min_goods_fen=coupon.min_goods_fen,
        product_ids=frozenset(coupon.product_ids or ()),
    )


def _user_coupon(user_id: int, user_coupon_id: int) -> UserCoupon | None:
    if not _is_int(user_coupon_id):
        return None
    return db.session.scalar(
        select(UserCoupon)
        .options(selectinload(UserCoupon.coupon))
        .where(UserCoupon.id == user_coupon_id, UserCoupon.user_id == user_id)
    )


def _coupon_choices(user_id: int, lines: list[PriceLine], at: datetime) -> list[CouponChoice]:
    """The user's available coupons, each with its discount on these lines or why none."""
    claimed = db.session.scalars(
        select(UserCoupon)
        .options(selectinload(UserCoupon.coupon))
        .where(UserCoupon.user_id == user_id, UserCoupon.status == "available")
        .order_by(UserCoupon.id)
    ).all()
    choices = [_choice(uc, lines, at) for uc in claimed]
    ends = {uc.id: uc.coupon.ends_at for uc in claimed}
    # Usable first, the biggest discount first, then the one that expires soonest.
    return sorted(
        choices,
        key=lambda c: (c.refusal is not None, -(c.discount_fen or 0), ends[c.user_coupon_id]),
    )


def _choice(claimed: UserCoupon, lines: list[PriceLine], at: datetime) -> CouponChoice:
    coupon = claimed.coupon
    if not coupon.active:
        return CouponChoice(claimed.id, coupon.title, None, "inactive")
    if not lines:
        return CouponChoice(claimed.id, coupon.title, None, "no_eligible_goods")
    result = coupon_discount(_terms(coupon), lines, at)
    if isinstance(result, CouponRefusal):
        return CouponChoice(
            claimed.id, coupon.title, None, result.reason.value, short_fen=result.short_fen
        )
    return CouponChoice(claimed.id, coupon.title, result, None)


# -- placing the order --------------------------------------------------------------------------


def place_order(
    user_id: int,
    items: Sequence[CheckoutItem],
    *,
    address_id: int,
    user_coupon_id: int | None = None,
    note: str = "",
    from_cart: bool = False,
) -> Order:
    """Place an order in one transaction: the address checked as theirs, stock taken per SKU
    (never oversold), the coupon locked (one order at a time holds it), the upline chain
    snapshotted, the lines priced from the database, and the SKUs cleared from the cart if it
    came from there. Any refusal leaves stock, coupon and cart as they were."""
    wanted = checkout_items(items)
    note = clean_text(note, "note", MAX_NOTE)
    if user_coupon_id is not None and not _is_int(user_coupon_id):
        raise CouponRefused("no such coupon of yours", reason="unavailable")
    with unit_of_work():
        at = now()
        address = their_address(user_id, address_id)
        # A fixed order (by SKU id) so two checkouts never wait on each other's rows crosswise.
        skus = {sku_id: orders.take_stock(sku_id, qty) for sku_id, qty in sorted(wanted)}
        lines = [_price_line(skus[sku_id], quantity) for sku_id, quantity in wanted]
        claimed = _coupon_to_use(user_id, user_coupon_id)
        terms = _terms(claimed.coupon) if claimed else None
        breakdown = price_order(lines, terms, _template(), address.province, at)
        if not breakdown.needs_payment:
            raise OrderError("an order must cost at least 1 fen", reason="zero_payable")
        buyer, chain = orders.snapshot_chain(user_id, at)
        order = Order(
            order_no=orders.new_order_no(at),
            user_id=user_id,
            goods_fen=breakdown.goods_fen,
            discount_fen=breakdown.discount_fen,
            shipping_fen=breakdown.shipping_fen,
            chain=chain,
            distributor_id=chain[0] if chain else None,
            buyer_distributor_id=buyer,
            address=address.snapshot(),
            note=note,
            created_at=at,
            lines=[
                _order_line(skus[sku_id], quantity, priced)
                for (sku_id, quantity), priced in zip(wanted, breakdown.lines, strict=True)
            ],
        )
        db.session.add(order)
        db.session.flush()
        if claimed is not None:
            _lock_coupon(user_id, claimed.id, order)
        if from_cart:
            db.session.execute(
                delete(CartItem).where(
                    CartItem.user_id == user_id, CartItem.sku_id.in_(list(skus))
                ),
                execution_options={"synchronize_session": False},
            )
    return order


def _order_line(sku: Sku, quantity: int, priced):
    line = orders.order_line(sku, quantity)
    line.discount_fen, line.paid_fen = priced.discount_fen, priced.paid_fen
    return line


def _coupon_to_use(user_id: int, user_coupon_id: int | None) -> UserCoupon | None:
    if user_coupon_id is None:
        return None
    claimed = _user_coupon(user_id, user_coupon_id)
    if claimed is None or claimed.status != "available":
        raise CouponRefused("no such coupon of yours to use", reason="unavailable")
    if not claimed.coupon.active:
        raise CouponRefused("the merchant withdrew this coupon", reason="inactive")
    return claimed


def _lock_coupon(user_id: int, user_coupon_id: int, order: Order) -> None:
    """Lock the coupon for this order with one conditional update: of two checkouts using it
    at once, the second finds it no longer available and is refused whole."""
    locked = db.session.execute(
        update(UserCoupon)
        .where(
            UserCoupon.id == user_coupon_id,
            UserCoupon.user_id == user_id,
            UserCoupon.status == "available",
        )
        .values(status="locked", order_id=order.id),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not locked:
        raise CouponRefused("the coupon is already in use", reason="unavailable")
    db.session.add(
        StatusChange(
            entity=UserCoupon.__tablename__,
            entity_id=user_coupon_id,
            from_status="available",
            to_status="locked",
            note=f"order {order.order_no}",
        )
    )


# -- paying -------------------------------------------------------------------------------------


def payment_params(order_no: str, user_id: int) -> dict:
    """What the page passes to getBrandWCPayRequest for the buyer's unpaid order: a prepay
    younger than 110 minutes is reused, else WeChat is asked for one (outside any transaction)
    and it is kept in a short second one."""
    order = _payable(order_no, user_id)
    gateway = pay_gateway()
    at = now()
    if order.prepay_id and order.prepay_at and at - order.prepay_at < PREPAY_REUSE:
        prepay_id = order.prepay_id
        db.session.rollback()
        return gateway.jsapi_params(prepay_id).as_dict()
    order_id, payable = order.id, order.payable_fen
    description = _description(order)
    openid = db.session.get(User, user_id).openid
    db.session.rollback()  # no transaction stays open while WeChat answers
    try:
        params = gateway.jsapi_prepay(order_no, description, payable, openid)
    except PayError as e:
        log.warning("prepay for order %s failed: %s", order_no, e)
        if isinstance(e, PayRefused) and sync_transaction(order_no) in BOOKED:
            raise OrderError("the order is paid already", reason="not_payable") from e
        raise OrderError("WeChat Pay is not available now", reason="pay_unavailable") from e
    with unit_of_work():
        order = locked_or_not_found(Order, order_id, "order")
        if order.status != "pending_payment":
            raise OrderError(f"order is {order.status}, not payable", reason="not_payable")
        order.prepay_id = params.package.removeprefix("prepay_id=")
        order.prepay_at = at
    return params.as_dict()


def _payable(order_no: str, user_id: int) -> Order:
    order = order_of(order_no, user_id)
    if order.status != "pending_payment":
        raise OrderError(f"order is {order.status}, not payable", reason="not_payable")
    return order


def _description(order: Order) -> str:
    """The bill's description: the first line's title, and how many pieces in all if more."""
    pieces = sum(line.quantity for line in order.lines)
    title = order.lines[0].title
    return messages.pay_description(title, pieces) if len(order.lines) > 1 else title


def refresh_order(order_no: str, user_id: int) -> Order:
    """The order as it really is, for the result page: an unpaid one with a prepay is asked
    about at WeChat, and a payment found is booked as its notify would book it. A failed
    query leaves it as it is."""
    order = order_of(order_no, user_id)
    if order.status == "pending_payment" and order.prepay_id:
        db.session.rollback()
        sync_transaction(order_no)
        order = order_of(order_no, user_id)
    return order


def sync_transaction(order_no: str) -> str:
    """Ask WeChat about an order's transaction and book it if paid; the outcome, or 'unknown'
    when WeChat did not answer (logged; the next look asks again)."""
    try:
        found = pay_gateway().query_transaction(order_no)
    except PayError as e:
        log.warning("query of order %s failed: %s", order_no, e)
        return "unknown"
    if found.trade_state != "SUCCESS" or not found.transaction_id or not found.total_fen:
        return found.trade_state.lower() or "unknown"
    return payments.book_transaction(
        found.transaction_id, order_no, found.total_fen, payments.rfc3339_utc(found.success_time)
    )


def unpaid_with_prepay(older_than: datetime, limit: int = 200) -> list[str]:
    """Unpaid orders whose prepay was made before `older_than`: the sweep asks WeChat about
    them, for the notify that never came."""
    found = list(
        db.session.scalars(
            select(Order.order_no)
            .where(
                Order.status == "pending_payment",
                Order.prepay_id.is_not(None),
                Order.prepay_at < older_than,
            )
            .order_by(Order.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return found


# -- the shopper's orders -----------------------------------------------------------------------


def cancel_by_shopper(order_no: str, user_id: int) -> Order:
    """The shopper cancels their unpaid order (its WeChat transaction is closed after)."""
    order = _cancellable(order_no, user_id)
    try:
        return orders.cancel_order(order.id, "shopper")
    except InvalidTransition as e:  # paid meanwhile
        raise OrderError("the order is no longer unpaid", reason="not_cancellable") from e


def _cancellable(order_no: str, user_id: int) -> Order:
    order = order_of(order_no, user_id)
    if order.status != "pending_payment":
        raise OrderError(f"order is {order.status}, not cancellable", reason="not_cancellable")
    db.session.rollback()
    return order


def confirm_receipt(order_no: str, user_id: int) -> Order:
    """The shopper confirms their shipped order arrived (commissions start their freeze)."""
    order = order_of(order_no, user_id)
    if order.status != "shipped":
        raise OrderError(f"order is {order.status}, not shipped", reason="not_shipped")
    order_id = order.id
    db.session.rollback()
    try:
        return orders.complete_order(order_id)
    except InvalidTransition as e:  # refunded meanwhile
        raise OrderError("the order is no longer shipped", reason="not_shipped") from e


def order_of(order_no: str, user_id: int) -> Order:
    """The user's own order with its lines; NotFound for anyone else's (never revealed)."""
    order = None
    if isinstance(order_no, str) and 0 < len(order_no) <= 32:
        order = db.session.scalar(
            select(Order)
            .options(selectinload(Order.lines))
            .where(Order.order_no == order_no, Order.user_id == user_id)
        )
    if order is None:
        raise NotFound("no such order", what="order")
    return order


def my_orders(
    user_id: int, *, status: str | None = None, cursor: str | None = None, limit: int = 20
) -> Page[Order]:
    """The user's orders, newest first, a page at a time (keyset on the order id)."""
    limit = page_limit(limit)
    if status is not None and status not in ORDER_STATUSES:
        raise OrderError("no such order status", reason="status")
    key = decode_cursor(MY_ORDERS, cursor)
    stmt = select(Order).options(selectinload(Order.lines)).where(Order.user_id == user_id)
    if status is not None:
        stmt = stmt.where(Order.status == status)
    if key is not None:
        if len(key) != 1 or not _is_int(key[0]):
            raise OrderError("not a cursor of this list", reason="cursor")
        stmt = stmt.where(Order.id < key[0])
    rows = list(db.session.scalars(stmt.order_by(Order.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(MY_ORDERS, [rows[-1].id]) if more else None)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)

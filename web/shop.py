"""The shop's pages under /shop (WeUI, server-rendered): browse, product, cart, checkout, pay,
orders, addresses, coupons. Thin: parse, call the service, render; a refusal from a service is
shown to the shopper in words (texts.messages.shop_refusal), never a 500.

Sign-in is WeChat web OAuth (web.signin); browsing needs none, the cart and everything after do.
`?d=<code>` on any shop page is the distributor link the shopper came by (web.signin.follow_link).
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import wraps

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import select
from werkzeug.exceptions import NotFound as PageNotFound

from infra.clock import CHINA
from models import Distributor, Sku, UserCoupon, db
from models.errors import DomainError, NotFound
from models.money import format_yuan
from services import addresses as address_book
from services import cart as cart_service
from services import catalog, checkout, coupons, refund_requests
from services.merchant import merchant
from texts import shop as shop_texts
from web import errors, signin
from web.bridge import bridge_script
from web.params import form_id, form_int, query_code, query_id

log = logging.getLogger(__name__)
bp = Blueprint("shop", __name__, url_prefix="/shop")
MAX_QUANTITY = 999
PENDING_ADD = "fx_pending_add"  # a cart choice made before sign-in
ORDER_TABS = ("all", "pending_payment", "paid", "shipped", "completed")


@bp.app_template_filter("yuan")
def yuan_filter(fen: int) -> str:
    return "¥" + format_yuan(fen)


@bp.app_template_filter("china_time")
def china_time_filter(at: datetime | None) -> str:
    """A moment as people in China read it."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M") if at else ""


@bp.context_processor
def shop_helpers() -> dict:
    def coupon_line(terms) -> str:
        return shop_texts.coupon_summary(
            str(terms.kind), terms.off_fen, terms.discount_bps, terms.cap_fen, terms.min_goods_fen
        )

    def refusal_text(code: str) -> str:
        return shop_texts.shop_refusal(code, {"reason": code})

    return {"coupon_line": coupon_line, "refusal_text": refusal_text}


def shopper(view):
    """A page for a signed-in shopper: the view gets their user id first; before sign-in,
    WeChat's sign-in, then back here."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        user_id = signin.current_user_id()
        if user_id is None:
            return signin.sign_in()
        return view(user_id, *args, **kwargs)

    return wrapper


@bp.errorhandler(NotFound)
def not_found(_e: NotFound):
    """Something that does not exist, or is not theirs (never revealed): the 404 page."""
    return errors.handle_http_error(PageNotFound())


def _refused(e: DomainError, back: str):
    """A service's refusal, in words, on the page the shopper comes back to."""
    flash(shop_texts.shop_refusal(e.code, e.params), "warn")
    return redirect(back)


def _back(default: str) -> str:
    """Where a form goes back to: its `next` field when it is one of ours, else `default`."""
    target = request.form.get("next", "")
    ours = target.startswith(("/shop", "/p/")) and "//" not in target and "\\" not in target
    return target if ours else default


# -- browsing ----------------------------------------------------------------------------------
@bp.get("")
def home():
    signin.follow_link(query_code("d"))
    category_id = query_id("c")
    categories = catalog.categories()
    if category_id is not None and category_id not in dict(categories):
        abort(404)  # no such category (or one the merchant hides)
    sort = request.args.get("sort", "default")
    keyword = request.args.get("q", "").strip() or None
    try:
        page = catalog.list_products(
            category_id=category_id,
            keyword=keyword,
            sort=sort,
            cursor=request.args.get("cursor") or None,
        )
    except DomainError:
        abort(400)  # a made-up cursor, sort or keyword
    return render_template(
        "shop/home.html",
        tab="home",
        shop_name=merchant().name,
        categories=categories,
        category_id=category_id,
        sort=sort,
        keyword=keyword or "",
        sorts=catalog.SORTS,
        page=page,
    )


@bp.get("/categories")
def categories_page():
    return render_template(
        "shop/categories.html", tab="categories", categories=catalog.categories()
    )


@bp.get("/products/<id:product_id>")
def product_page(product_id: int):
    view = catalog.product_view(product_id)
    if view is None:
        abort(404)  # before the link counts: a visit is to a product that exists
    signin.follow_link(query_code("d"), product_id)
    share_fen = None
    user_id = signin.current_user_id()
    if user_id is not None:
        distributor_id = db.session.scalar(
            select(Distributor.id).where(
                Distributor.user_id == user_id, Distributor.status == "active"
            )
        )
        if distributor_id is not None:
            share_fen = catalog.share_commission_fen(distributor_id, product_id)
    return render_template("shop/product.html", tab="home", product=view, share_fen=share_fen)


@bp.get("/photos/<id:photo_id>")
def photo(photo_id: int):
    found = catalog.photo(photo_id)
    if found is None:
        abort(404)
    content_type, data = found
    response = Response(data, mimetype=content_type)
    response.cache_control.public = True
    response.cache_control.max_age = 86_400
    return response


# -- the cart ----------------------------------------------------------------------------------
@bp.get("/cart")
@shopper
def cart_page(user_id: int):
    lines = cart_service.cart(user_id)
    total = sum(line.price_fen * line.quantity for line in lines if line.available)
    return render_template("shop/cart.html", tab="cart", lines=lines, total_fen=total)


@bp.post("/cart")
def add_to_cart():
    """The product page's 加入购物车 and 立即购买 (buy=1 goes straight to checkout). Before
    sign-in the choice is kept in the session and carried out when the shopper comes back."""
    sku_id = form_id("sku")
    if sku_id is None:
        abort(400)
    quantity = form_int("quantity", 1, MAX_QUANTITY, default=1)
    buy = request.form.get("buy") == "1"
    back = _back(url_for("shop.cart_page"))
    user_id = signin.current_user_id()
    if user_id is None:
        session[PENDING_ADD] = {"sku": sku_id, "quantity": quantity, "buy": buy, "back": back}
        return signin.sign_in(url_for("shop.resume_add"))
    return _add(user_id, sku_id, quantity, buy, back)


@bp.get("/cart/resume")
@shopper
def resume_add(user_id: int):
    """Back from sign-in: the 加入购物车 or 立即购买 chosen before it."""
    pending = session.pop(PENDING_ADD, None)
    if not isinstance(pending, dict):
        return redirect(url_for("shop.cart_page"))
    return _add(user_id, pending["sku"], pending["quantity"], pending["buy"], pending["back"])


def _add(user_id: int, sku_id: int, quantity: int, buy: bool, back: str):
    if buy:
        return redirect(url_for("shop.checkout_page", sku=sku_id, qty=quantity))
    try:
        cart_service.add_to_cart(user_id, sku_id, quantity)
    except DomainError as e:
        return _refused(e, back)
    flash(shop_texts.added_to_cart(), "ok")
    return redirect(back)


@bp.post("/cart/<id:sku_id>")
@shopper
def change_cart_line(user_id: int, sku_id: int):
    try:
        if request.form.get("remove") == "1":
            cart_service.remove_from_cart(user_id, [sku_id])
        else:
            quantity = form_int("quantity", 0, MAX_QUANTITY)
            cart_service.set_cart_quantity(user_id, sku_id, quantity)
    except DomainError as e:
        return _refused(e, url_for("shop.cart_page"))
    return redirect(url_for("shop.cart_page"))


# -- checkout and paying -------------------------------------------------------------------------
def _checkout_items(user_id: int, sku_id: int | None) -> tuple[list[checkout.CheckoutItem], bool]:
    """(the items, whether they come from the cart): `?sku=&qty=` for 立即购买, else the
    cart's lines that can be bought now."""
    if sku_id is not None:
        qty = request.args.get("qty", "1")
        if not qty.isascii() or not qty.isdigit() or not 1 <= int(qty) <= MAX_QUANTITY:
            abort(400)
        return [checkout.CheckoutItem(sku_id, int(qty))], False
    lines = [line for line in cart_service.cart(user_id) if line.available]
    return [checkout.CheckoutItem(line.sku_id, line.quantity) for line in lines], True


@bp.get("/checkout")
@shopper
def checkout_page(user_id: int):
    # every id the page is given is checked first: one that is not an id, or nobody's, is 404
    sku_id, address_id, coupon_id = query_id("sku"), query_id("address"), query_id("coupon")
    if sku_id is not None and db.session.get(Sku, sku_id) is None:
        abort(404)
    if address_id is not None and address_book.address_of(user_id, address_id) is None:
        abort(404)
    if coupon_id is not None:
        held = db.session.get(UserCoupon, coupon_id)
        if held is None or held.user_id != user_id:
            abort(404)
    items, from_cart = _checkout_items(user_id, sku_id)
    if not items:
        flash(shop_texts.nothing_to_buy(), "warn")
        return redirect(url_for("shop.cart_page"))
    if address_id is None:
        default = address_book.default_address(user_id)
        address_id = default.id if default else None
    try:
        quote = checkout.quote(user_id, items, user_coupon_id=coupon_id, address_id=address_id)
    except DomainError as e:
        return _refused(e, url_for("shop.cart_page"))
    address = address_book.address_of(user_id, quote.address_id) if quote.address_id else None
    return render_template(
        "shop/checkout.html",
        quote=quote,
        address=address,
        from_cart=from_cart,
        sku=sku_id,
        qty=request.args.get("qty", "1"),
        refusal=shop_texts.shop_refusal(quote.refusal, {}) if quote.refusal else None,
    )


@bp.post("/checkout")
@shopper
def place_order(user_id: int):
    from_cart = request.form.get("from_cart") == "1"
    address_id = form_id("address")
    if from_cart:
        lines = [line for line in cart_service.cart(user_id) if line.available]
        items = [checkout.CheckoutItem(line.sku_id, line.quantity) for line in lines]
    else:
        sku_id = form_id("sku")
        if sku_id is None:
            abort(400)
        items = [checkout.CheckoutItem(sku_id, form_int("qty", 1, MAX_QUANTITY))]
    back = request.referrer if (request.referrer or "").find("/shop/checkout") >= 0 else None
    if address_id is None:
        flash(shop_texts.shop_refusal("no_address", {}), "warn")
        return redirect(back or url_for("shop.checkout_page"))
    try:
        order = checkout.place_order(
            user_id,
            items,
            address_id=address_id,
            user_coupon_id=form_id("coupon"),
            note=request.form.get("note", "")[:200],
            from_cart=from_cart,
        )
    except DomainError as e:
        return _refused(e, back or url_for("shop.cart_page"))
    return redirect(url_for("shop.pay_page", order_no=order.order_no))


@bp.get("/orders/<order_no:order_no>/pay")
@shopper
def pay_page(user_id: int, order_no: str):
    """The 微信支付 button (web/static/shop/pay.js hands the parameters to
    getBrandWCPayRequest). Back from the cashier with `err_msg`, on to the result: what the
    order really is, never the browser's word."""
    if request.args.get("err_msg") is not None:
        return redirect(url_for("shop.result_page", order_no=order_no))
    order = checkout.order_of(order_no, user_id)
    if order.status != "pending_payment":
        return redirect(url_for("shop.order_page", order_no=order_no))
    try:
        params = checkout.payment_params(order_no, user_id)
    except DomainError as e:
        return _refused(e, url_for("shop.order_page", order_no=order_no))
    except OSError:  # WeChat Pay could not be reached: the page says so and offers to retry
        log.warning("prepay for %s did not reach WeChat Pay", order_no, exc_info=True)
        params = None
    return render_template(
        "shop/pay.html",
        order=order,
        params=params,
        bridge_script=bridge_script(),
        result_url=url_for("shop.result_page", order_no=order_no),
    )


@bp.get("/orders/<order_no:order_no>/result")
@shopper
def result_page(user_id: int, order_no: str):
    order = checkout.refresh_order(order_no, user_id)
    return render_template("shop/result.html", order=order)


# -- orders ------------------------------------------------------------------------------------
@bp.get("/orders")
@shopper
def orders_page(user_id: int):
    status = request.args.get("status", "all")
    if status not in ORDER_TABS:
        abort(404)
    try:
        page = checkout.my_orders(
            user_id,
            status=None if status == "all" else status,
            cursor=request.args.get("cursor") or None,
        )
    except DomainError:
        abort(400)
    return render_template(
        "shop/orders.html", tab="orders", page=page, status=status, tabs=ORDER_TABS
    )


@bp.get("/orders/<order_no:order_no>")
@shopper
def order_page(user_id: int, order_no: str):
    order = checkout.order_of(order_no, user_id)
    requests_by_line: dict[int, list] = {}
    for r in refund_requests.refund_requests_of(order.id):
        requests_by_line.setdefault(r.order_line_id, []).append(r)
    return render_template("shop/order.html", tab="orders", order=order, refunds=requests_by_line)


@bp.post("/orders/<order_no:order_no>/cancel")
@shopper
def cancel_order(user_id: int, order_no: str):
    try:
        checkout.cancel_by_shopper(order_no, user_id)
    except DomainError as e:
        return _refused(e, url_for("shop.order_page", order_no=order_no))
    flash(shop_texts.order_cancelled(), "ok")
    return redirect(url_for("shop.order_page", order_no=order_no))


@bp.post("/orders/<order_no:order_no>/confirm")
@shopper
def confirm_receipt(user_id: int, order_no: str):
    try:
        checkout.confirm_receipt(order_no, user_id)
    except DomainError as e:
        return _refused(e, url_for("shop.order_page", order_no=order_no))
    return redirect(url_for("shop.order_page", order_no=order_no))


@bp.route("/orders/<order_no:order_no>/refund/<id:line_id>", methods=["GET", "POST"])
@shopper
def refund_page(user_id: int, order_no: str, line_id: int):
    order = checkout.order_of(order_no, user_id)
    line = next((line for line in order.lines if line.id == line_id), None)
    if line is None:
        abort(404)
    if request.method == "POST":
        kind = request.form.get("kind", "")
        if kind not in ("refund_only", "return_refund"):
            abort(400)
        try:
            refund_requests.request_refund(
                user_id, order_no, line_id, kind, reason=request.form.get("reason", "")[:200]
            )
        except DomainError as e:
            return _refused(e, url_for("shop.refund_page", order_no=order_no, line_id=line_id))
        flash(shop_texts.refund_requested(), "ok")
        return redirect(url_for("shop.order_page", order_no=order_no))
    return render_template("shop/refund.html", order=order, line=line)


# -- addresses and coupons -----------------------------------------------------------------------
ADDRESS_FIELDS = ("name", "phone", "province", "city", "district", "detail")


@bp.get("/addresses")
@shopper
def addresses_page(user_id: int):
    return render_template(
        "shop/addresses.html",
        addresses=address_book.addresses(user_id),
        pick=request.args.get("pick", "") or None,
    )


@bp.route("/addresses/new", methods=["GET", "POST"], defaults={"address_id": None})
@bp.route("/addresses/<id:address_id>", methods=["GET", "POST"])
@shopper
def address_page(user_id: int, address_id: int | None):
    address = address_book.address_of(user_id, address_id) if address_id else None
    if address_id is not None and address is None:
        abort(404)
    values = {f: getattr(address, f) for f in ADDRESS_FIELDS} if address else {}
    problem = None
    if request.method == "POST":
        values = {f: request.form.get(f, "") for f in ADDRESS_FIELDS}
        try:
            saved = address_book.save_address(user_id, values, address_id)
        except DomainError as e:
            problem = shop_texts.shop_refusal(e.code, e.params)
        else:
            if request.form.get("default") == "1":
                address_book.set_default_address(user_id, saved.id)
            return redirect(_back(url_for("shop.addresses_page")))
    page = render_template(
        "shop/address.html",
        address=address,
        values=values,
        problem=problem,
        next=request.args.get("next", ""),
    )
    return page, (400 if problem else 200)


@bp.post("/addresses/<id:address_id>/delete")
@shopper
def delete_address(user_id: int, address_id: int):
    address_book.delete_address(user_id, address_id)
    return redirect(url_for("shop.addresses_page"))


@bp.get("/coupons")
@shopper
def coupons_page(user_id: int):
    return render_template(
        "shop/coupons.html",
        offers=coupons.offers(user_id),
        mine=coupons.my_coupons(user_id),
    )


@bp.post("/coupons/<id:coupon_id>/claim")
@shopper
def claim_coupon(user_id: int, coupon_id: int):
    try:
        coupons.claim(user_id, coupon_id)
    except DomainError as e:
        return _refused(e, url_for("shop.coupons_page"))
    flash(shop_texts.coupon_claimed(), "ok")
    return redirect(url_for("shop.coupons_page"))

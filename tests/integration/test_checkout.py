"""The shop's checkout on both databases: quote and order priced from the database only, stock
taken and given back, the coupon locked, used and released, the WeChat Pay parameters, the
result page's query, the shopper's cancel and receipt, the order list; bad input refused whole.
WeChat Pay is a fake gateway (tests.support.checkout.FakePay), except in the last test, which
runs the app, the simulator's APIv3 side and the notify endpoint over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

import simulator
from demo_identity import DEMO_PAY_PUBLIC_KEY_ID
from infra.clock import now
from models import (
    CartItem,
    Commission,
    Order,
    Payment,
    PayNotification,
    Product,
    Refund,
    Sku,
    UserCoupon,
    db,
)
from models.base import begin_write
from models.errors import CouponRefused, InvalidCursor, NotFound, OrderError, RegionNotDelivered
from models.events import StatusChange
from services import checkout, orders, payments
from services.checkout import CheckoutItem
from services.ledger import balances, reconcile
from tests.conftest import test_config
from tests.factories import make_chain, make_product, make_shopper, make_user, set_policy
from tests.support.checkout import (
    FakePay,
    add_sku,
    claim,
    items,
    job,
    make_address,
    make_coupon,
)
from tests.support.serving import serve, wait_until
from web import create_app
from wechat.pay_v3 import PayNotice, use_pay_gateway
from workers import shop as shop_jobs


@pytest.fixture
def gateway(ctx):
    fake = FakePay()
    use_pay_gateway(ctx, fake)
    return fake


@pytest.fixture
def shop(ctx):
    """A shopper under a two-level chain, with an address, a product of two SKUs and a coupon."""
    _top, middle = make_chain(2)
    shopper = make_shopper(bound_to=middle)
    product = make_product(price_fen=5_000, stock=10, title="保温杯")
    red = db.session.scalars(select(Sku).where(Sku.product_id == product.id)).one()
    blue = add_sku(product, 8_000, 5, "蓝")
    address = make_address(shopper)
    return shopper, middle, product, red, blue, address


def stock(sku_id: int) -> int:
    db.session.expire_all()
    return db.session.get(Sku, sku_id).stock


def coupon_status(user_coupon_id: int) -> tuple[str, int | None]:
    db.session.expire_all()
    row = db.session.get(UserCoupon, user_coupon_id)
    return row.status, row.order_id


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


# -- the whole path -----------------------------------------------------------------------------


def test_quote_order_pay_and_receive_the_whole_way(shop, gateway):
    shopper, middle, product, red, blue, address = shop
    set_policy(shipping_flat_fen=800, shipping_free_over_fen=None)
    claimed = claim(shopper, make_coupon(off_fen=1_000))
    db.session.add(CartItem(user_id=shopper.id, sku_id=red.id, quantity=2))
    db.session.commit()

    wanted = items((red.id, 2), (blue.id, 1))
    q = checkout.quote(shopper.id, wanted, user_coupon_id=claimed.id)
    assert (q.goods_fen, q.discount_fen, q.shipping_fen, q.payable_fen) == (
        18_000,
        1_000,
        800,
        17_800,
    )
    assert q.refusal is None and q.address_id == address.id and q.user_coupon_id == claimed.id
    assert [(line.sku_id, line.paid_fen) for line in q.lines] == [(red.id, 9_444), (blue.id, 7_556)]

    order = checkout.place_order(
        shopper.id, wanted, address_id=address.id, user_coupon_id=claimed.id, from_cart=True
    )
    assert order.payable_fen == q.payable_fen
    assert order.address["province"] == "浙江省" and order.chain == [middle.id, middle.upline_id]
    assert (stock(red.id), stock(blue.id)) == (8, 4)
    assert coupon_status(claimed.id) == ("locked", order.id)
    assert count(CartItem) == 0

    params = checkout.payment_params(order.order_no, shopper.id)
    assert params["package"].startswith("prepay_id=") and set(params) == {
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    }
    assert gateway.prepays == [(order.order_no, "保温杯等3件", 17_800, shopper.openid)]
    assert checkout.payment_params(order.order_no, shopper.id) == params  # reused, not asked again
    assert len(gateway.prepays) == 1

    gateway.pay(order.order_no, 17_800)
    seen = checkout.refresh_order(order.order_no, shopper.id)
    assert seen.status == "paid"
    assert coupon_status(claimed.id) == ("used", order.id)
    assert db.session.get(Product, product.id).sales_count == 3
    assert balances(middle.id)["pending"] == sum(
        c.amount_fen
        for c in db.session.scalars(
            select(Commission).where(Commission.beneficiary_id == middle.id)
        )
    )
    assert balances(middle.id)["pending"] > 0
    assert checkout.refresh_order(order.order_no, shopper.id).status == "paid"  # once
    assert count(Payment) == 1

    orders.ship_order(order.id)
    assert checkout.confirm_receipt(order.order_no, shopper.id).status == "completed"
    assert reconcile().ok


def test_the_price_is_the_database_price_at_the_time_of_the_order(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    quoted = checkout.quote(shopper.id, items((red.id, 1)))
    assert quoted.payable_fen == 5_000
    begin_write()
    db.session.get(Sku, red.id).price_fen = 6_000  # the merchant changes it meanwhile
    db.session.commit()
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    assert (order.lines[0].unit_price_fen, order.payable_fen) == (6_000, 6_000)
    assert not hasattr(CheckoutItem(red.id, 1), "price_fen")  # nothing to send a price in


def test_repeated_skus_are_merged_into_one_line(shop):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 2), (red.id, 3)), address_id=address.id)
    assert [(line.sku_id, line.quantity) for line in order.lines] == [(red.id, 5)]
    assert stock(red.id) == 5


# -- refusals change nothing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "reason"),
    [
        ([], "lines"),
        ([("red", 0)], "quantity"),
        ([("red", -1)], "quantity"),
        ([("red", 1_000)], "quantity"),
        ([("red", True)], "quantity"),
        ([("red", 1.0)], "quantity"),
        ([("red", "2")], "quantity"),
        ([("red", 600), ("red", 400)], "quantity"),
        ([(True, 1)], "lines"),
        ([(-5, 1)], "lines"),
        ([("red", 11)], "out_of_stock"),
        ([("red", 1), ("blue", 6)], "out_of_stock"),
        ([(987_654, 1)], "not_on_sale"),
    ],
)
def test_bad_items_are_refused_and_take_nothing(shop, wanted, reason):
    shopper, _middle, _product, red, blue, address = shop
    claimed = claim(shopper, make_coupon())
    ids = {"red": red.id, "blue": blue.id}
    wanted = [CheckoutItem(ids.get(s, s), q) for s, q in wanted]
    with pytest.raises(OrderError) as refused:
        checkout.place_order(shopper.id, wanted, address_id=address.id, user_coupon_id=claimed.id)
    assert refused.value.params["reason"] == reason
    assert (stock(red.id), stock(blue.id)) == (10, 5)
    assert coupon_status(claimed.id) == ("available", None)
    assert count(Order) == 0


def test_more_than_fifty_skus_are_refused(shop):
    shopper, _middle, product, *_rest, address = shop
    many = [CheckoutItem(add_sku(product, 100, 1, f"s{n}").id, 1) for n in range(51)]
    with pytest.raises(OrderError) as refused:
        checkout.place_order(shopper.id, many, address_id=address.id)
    assert refused.value.params["reason"] == "lines"
    assert count(Order) == 0


def test_an_address_of_someone_else_is_not_found_and_nothing_changes(shop):
    shopper, _middle, _product, red, _blue, _address = shop
    theirs = make_address(make_user())
    with pytest.raises(NotFound):
        checkout.place_order(shopper.id, items((red.id, 1)), address_id=theirs.id)
    with pytest.raises(NotFound):
        checkout.quote(shopper.id, items((red.id, 1)), address_id=theirs.id)
    assert stock(red.id) == 10 and count(Order) == 0


def _coupon_case(case: str, shopper):
    at = now()
    if case == "foreign":
        return claim(make_user(), make_coupon()), "unavailable"
    if case == "expired":
        expired = make_coupon(starts_at=at - timedelta(days=9), ends_at=at - timedelta(days=1))
        return claim(shopper, expired), "expired"
    if case == "locked":
        return claim(shopper, make_coupon(), status="locked"), "unavailable"
    if case == "used":
        return claim(shopper, make_coupon(), status="used"), "unavailable"
    if case == "below_minimum":
        rich = make_coupon(kind="amount_off", off_fen=2_000, min_goods_fen=100_000)
        return claim(shopper, rich), "below_minimum"
    if case == "inactive":
        return claim(shopper, make_coupon(active=False)), "inactive"
    other = make_coupon(product_ids=[make_product().id])
    return claim(shopper, other), "no_eligible_goods"


@pytest.mark.parametrize(
    "case", ["foreign", "expired", "locked", "used", "below_minimum", "inactive", "scope"]
)
def test_a_coupon_that_cannot_be_used_is_refused_and_nothing_changes(shop, case):
    shopper, _middle, _product, red, _blue, address = shop
    claimed, reason = _coupon_case(case, shopper)
    before = coupon_status(claimed.id)
    with pytest.raises(CouponRefused) as refused:
        checkout.place_order(
            shopper.id, items((red.id, 2)), address_id=address.id, user_coupon_id=claimed.id
        )
    assert refused.value.params["reason"] == reason
    assert stock(red.id) == 10 and count(Order) == 0
    assert coupon_status(claimed.id) == before


def test_a_region_the_shop_does_not_ship_to_is_refused(shop):
    shopper, _middle, _product, red, _blue, _address = shop
    set_policy(shipping_excluded_regions=["新疆"])
    far = make_address(shopper, province="新疆维吾尔自治区")
    q = checkout.quote(shopper.id, items((red.id, 1)), address_id=far.id)
    assert (q.refusal, q.goods_fen) == ("region_not_delivered", 5_000)
    with pytest.raises(RegionNotDelivered):
        checkout.place_order(shopper.id, items((red.id, 1)), address_id=far.id)
    assert stock(red.id) == 10 and count(Order) == 0


def test_an_order_that_would_cost_nothing_is_refused(shop):
    shopper, *_rest, address = shop
    free = make_product(price_fen=0, stock=5)
    sku_id = free.skus[0].id
    assert checkout.quote(shopper.id, items((sku_id, 1))).refusal == "zero_payable"
    with pytest.raises(OrderError) as refused:
        checkout.place_order(shopper.id, items((sku_id, 1)), address_id=address.id)
    assert refused.value.params["reason"] == "zero_payable"
    assert stock(sku_id) == 5


def test_the_note_loses_control_characters_and_over_200_characters_is_refused(shop):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(
        shopper.id, items((red.id, 1)), address_id=address.id, note=" 请\x00放门口\n\x1b "
    )
    assert order.note == "请放门口"
    with pytest.raises(OrderError) as refused:
        checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id, note="字" * 201)
    assert refused.value.params["reason"] == "note"
    assert stock(red.id) == 9


# -- the quote ----------------------------------------------------------------------------------


def test_the_quote_lists_usable_coupons_first_best_first_and_says_why_others_do_not_apply(shop):
    shopper, _middle, _product, red, _blue, _address = shop
    small = claim(shopper, make_coupon(off_fen=500))
    big = claim(shopper, make_coupon(off_fen=1_500))
    far = claim(shopper, make_coupon(kind="amount_off", off_fen=9_000, min_goods_fen=20_000))
    q = checkout.quote(shopper.id, items((red.id, 2)), user_coupon_id=far.id)
    assert [(c.user_coupon_id, c.discount_fen, c.refusal, c.short_fen) for c in q.coupons] == [
        (big.id, 1_500, None, None),
        (small.id, 500, None, None),
        (far.id, None, "below_minimum", 10_000),
    ]
    assert (q.user_coupon_id, q.discount_fen) == (None, 0)  # the chosen one does not apply
    chosen = checkout.quote(shopper.id, items((red.id, 2)), user_coupon_id=small.id)
    assert (chosen.user_coupon_id, chosen.payable_fen) == (small.id, 9_500)


def test_the_quote_says_what_stops_the_order(shop):
    shopper, _middle, product, red, _blue, _address = shop
    homeless = make_user()
    assert checkout.quote(homeless.id, items((red.id, 1))).refusal == "no_address"
    short = checkout.quote(shopper.id, items((red.id, 11)))
    assert (short.refusal, short.refusal_params) == ("out_of_stock", {"sku_id": red.id})
    begin_write()
    db.session.get(Product, product.id).on_sale = False
    db.session.commit()
    gone = checkout.quote(shopper.id, items((red.id, 1)))
    assert (gone.refusal, gone.lines) == ("not_on_sale", [])


def test_the_quote_uses_the_default_address_and_the_first_photo_id(shop):
    shopper, _middle, _product, red, _blue, address = shop
    make_address(shopper, province="上海市", default=False)
    q = checkout.quote(shopper.id, items((red.id, 1)))
    assert q.address_id == address.id and q.lines[0].photo_id is None


# -- paying -------------------------------------------------------------------------------------


def test_payment_parameters_only_for_the_buyers_unpaid_order(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    with pytest.raises(NotFound):
        checkout.payment_params(order.order_no, make_user().id)
    checkout.cancel_by_shopper(order.order_no, shopper.id)
    with pytest.raises(OrderError) as refused:
        checkout.payment_params(order.order_no, shopper.id)
    assert refused.value.params["reason"] == "not_payable"
    assert gateway.prepays == []


def test_a_prepay_older_than_110_minutes_is_made_again(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    checkout.payment_params(order.order_no, shopper.id)
    begin_write()
    db.session.get(Order, order.id).prepay_at = now() - timedelta(minutes=111)
    db.session.commit()
    again = checkout.payment_params(order.order_no, shopper.id)
    assert len(gateway.prepays) == 2
    db.session.expire_all()
    assert again["package"] == "prepay_id=" + db.session.get(Order, order.id).prepay_id


def test_a_failed_query_leaves_the_order_as_it_is(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    checkout.payment_params(order.order_no, shopper.id)
    gateway.pay(order.order_no, order.payable_fen)
    gateway.query_fails = True
    assert checkout.refresh_order(order.order_no, shopper.id).status == "pending_payment"
    gateway.query_fails = False
    assert checkout.refresh_order(order.order_no, shopper.id).status == "paid"


def test_the_sweep_books_payments_whose_notify_never_came(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    paid = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    unpaid = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    recent = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    for order in (paid, unpaid, recent):
        checkout.payment_params(order.order_no, shopper.id)
    begin_write()
    for order in (paid, unpaid):
        db.session.get(Order, order.id).prepay_at = now() - timedelta(minutes=6)
    db.session.commit()
    gateway.pay(paid.order_no, paid.payable_fen)
    gateway.pay(recent.order_no, recent.payable_fen)
    assert shop_jobs.sync_unpaid_orders() == 2  # the recent one waits for its notify
    db.session.expire_all()
    statuses = [db.session.get(Order, o.id).status for o in (paid, unpaid, recent)]
    assert statuses == ["paid", "pending_payment", "pending_payment"]


def test_a_notify_with_a_wrong_amount_is_refused_and_recorded(shop):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    resource = {
        "out_trade_no": order.order_no,
        "transaction_id": "4200000000000000000001",
        "trade_state": "SUCCESS",
        "amount": {"total": 1, "payer_total": 1, "currency": "CNY"},
    }
    outcome = payments.handle_notice(
        "transaction", PayNotice("n-1", "TRANSACTION.SUCCESS", "", resource)
    )
    assert outcome.outcome == "amount_mismatch"
    assert db.session.scalar(select(PayNotification.outcome)) == "amount_mismatch"
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "pending_payment" and count(Payment) == 0


# -- cancelling ---------------------------------------------------------------------------------


def test_the_shopper_cancels_stock_and_coupon_come_back_and_the_transaction_is_closed(
    shop, gateway
):
    shopper, _middle, _product, red, _blue, address = shop
    claimed = claim(shopper, make_coupon())
    order = checkout.place_order(
        shopper.id, items((red.id, 3)), address_id=address.id, user_coupon_id=claimed.id
    )
    checkout.payment_params(order.order_no, shopper.id)
    with pytest.raises(NotFound):
        checkout.cancel_by_shopper(order.order_no, make_user().id)
    assert checkout.cancel_by_shopper(order.order_no, shopper.id).status == "cancelled"
    assert stock(red.id) == 10
    assert coupon_status(claimed.id) == ("available", None)
    moves = db.session.execute(
        select(StatusChange.from_status, StatusChange.to_status)
        .where(StatusChange.entity == "user_coupons", StatusChange.entity_id == claimed.id)
        .order_by(StatusChange.id)
    ).all()
    assert [tuple(m) for m in moves] == [("available", "locked"), ("locked", "available")]
    assert job(f"close-{order.order_no}") is not None
    assert shop_jobs.close_transaction(order.id) == "closed"
    assert gateway.closed == [order.order_no]
    with pytest.raises(OrderError) as refused:
        checkout.cancel_by_shopper(order.order_no, shopper.id)
    assert refused.value.params["reason"] == "not_cancellable"


def test_the_unpaid_order_job_returns_stock_releases_the_coupon_and_closes(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    claimed = claim(shopper, make_coupon())
    order = checkout.place_order(
        shopper.id, items((red.id, 2)), address_id=address.id, user_coupon_id=claimed.id
    )
    checkout.payment_params(order.order_no, shopper.id)
    assert orders.cancel_unpaid_orders(now() + timedelta(minutes=31)) == 1
    assert stock(red.id) == 10 and coupon_status(claimed.id) == ("available", None)
    assert shop_jobs.close_transaction(order.id) == "closed"
    assert gateway.closed == [order.order_no]


def test_a_close_refused_because_it_was_paid_books_the_payment_and_refunds_it(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    checkout.payment_params(order.order_no, shopper.id)
    orders.cancel_order(order.id, "unpaid")
    gateway.pay(order.order_no, order.payable_fen)  # paid just before the close
    assert shop_jobs.close_transaction(order.id) == "refund_due"
    refund_no = "RC" + order.order_no
    assert job(f"refund-{refund_no}") is not None
    assert shop_jobs.refund_cancelled_payment(order.id) == "processing"
    assert [call[:4] for call in gateway.refund_calls] == [
        (refund_no, order.order_no, 5_000, 5_000)
    ]
    db.session.expire_all()
    assert db.session.get(Order, order.id).status == "cancelled"
    assert stock(red.id) == 10


def test_a_payment_on_a_cancelled_order_is_refunded_once_however_often_it_is_told(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    orders.cancel_order(order.id, "unpaid")
    outcomes = {payments.book_transaction("4200-late", order.order_no, 5_000) for _ in range(10)}
    assert outcomes == {"refund_due"}
    assert count(Payment) == 1
    gateway.refund_status = "SUCCESS"
    assert shop_jobs.refund_cancelled_payment(order.id) == "cancelled_refunded"
    assert shop_jobs.refund_cancelled_payment(order.id) == "nothing to do"
    assert len(gateway.refund_calls) == 1
    refund = db.session.scalar(select(Refund))
    assert (refund.refund_no, refund.amount_fen) == ("RC" + order.order_no, 5_000)
    # its notify arriving afterwards books nothing more
    assert payments.book_refund(refund.refund_no, order.order_no, "SUCCESS", 5_000) == (
        "refund_booked_before"
    )
    assert count(Refund) == 1
    assert db.session.get(Order, order.id).status == "cancelled"


def test_a_lost_refund_job_is_swept_up(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    orders.cancel_order(order.id, "unpaid")
    payments.book_transaction("4200-lost", order.order_no, 5_000)
    assert shop_jobs.sync_refunds() == 0  # too recent: its job is still on the queue
    begin_write()
    db.session.scalar(select(Payment)).created_at = now() - timedelta(minutes=10)
    db.session.commit()
    assert shop_jobs.sync_refunds() == 1
    assert [call[0] for call in gateway.refund_calls] == ["RC" + order.order_no]


# -- the shopper's orders -----------------------------------------------------------------------


def test_my_orders_are_newest_first_a_page_at_a_time_and_only_mine(shop):
    shopper, _middle, _product, red, _blue, address = shop
    placed = [
        checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id).order_no
        for _ in range(5)
    ]
    other = make_user()
    make_address(other)
    checkout.place_order(other.id, items((red.id, 1)), address_id=make_address(other).id)
    checkout.cancel_by_shopper(placed[0], shopper.id)
    first = checkout.my_orders(shopper.id, limit=2)
    second = checkout.my_orders(shopper.id, cursor=first.next_cursor, limit=2)
    third = checkout.my_orders(shopper.id, cursor=second.next_cursor, limit=2)
    seen = [o.order_no for page in (first, second, third) for o in page.items]
    assert seen == placed[::-1] and third.next_cursor is None
    cancelled = checkout.my_orders(shopper.id, status="cancelled")
    assert [o.order_no for o in cancelled.items] == [placed[0]]
    with pytest.raises(OrderError):
        checkout.my_orders(shopper.id, status="lost")
    with pytest.raises(InvalidCursor):
        checkout.my_orders(shopper.id, cursor=first.next_cursor + "x")
    with pytest.raises(InvalidCursor):
        checkout.my_orders(shopper.id, limit=0)
    with pytest.raises(NotFound):
        checkout.order_of(placed[1], other.id)


def test_receipt_is_confirmed_only_for_a_shipped_order(shop, gateway):
    shopper, _middle, _product, red, _blue, address = shop
    order = checkout.place_order(shopper.id, items((red.id, 1)), address_id=address.id)
    with pytest.raises(OrderError) as refused:
        checkout.confirm_receipt(order.order_no, shopper.id)
    assert refused.value.params["reason"] == "not_shipped"
    with pytest.raises(NotFound):
        checkout.confirm_receipt(order.order_no, make_user().id)


# -- over real HTTP -----------------------------------------------------------------------------


@pytest.fixture
def stack(database_url, redis_url, tmp_path):
    """(app, the simulator's URL): the app's gateway talks to the simulator, whose notifies
    reach the app's /pay/notify endpoint."""
    instance = tmp_path / "instance"
    app = create_app(test_config(database_url, redis_url, instance))
    sim = simulator.create_app(
        {
            "FENXIAO_MODE": "test",
            "SIM_PAYV3_KEY_DIR": str(instance / "wechat_pay"),
            "WECHAT_PAY_MCH_ID": app.config["WECHAT_PAY_MCH_ID"],
            "WECHAT_PAY_PUBLIC_KEY_ID": DEMO_PAY_PUBLIC_KEY_ID,
            "SIM_PAYV3_NOTIFY_RETRY_DELAYS": "0.05,0.05",
        }
    )
    with serve(sim) as sim_url, serve(app) as app_url:
        app.config["WECHAT_PAY_V3_API_BASE"] = sim_url
        app.config["WECHAT_PAY_NOTIFY_BASE"] = app_url
        yield app, sim_url
    with app.app_context():
        db.engine.dispose()


def test_checkout_paid_through_the_simulator(stack):
    app, sim_url = stack
    with app.app_context():
        _top, middle = make_chain(2)
        shopper = make_shopper(bound_to=middle)
        requests.post(f"{sim_url}/sim/users", json={"openid": shopper.openid, "subscribed": True})
        sku_id = make_product(price_fen=10_000, stock=3).skus[0].id
        address_id = make_address(shopper).id
        claimed_id = claim(shopper, make_coupon(off_fen=2_000)).id
        order = checkout.place_order(
            shopper.id, items((sku_id, 1)), address_id=address_id, user_coupon_id=claimed_id
        )
        order_id, order_no, shopper_id, middle_id = order.id, order.order_no, shopper.id, middle.id
        params = checkout.payment_params(order_no, shopper_id)
        assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"

    paid = requests.post(f"{sim_url}/sim/pay/v3/orders/{order_no}/pay", timeout=30)
    assert paid.status_code == 200, paid.text
    assert paid.json()["order"]["total"] == 8_000

    def order_paid():
        """the order is paid by the simulator's notify"""
        with app.app_context():
            status = db.session.scalar(select(Order.status).where(Order.id == order_id))
            db.session.rollback()
            return status == "paid"

    wait_until(order_paid)
    with app.app_context():
        assert coupon_status(claimed_id) == ("used", order_id)
        commissions = db.session.scalars(
            select(Commission).where(Commission.order_id == order_id)
        ).all()
        assert {c.status for c in commissions} == {"pending"}
        assert balances(middle_id)["pending"] == 800  # 10 % of the ¥80 paid for goods
        assert checkout.refresh_order(order_no, shopper_id).status == "paid"
        assert count(Payment) == 1 and reconcile().ok

"""The checkout under concurrency, on PostgreSQL (row locks and conditional updates; SQLite
serialises every write transaction, so it cannot show a race): real threads, each with its own
app context, session and connection, all released at once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from models import Order, Payment, PayNotification, Product, Refund, Sku, UserCoupon, db
from models.errors import CouponRefused, InvalidTransition, OrderError
from models.events import StatusChange
from services import checkout, orders, payments
from services.ledger import reconcile
from tests.conftest import test_config
from tests.factories import make_chain, make_product, make_shopper, make_user
from tests.support.checkout import FakePay, claim, items, job, make_address, make_coupon
from web import create_app
from wechat.pay_v3 import PayNotice, use_pay_gateway
from workers import shop as shop_jobs

pytestmark = pytest.mark.slow

THREADS = 40


@pytest.fixture
def threaded_app(database_url, redis_url, tmp_path):
    """The app on PostgreSQL, with a connection pool for every thread at once."""
    if not database_url.startswith("postgresql"):
        pytest.skip("races need PostgreSQL's row locks; SQLite runs one writer at a time")
    engine = {"pool_pre_ping": True, "pool_size": THREADS, "max_overflow": 0}
    config = test_config(
        database_url, redis_url, tmp_path / "instance", SQLALCHEMY_ENGINE_OPTIONS=engine
    )
    app = create_app(config)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def run_concurrently(app, fn, calls) -> list:
    """fn(*args) for every args in `calls`, each in its own app context, released at once;
    each call's result or exception."""
    db.session.rollback()
    go = threading.Event()

    def task(args):
        with app.app_context():
            go.wait()
            try:
                return fn(*args)
            except Exception as error:  # collected and asserted on by the test
                return error
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=min(THREADS, len(calls))) as pool:
        futures = [pool.submit(task, args) for args in calls]
        time.sleep(0.2)
        go.set()
        results = [f.result(timeout=120) for f in futures]
    db.session.rollback()
    return results


def kinds(results) -> Counter:
    return Counter(type(r).__name__ for r in results)


def test_a_hundred_checkouts_of_ten_in_stock_make_exactly_ten_orders(threaded_app):
    sku_id = make_product(price_fen=1_000, stock=10).skus[0].id
    buyers = []
    for _ in range(100):
        user = make_user()
        buyers.append((user.id, make_address(user).id))

    def buy(user_id, address_id):
        return checkout.place_order(user_id, items((sku_id, 1)), address_id=address_id).id

    results = run_concurrently(threaded_app, buy, buyers)

    assert kinds(results) == Counter({"int": 10, "OrderError": 90})
    assert {r.params["reason"] for r in results if isinstance(r, OrderError)} == {"out_of_stock"}
    assert db.session.scalar(select(func.count()).select_from(Order)) == 10
    assert db.session.get(Sku, sku_id).stock == 0


def test_fifty_checkouts_with_one_single_use_coupon_give_it_to_exactly_one(threaded_app):
    shopper = make_user()
    shopper_id, address_id = shopper.id, make_address(shopper).id
    sku_id = make_product(price_fen=5_000, stock=500).skus[0].id
    claimed_id = claim(shopper, make_coupon(off_fen=1_000)).id

    def buy():
        return checkout.place_order(
            shopper_id, items((sku_id, 1)), address_id=address_id, user_coupon_id=claimed_id
        ).id

    results = run_concurrently(threaded_app, buy, [()] * 50)

    assert kinds(results) == Counter({"int": 1, "CouponRefused": 49})
    assert {r.params["reason"] for r in results if isinstance(r, CouponRefused)} == {"unavailable"}
    [order_id] = [r for r in results if isinstance(r, int)]
    coupon = db.session.get(UserCoupon, claimed_id)
    assert (coupon.status, coupon.order_id) == ("locked", order_id)
    assert db.session.get(Order, order_id).discount_fen == 1_000
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1
    assert db.session.get(Sku, sku_id).stock == 499  # the 49 refused took nothing
    locks = select(func.count()).where(
        StatusChange.entity == "user_coupons", StatusChange.to_status == "locked"
    )
    assert db.session.scalar(locks) == 1


def test_the_same_payment_notify_ten_times_at_once_is_one_payment(threaded_app):
    (distributor,) = make_chain(1)
    shopper = make_shopper(bound_to=distributor)
    product = make_product(price_fen=3_000, stock=10)
    claimed_id = claim(shopper, make_coupon(off_fen=500)).id
    order = checkout.place_order(
        shopper.id,
        items((product.skus[0].id, 2)),
        address_id=make_address(shopper).id,
        user_coupon_id=claimed_id,
    )
    resource = {
        "out_trade_no": order.order_no,
        "transaction_id": "4200000000000000000042",
        "trade_state": "SUCCESS",
        "amount": {"total": order.payable_fen, "payer_total": order.payable_fen},
    }
    notice = PayNotice("n-42", "TRANSACTION.SUCCESS", "", resource)

    results = run_concurrently(
        threaded_app, lambda: payments.handle_notice("transaction", notice).outcome, [()] * 10
    )

    assert set(results) <= {"paid", "payment_duplicate"}
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
    assert db.session.scalar(select(func.count()).select_from(PayNotification)) == 1
    assert db.session.get(Order, order.id).status == "paid"
    assert db.session.get(UserCoupon, claimed_id).status == "used"
    assert db.session.get(Product, product.id).sales_count == 2
    assert reconcile().ok


def test_a_notify_racing_the_auto_cancel_ends_paid_or_cancelled_and_refunded(threaded_app):
    gateway = FakePay(refund_status="SUCCESS")
    use_pay_gateway(threaded_app, gateway)
    shopper = make_user()
    address_id = make_address(shopper).id
    sku_id = make_product(price_fen=2_000, stock=100).skus[0].id
    placed = []
    for n in range(12):
        claimed_id = claim(shopper, make_coupon(off_fen=100)).id
        order = checkout.place_order(
            shopper.id, items((sku_id, 1)), address_id=address_id, user_coupon_id=claimed_id
        )
        placed.append((order.id, order.order_no, order.payable_fen, claimed_id, n))

    def pay(order_id, order_no, payable, _coupon, n):
        return payments.book_transaction(f"4200race{n:04d}", order_no, payable)

    def cancel(order_id, *_rest):
        try:
            return orders.cancel_order(order_id, "unpaid").status
        except InvalidTransition:
            return "already paid"

    calls = [(fn, args) for args in placed for fn in (pay, cancel)]
    results = run_concurrently(threaded_app, lambda fn, args: fn(*args), calls)
    assert not [r for r in results if isinstance(r, BaseException)]

    for order_id, order_no, payable, claimed_id, _n in placed:
        order = db.session.get(Order, order_id)
        payment = db.session.scalar(select(Payment).where(Payment.order_id == order_id))
        assert payment is not None  # the money is always recorded, never lost
        if order.status == "paid":
            assert job(f"refund-RC{order_no}") is None
            assert db.session.get(UserCoupon, claimed_id).status == "used"
            continue
        assert order.status == "cancelled"
        assert job(f"refund-RC{order_no}") is not None
        assert db.session.get(UserCoupon, claimed_id).status == "available"
        assert shop_jobs.refund_cancelled_payment(order_id) == "cancelled_refunded"
        refund = db.session.scalar(select(Refund).where(Refund.order_id == order_id))
        assert (refund.refund_no, refund.amount_fen) == ("RC" + order_no, payable)
    paid = db.session.scalar(select(func.count()).where(Order.status == "paid"))
    refunded = {call[0] for call in gateway.refund_calls}
    assert len(refunded) == len(placed) - paid  # one refund per cancelled order, none for paid
    assert reconcile().ok

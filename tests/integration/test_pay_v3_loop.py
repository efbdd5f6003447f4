"""The WeChat Pay APIv3 loop over real HTTP: the app's gateway asks the simulator for a JSAPI
payment, the person pays on the simulator's cashier, and the simulator's signed, encrypted notify
reaches the app's /pay/notify endpoint, which books the payment once; a partial refund comes back
as a notify and reverses the commissions in proportion. Keys flow as in the demo: the app writes
the merchant's key pair and APIv3 key under instance/wechat_pay, and the simulator reads them
there and publishes its platform public key beside them."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import func, select

import simulator
from demo_identity import DEMO_PAY_PUBLIC_KEY_ID
from models import Commission, Order, Payment, PayNotification, Refund, db
from services import ledger, orders
from tests.conftest import test_config
from tests.factories import make_chain, make_product, make_shopper
from tests.support.serving import serve, wait_until
from web import create_app
from wechat.pay_v3 import pay_gateway


@pytest.fixture
def stack(database_url, redis_url, tmp_path):
    """(app, simulator's test client, the simulator's URL), both served over HTTP."""
    instance = tmp_path / "instance"
    app = create_app(test_config(database_url, redis_url, instance))  # writes the merchant keys
    sim = simulator.create_app(
        {
            "FENXIAO_MODE": "test",
            "SIM_PAYV3_KEY_DIR": str(instance / "wechat_pay"),
            "WECHAT_PAY_MCH_ID": app.config["WECHAT_PAY_MCH_ID"],
            "WECHAT_PAY_PUBLIC_KEY_ID": DEMO_PAY_PUBLIC_KEY_ID,
            "SIM_PAYV3_REFUND_SECONDS": 0.05,
            "SIM_PAYV3_NOTIFY_RETRY_DELAYS": "0.05,0.05",
        }
    )
    with serve(sim) as sim_url, serve(app) as app_url:
        app.config["WECHAT_PAY_V3_API_BASE"] = sim_url
        app.config["WECHAT_PAY_NOTIFY_BASE"] = app_url
        yield app, sim.test_client(), sim_url
    with app.app_context():
        db.engine.dispose()


def test_a_payment_and_a_partial_refund_through_the_simulator(stack):
    app, sim, sim_url = stack
    with app.app_context():
        _top, middle = make_chain(2)
        shopper = make_shopper(bound_to=middle)
        product = make_product(price_fen=10_000)
        openid = shopper.openid
        requests.post(f"{sim_url}/sim/users", json={"openid": openid, "subscribed": True})
        order = orders.create_order(shopper.id, [(product.id, 1)])
        order_id, order_no, total = order.id, order.order_no, order.payable_fen
        params = pay_gateway(app).jsapi_prepay(order_no, "分销测试商品", total, openid)
        db.session.rollback()

    paid = sim.post("/sim/pay/v3/cashier", data=params.as_dict() | {"action": "pay"})
    assert paid.status_code in (200, 302)

    def order_paid():
        """the order is paid"""
        with app.app_context():
            status = db.session.scalar(select(Order.status).where(Order.id == order_id))
            db.session.rollback()
            return status == "paid"

    wait_until(order_paid)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1
        levels = {
            c.level: c.amount_fen
            for c in db.session.scalars(select(Commission).where(Commission.order_id == order_id))
        }
        assert levels == {1: 1_000, 2: 500}
        refund = pay_gateway(app).refund("RF" + order_no, order_no, total // 2, total, "退一半")
        assert refund.status in ("PROCESSING", "SUCCESS")
        db.session.rollback()

    def refund_booked():
        """the refund is booked by its notify"""
        with app.app_context():
            found = db.session.scalar(select(Refund).where(Refund.refund_no == "RF" + order_no))
            db.session.rollback()
            return found is not None

    wait_until(refund_booked)
    with app.app_context():
        reversed_by_level = {
            c.level: c.reversed_fen
            for c in db.session.scalars(select(Commission).where(Commission.order_id == order_id))
        }
        assert reversed_by_level == {1: 500, 2: 250}
        kinds = sorted(db.session.scalars(select(PayNotification.kind)))
        assert kinds == ["refund", "transaction"]
        assert ledger.reconcile().ok

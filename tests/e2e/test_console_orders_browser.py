"""Finance at work in Chromium, with the app, the WeChat simulator and a worker over real HTTP:
sign in, ship a paid order with a carrier and a tracking number, then open a shopper's partial
refund request, see the commission it will take back per level before confirming, approve it,
and (once the worker has sent it to the simulator's WeChat Pay and the refund notify has booked
it) see on the order page the reversal done, equal to what was shown. Screenshots of every step
are kept in the test's folder."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from models import Commission, Order, OrderLine, RefundRequest, db
from services import checkout, refund_requests
from tests.factories import make_chain, make_product, make_shopper
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.checkout import add_sku, items, make_address
from tests.support.console import make_staff
from tests.support.serving import wait_until
from tests.support.stack import stack_fixture

pytestmark = pytest.mark.slow
stack = stack_fixture


@pytest.fixture
def paid_order(stack):
    """A two-level chain, a shopper bound under it, and their order of two lines (¥100 and
    2 x ¥30) paid at the simulator's WeChat Pay, whose notify marks it paid."""
    with stack.app.app_context():
        make_staff("finance", "cashier")
        _top, middle = make_chain(2)
        shopper = make_shopper(bound_to=middle)
        cup = make_product(price_fen=10_000, stock=10, title="保温杯")
        pen = add_sku(cup, 3_000, 10, "黑色")
        order = checkout.place_order(
            shopper.id,
            items((cup.skus[0].id, 1), (pen.id, 2)),
            address_id=make_address(shopper).id,
        )
        ids = order.id, order.order_no, shopper.id, shopper.openid
        db.session.rollback()
    order_id, order_no, shopper_id, openid = ids
    stack.sim("POST", "/sim/users", json={"openid": openid, "subscribed": True})
    with stack.app.app_context():
        checkout.payment_params(order_no, shopper_id)  # the prepay at the simulator
    assert stack.sim("POST", f"/sim/pay/v3/orders/{order_no}/pay").status_code == 200

    def paid():
        """the payment notify marked the order paid"""
        with stack.app.app_context():
            status = db.session.get(Order, order_id).status
            db.session.rollback()
        return status == "paid"

    wait_until(paid)
    return order_id, order_no, shopper_id


def test_finance_ships_and_approves_a_partial_refund_seeing_the_reversal_before_and_after(
    stack, paid_order, chromium, tmp_path
):
    order_id, order_no, shopper_id = paid_order
    stack.start_worker()
    shot = Shots(tmp_path)
    with browser_page(chromium) as page:
        page.goto(f"{stack.app_url}/console/login")
        sign_in(page, "cashier")
        expect(page.locator("h1")).to_have_text("今天需要处理")

        # The order list, then the order: ship it.
        page.get_by_role("link", name="订单", exact=True).click()
        page.get_by_role("link", name=order_no).click()
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "paid")
        shot(page, "order-paid")
        page.fill("input[name=carrier]", "顺丰速运")
        page.fill("input[name=tracking_no]", "SF1234567890")
        page.get_by_role("button", name="确认发货").click()
        expect(page.locator(".cx-note")).to_contain_text("已发货：顺丰速运 SF1234567890")
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "shipped")
        expect(page.get_by_test_id("shipment")).to_have_text("顺丰速运 SF1234567890")
        shot(page, "shipped")

        # The shopper asks for half of the pen line back.
        with stack.app.app_context():
            pen_line = db.session.scalar(
                select(OrderLine.id).where(
                    OrderLine.order_id == order_id, OrderLine.spec_text == "黑色"
                )
            )
            request = refund_requests.request_refund(
                shopper_id, order_no, pen_line, "refund_only", amount_fen=3_000, reason="少发一支"
            )
            request_id, refund_no = request.id, request.refund_no
            db.session.rollback()

        # The waiting request: the reversal per level, before confirming.
        page.get_by_role("link", name="退款", exact=True).click()
        page.get_by_role("link", name=refund_no).click()
        preview = page.get_by_test_id("reversal-preview")
        expect(preview).to_be_visible()
        expect(page.get_by_test_id("reversal-level")).to_have_count(2)
        expect(preview).to_contain_text("待结算")
        shown = {
            int(row.get_attribute("data-level")): int(row.get_attribute("data-fen"))
            for row in page.get_by_test_id("reversal-level").all()
        }
        assert shown == {1: 300, 2: 150}  # 10 % and 5 % of the ¥30 refunded
        expect(page.get_by_test_id("reverse-total")).to_have_text("¥4.50")
        shot(page, "refund-preview")
        page.get_by_role("button", name="确认同意退款").click()
        expect(page.locator(".cx-note")).to_contain_text("已同意退款 ¥30.00")
        shot(page, "refund-approved")

        def refunded():
            """the worker sent the refund and the simulator's notify booked it"""
            with stack.app.app_context():
                status = db.session.get(RefundRequest, request_id).status
                db.session.rollback()
            return status == "refunded"

        wait_until(refunded, timeout=30)

        # The order page: the reversal done, as it was shown.
        page.get_by_test_id("order-link").click()
        expect(page.get_by_test_id("booked-reversal")).to_have_count(2)
        done = {
            int(row.get_attribute("data-level")): int(row.get_attribute("data-fen"))
            for row in page.get_by_test_id("booked-reversal").all()
        }
        assert done == shown
        expect(page.get_by_test_id("refund-row")).to_contain_text("¥30.00")
        reversed_cells = page.get_by_test_id("commission-level").get_by_test_id("reversed")
        expect(reversed_cells).to_have_text(["¥3.00", "¥1.50"])
        shot(page, "reversal-done")

    with stack.app.app_context():
        booked = {
            c.level: c.reversed_fen
            for c in db.session.scalars(
                select(Commission).where(Commission.order_line_id == pen_line)
            )
        }
        assert booked == shown
        db.session.rollback()
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(names) == 5 and re.search(r"reversal-done", names[-1])

"""The loop a real shopper walks, in Chromium at a phone's size, with the app, the WeChat
simulator and a worker running over real HTTP: a distributor's product link -> WeChat sign-in
(OAuth) -> bound to the distributor -> a SKU -> the cart -> checkout with a coupon -> paid in
the simulator's cashier -> the order paid -> the distributor's commission-pending notification
in the simulator. Then a refund of one line, requested on the order page and approved by the
merchant through the JSON API: the distributor's pending commission drops by exactly the fen
reversed.
Screenshots of every step are kept in the test's folder."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from infra.clock import now
from models import Binding, Commission, Coupon, Order, RefundRequest, Sku, User, db
from services.ledger import balances
from tests.factories import make_distributor, make_product, set_policy
from tests.support.browser import PHONE, Shots, browser_page
from tests.support.serving import wait_until
from tests.support.stack import stack_fixture

pytestmark = pytest.mark.slow
stack = stack_fixture


@pytest.fixture
def shop(stack):
    """A distributor known to the simulator, a tea with two SKUs, a ¥10 coupon from ¥50."""
    with stack.app.app_context():
        set_policy(shipping_flat_fen=800, shipping_free_over_fen=None)
        distributor = make_distributor(nickname="小美")
        tea = make_product(price_fen=6_800, stock=50, title="明前龙井 100g")
        tea.skus[0].spec, tea.skus[0].spec_text = {"规格": "100g"}, "100g"
        tea.skus.append(Sku(price_fen=12_800, stock=5, spec={"规格": "250g"}, spec_text="250g"))
        at = now()
        db.session.add(
            Coupon(
                title="满50减10",
                kind="amount_off",
                off_fen=1_000,
                min_goods_fen=5_000,
                starts_at=at - timedelta(days=1),
                ends_at=at + timedelta(days=30),
                total_limit=100,
            )
        )
        db.session.commit()
        ids = distributor.id, distributor.code, distributor.user.openid, tea.id
        db.session.rollback()
    stack.sim("POST", "/sim/users", json={"openid": ids[2], "subscribed": True})
    return ids


def test_a_shopper_buys_through_a_distributors_link_and_a_line_is_refunded(
    stack, shop, chromium, tmp_path
):
    distributor_id, code, distributor_openid, tea_id = shop
    stack.start_worker()
    shot = Shots(tmp_path, full_page=False)
    with browser_page(chromium, PHONE) as page:
        # The poster's link: the product, before anyone signs in.
        page.goto(f"{stack.app_url}/p/{tea_id}?d={code}")
        expect(page.locator("h1")).to_have_text("明前龙井 100g")
        shot(page, "product")
        page.locator("label.shop-spec", has_text="250g").click()
        page.get_by_role("button", name="加入购物车").click()

        # WeChat's sign-in (the simulator's authorize page): a new user.
        page.get_by_test_id("oauth-new-nickname").fill("阿花")
        shot(page, "oauth")
        page.get_by_test_id("oauth-new").click()
        expect(page.locator(".shop-note")).to_contain_text("已加入购物车")
        page.get_by_role("button", name="加入购物车").click()  # 100g too: a second line
        # (the 100g SKU is checked again on the fresh page: the first buyable one)

        page.goto(f"{stack.app_url}/shop/cart")
        expect(page.get_by_test_id("cart-line")).to_have_count(2)
        shot(page, "cart")
        page.get_by_test_id("go-checkout").click()

        # Checkout: an address first, then the coupon.
        page.get_by_test_id("add-address").click()
        page.fill("#name", "阿花")
        page.fill("#phone", "13800138000")
        page.fill("#province", "浙江")
        page.fill("#city", "杭州市")
        page.fill("#district", "西湖区")
        page.fill("#detail", "龙井路 1 号")
        shot(page, "address")
        page.get_by_test_id("save-address").click()
        expect(page.get_by_test_id("checkout-address")).to_contain_text("阿花")
        # The coupon must be claimed first: the coupon centre.
        page.goto(f"{stack.app_url}/shop/coupons")
        page.get_by_role("button", name="领取").click()
        expect(page.get_by_test_id("my-coupon")).to_contain_text("满50减10")
        page.goto(f"{stack.app_url}/shop/checkout")
        picker = page.get_by_test_id("coupon-picker")
        coupon_value = picker.locator("option", has_text="满50减10").get_attribute("value")
        picker.select_option(coupon_value)
        page.get_by_role("button", name="使用").click()
        expect(page.get_by_test_id("discount")).to_have_text("-¥10.00")
        # 128.00 + 68.00 - 10.00 + 8.00 shipping
        expect(page.get_by_test_id("payable")).to_have_text("¥194.00")
        shot(page, "checkout")
        page.get_by_test_id("place-order").click()

        # Pay: the simulator's cashier plays getBrandWCPayRequest.
        page.get_by_test_id("pay").click()
        expect(page.get_by_test_id("cashier-amount")).to_have_text("¥194.00")
        shot(page, "cashier")
        page.get_by_test_id("cashier-pay").click()
        result = page.get_by_test_id("pay-result")
        expect(result).to_have_attribute("data-status", "paid", timeout=15_000)
        shot(page, "paid")
        order_path = urlsplit(page.url).path.removesuffix("/result")

        # Bound to the distributor by the link, and the order's chain is theirs.
        with stack.app.app_context():
            [order] = db.session.scalars(select(Order))
            shopper = db.session.get(User, order.user_id)
            assert shopper.openid != distributor_openid
            binding = db.session.get(Binding, shopper.id)
            assert (binding.distributor_id, binding.source) == (distributor_id, "link")
            assert (order.status, order.chain[0]) == ("paid", distributor_id)
            assert (order.goods_fen, order.discount_fen, order.shipping_fen) == (19_600, 1_000, 800)
            pending_before = balances(distributor_id)["pending"]
            assert pending_before == sum(
                db.session.scalars(
                    select(Commission.amount_fen).where(
                        Commission.order_id == order.id, Commission.beneficiary_id == distributor_id
                    )
                )
            )
            assert pending_before > 0
            line_250 = next(line for line in order.lines if line.spec_text == "250g")
            line_id, order_no = line_250.id, order.order_no
            db.session.rollback()

        # The distributor hears of the commission in WeChat.
        def notified():
            """the commission-pending notification reached the distributor"""
            messages = stack.sim("GET", f"/sim/users/{distributor_openid}/messages").json()
            return [
                m
                for m in messages["messages"]
                if m["kind"] == "template" and m.get("title") == "新的佣金待结算"
            ]

        wait_until(notified)

        # A refund of the 250g line, asked on the order page.
        page.goto(f"{stack.app_url}{order_path}")
        expect(page.get_by_test_id("order-status")).to_have_attribute("data-status", "paid")
        page.get_by_test_id("order-line").filter(has_text="250g").get_by_role(
            "link", name="申请退款"
        ).click()
        shot(page, "refund-form")
        page.get_by_test_id("submit-refund").click()
        expect(page.locator(".shop-note")).to_contain_text("退款申请已提交")
        shot(page, "refund-requested")

        with stack.app.app_context():
            [request] = db.session.scalars(
                select(RefundRequest).where(RefundRequest.order_line_id == line_id)
            )
            request_id, refund_fen = request.id, request.amount_fen
            db.session.rollback()
        approve(stack, request_id)

        def refunded():
            """the refund's notify booked it and reversed the line's commissions"""
            with stack.app.app_context():
                status = db.session.get(RefundRequest, request_id).status
                db.session.rollback()
            return status == "refunded"

        wait_until(refunded, timeout=30)
        page.reload()
        expect(page.get_by_test_id("order-line").filter(has_text="250g")).to_contain_text("已退")
        shot(page, "refunded")

    with stack.app.app_context():
        order = db.session.scalar(select(Order).where(Order.order_no == order_no))
        line = next(line for line in order.lines if line.id == line_id)
        assert (line.refunded_fen, order.refunded_fen) == (refund_fen, refund_fen)
        assert order.status == "paid"  # partly refunded: the other line stands
        reversed_fen = db.session.scalar(
            select(func.sum(Commission.reversed_fen)).where(
                Commission.order_line_id == line_id, Commission.beneficiary_id == distributor_id
            )
        )
        assert reversed_fen > 0
        assert balances(distributor_id)["pending"] == pending_before - reversed_fen
        db.session.rollback()
    assert sorted(p.name for p in tmp_path.glob("*.png"))[-1].endswith("refunded.png")


def approve(stack, request_id: int) -> None:
    """The merchant approves the refund request through the API, with the merchant's token
    (and without it nothing happens)."""
    url = f"{stack.app_url}/api/v1/merchant/refund-requests/{request_id}/approve"
    assert requests.post(url, timeout=30).status_code == 401
    token = stack.app.config["MERCHANT_API_TOKEN"]
    answer = requests.post(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "approved"

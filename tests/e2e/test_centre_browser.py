"""The distributor centre in Chromium at a phone's size, with the app, the WeChat simulator and a
worker over real HTTP: a distributor with settled commission opens /me and sees the figures the
bot's 收益 gives, asks for a withdrawal, confirms receipt on the simulator's page (商家转账) and
sees it paid; the customers they brought in by scan and by link are listed; the leaderboard
shows their rank. Screenshots of every step are kept in the test's folder."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree as SafeET
from playwright.sync_api import expect
from sqlalchemy import select

from models import Withdrawal, db
from services.binding import bind_shopper
from services.lookups import earnings
from tests.factories import make_earner, make_user, set_policy
from tests.support import wechat as w
from tests.support.browser import PHONE, Shots, browser_page
from tests.support.stack import stack_fixture
from web.signin import SESSION_OPENID

pytestmark = pytest.mark.slow
stack = stack_fixture


@pytest.fixture
def earner(stack):
    """A distributor with ¥100.00 settled this week (from their first customer's order), and
    two more customers: one bound by a scan, one by a link."""
    with stack.app.app_context():
        distributor = make_earner(10_000)
        set_policy(payout_channel="transfer_bills")
        for nickname, source in (("扫码的客人", "scan"), ("点链接的客人", "link")):
            shopper = make_user(nickname)
            assert bind_shopper(shopper.id, distributor.code, source).bound
        ids = distributor.id, distributor.user.openid, distributor.code
        db.session.rollback()
    stack.sim("POST", "/sim/users", json={"openid": ids[1], "subscribed": True})
    return ids


def bot_earnings(stack, openid: str) -> str:
    client = stack.app.test_client()
    url, body = w.plain_request(w.text_xml(openid, "收益"))
    answer = client.post(url, data=body)
    assert answer.status_code == 200
    return SafeET.fromstring(answer.data).findtext("Content")


def test_a_distributor_sees_their_figures_withdraws_confirms_and_sees_their_customers_and_rank(
    stack, earner, chromium, tmp_path
):
    distributor_id, openid, _code = earner
    stack.start_worker()
    with stack.app.app_context():
        figures = earnings(distributor_id)
        db.session.rollback()
    assert figures.available_fen == 10_000
    assert "¥100.00" in bot_earnings(stack, openid)  # the bot says the same

    shot = Shots(tmp_path, full_page=False)
    cookie = stack.app.session_interface.get_signing_serializer(stack.app).dumps(
        {SESSION_OPENID: openid}
    )
    host = urlsplit(stack.app_url).hostname
    signed_in = [{"name": "session", "value": cookie, "domain": host, "path": "/"}]
    with browser_page(chromium, PHONE, signed_in) as page:
        # The overview: the bot's figures.
        page.goto(f"{stack.app_url}/me")
        expect(page.get_by_test_id("available")).to_have_text("¥100.00")
        expect(page.get_by_test_id("pending")).to_have_text("¥0.00")
        expect(page.get_by_test_id("withdrawn")).to_have_text("¥0.00")
        shot(page, "overview")

        # Withdraw ¥5 on the page: the payout job makes a 商家转账 bill that waits for them.
        page.goto(f"{stack.app_url}/me/withdrawals")
        page.fill("#amount", "5")
        page.get_by_role("button", name="提现到微信零钱").click()
        expect(page.locator(".shop-note")).to_contain_text("提现 ¥5.00 已提交")
        with stack.app.app_context():
            [withdrawal_id] = db.session.scalars(select(Withdrawal.id))
            db.session.rollback()
        stack.wait_status(withdrawal_id, "waiting_user")
        page.reload()
        shot(page, "waiting")
        page.get_by_test_id("confirm-receipt").click()
        expect(page.locator("#confirm-transfer")).to_be_enabled(timeout=10_000)
        page.locator("#confirm-transfer").click()
        page.get_by_test_id("transfer-confirm").click()  # the simulator's confirmation page
        stack.wait_status(withdrawal_id, "paid")
        page.goto(f"{stack.app_url}/me/withdrawals")
        row = page.get_by_test_id("withdrawal").first
        expect(row).to_have_attribute("data-status", "paid")
        expect(row).to_contain_text("已到账")
        shot(page, "paid")
        page.goto(f"{stack.app_url}/me")
        expect(page.get_by_test_id("available")).to_have_text("¥95.00")
        expect(page.get_by_test_id("withdrawn")).to_have_text("¥5.00")

        # The customers they brought in, and how.
        page.goto(f"{stack.app_url}/me/team?view=customers")
        customers = page.get_by_test_id("customer")
        expect(customers).to_have_count(3)  # make_earner's buyer, and the two above
        expect(page.locator("main")).to_contain_text("通过链接绑定")
        expect(page.locator("main")).to_contain_text("通过扫码绑定")
        expect(page.locator("main")).to_contain_text("扫**")  # nicknames masked
        shot(page, "customers")

        # The leaderboard: their settled ¥100.00 this week puts them first.
        page.goto(f"{stack.app_url}/me/leaderboard")
        mine = page.get_by_test_id("my-rank")
        expect(mine).to_contain_text("我的排名")
        expect(mine).to_contain_text("¥100.00")
        expect(mine.locator(".me-rank")).to_have_text("1")
        shot(page, "leaderboard")

    # The bot agrees with the page after the withdrawal.
    assert "已提现：¥5.00" in bot_earnings(stack, openid)
    assert len(list(tmp_path.glob("*.png"))) == 5

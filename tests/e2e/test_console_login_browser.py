"""Signing in to the console in Chromium over real HTTP (issue 16's acceptance): an anonymous
visit goes to the login page, wrong passwords are refused until the account is throttled (then
even the right password waits), another account signs in, lands where it was going, and signs
out. The pages carry no inline script, and the browser reports no CSP violation. Screenshots of
every step are kept in the test's folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from services.staff import THROTTLE
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.console import PASSWORD, make_staff
from tests.support.serving import serve

pytestmark = pytest.mark.slow


def test_wrong_passwords_are_throttled_and_the_right_account_signs_in_and_out(
    app, chromium, tmp_path
):
    with app.app_context():
        make_staff("owner", "dianzhu")
        make_staff("finance", "caiwu")
    shot = Shots(tmp_path)
    with serve(app) as base, browser_page(chromium) as page:
        page.goto(f"{base}/console/withdrawals")
        expect(page).to_have_url(f"{base}/console/login?next=/console/withdrawals")
        expect(page.locator(".cx-note")).to_contain_text("请先登录")
        shot(page, "login-page")

        for attempt in range(THROTTLE.per_account):
            sign_in(page, "dianzhu", f"wrong-password-{attempt}")
            expect(page.locator("[role=alert]")).to_contain_text("用户名或密码不正确")
        shot(page, "wrong-password")
        sign_in(page, "dianzhu", PASSWORD)  # the right one, too late
        expect(page.locator("[role=alert]")).to_contain_text("分钟后再试")
        expect(page).to_have_url(f"{base}/console/login?next=/console/withdrawals")
        shot(page, "throttled")

        sign_in(page, "caiwu", PASSWORD)  # another account is not throttled
        expect(page).to_have_url(f"{base}/console/withdrawals")
        expect(page.locator(".cx-user")).to_contain_text("caiwu")
        expect(page.locator(".cx-nav")).not_to_contain_text("分销设置")  # finance's menu
        shot(page, "signed-in-as-finance")

        page.goto(f"{base}/console/settings")
        expect(page.locator("h1")).to_contain_text("无权访问")
        expect(page.locator("main")).to_contain_text("店主")
        shot(page, "forbidden")

        page.get_by_role("button", name="退出").click()
        expect(page.locator(".cx-note")).to_contain_text("已退出登录")
        page.goto(f"{base}/console/")
        expect(page).to_have_url(f"{base}/console/login?next=/console/")
        shot(page, "signed-out")
    assert not [e for e in page.errors if "Content Security Policy" in e], page.errors

"""The console's promotion pages in Chromium over real HTTP: an operator signs in, creates a
满减 coupon and sees it listed with its terms; opens the poster templates, changes the background
colour and sees the live preview image change (htmx swaps in an <img> with a new src, whose PNG
differs), then saves it as a new version. Screenshots of every step are kept in the test's
folder."""

from __future__ import annotations

import pytest
import requests
from playwright.sync_api import expect

from models import PosterTemplate, db
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.console import make_staff
from tests.support.stack import stack_fixture

pytestmark = pytest.mark.slow
stack = stack_fixture
WIDE = {"width": 1400, "height": 1000}  # the poster preview beside its form


def test_an_operator_creates_a_coupon_and_a_poster_version_with_a_live_preview(
    stack, chromium, tmp_path
):
    with stack.app.app_context():
        make_staff("operator", "runner")
        db.session.rollback()
    shot = Shots(tmp_path)
    with browser_page(chromium, WIDE) as page:
        page.goto(f"{stack.app_url}/console/coupons/new")
        sign_in(page, "runner")
        page.fill("#title", "春季满99减10")
        page.check('input[name="kind"][value="amount_off"]')
        page.fill('input[name="off"]', "10")
        page.fill('input[name="minimum"]', "99")
        page.fill('input[name="total_limit"]', "500")
        shot(page, "coupon-form")
        page.get_by_role("button", name="保存").click()
        expect(page.locator(".cx-note")).to_contain_text("优惠券「春季满99减10」已创建")
        row = page.locator("tr", has_text="春季满99减10")
        expect(row).to_contain_text("满¥99.00减¥10.00")
        expect(row).to_contain_text("进行中")
        shot(page, "coupon-listed")

        page.goto(f"{stack.app_url}/console/posters")
        page.get_by_role("link", name="编辑新版本").click()
        preview = page.locator("#poster-preview img.fx-preview-product")
        expect(preview).to_have_count(1)
        before = preview.get_attribute("src")
        shot(page, "poster-form")
        colours = page.locator('input[name="background.colors"]')
        colours.fill("#1E6FD9, #8CC8FF")
        colours.dispatch_event("change")
        expect(preview).not_to_have_attribute("src", before)
        after = preview.get_attribute("src")
        assert "background.colors=" in after
        expect(preview).to_have_js_property("complete", True)
        assert preview.evaluate("img => img.naturalWidth") == 375
        cookies = {c["name"]: c["value"] for c in page.context.cookies()}
        old_png = requests.get(stack.app_url + before, cookies=cookies, timeout=30)
        new_png = requests.get(stack.app_url + after, cookies=cookies, timeout=30)
        assert old_png.status_code == new_png.status_code == 200
        assert new_png.content.startswith(b"\x89PNG") and new_png.content != old_png.content
        shot(page, "poster-preview-changed")

        page.fill("#note", "蓝色渐变")
        page.get_by_role("button", name="保存为新版本并启用").click()
        expect(page.locator(".cx-note")).to_contain_text("海报模板版本 1 已保存并启用")
        expect(page.locator("tr", has_text="蓝色渐变")).to_contain_text("使用中")
        shot(page, "poster-saved")

    with stack.app.app_context():
        row = db.session.query(PosterTemplate).one()
        assert row.definition["background"] == {"gradient": ["#1E6FD9", "#8CC8FF"]}
    assert len(list(tmp_path.glob("*.png"))) >= 5

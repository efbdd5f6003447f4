"""The distribution settings in Chromium over real HTTP (issue 16's acceptance): the owner
signs in, changes the level-1 rate and sees the what-if figure follow through htmx, saves a new
rule version, then tries 4 levels and a 120 % configuration and sees each refused with the
sentence that says why. Screenshots of every step are kept in the test's folder."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from models import RuleSet, db
from services.rules import active_rule
from tests.factories import make_chain, make_paid_order, make_product, make_shopper
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.console import make_staff
from tests.support.serving import serve

pytestmark = pytest.mark.slow


def test_the_owner_changes_the_rates_sees_the_what_if_saves_and_sees_4_levels_and_120_refused(
    app, chromium, tmp_path
):
    with app.app_context():
        make_staff("owner", "dianzhu")
        # One order paid under the default rule (10 % / 5 %): 2 x ¥100.00 = ¥200.00, so
        # ¥20.00 + ¥10.00 were recorded.
        bottom = make_chain(2)[-1]
        make_paid_order(make_shopper(bottom), [(make_product(10_000).id, 2)])
    shot = Shots(tmp_path)
    with serve(app) as base, browser_page(chromium) as page:
        page.goto(f"{base}/console/settings")
        sign_in(page, "dianzhu")
        expect(page.locator("h1")).to_contain_text("分销设置")
        shot(page, "settings")

        rules = page.locator("#rules")
        figure = page.locator("#whatif-figure")
        rules.locator("input[name=rate_1]").fill("20")  # htmx posts the form as it changes
        expect(figure).to_contain_text("¥50.00（现在 ¥30.00）")
        expect(page.locator("#whatif-l1")).to_have_text("¥40.00")
        shot(page, "what-if-20-percent")
        rules.locator("input[name=rate_2]").fill("8")
        expect(figure).to_contain_text("¥56.00（现在 ¥30.00）")
        shot(page, "what-if-20-8-percent")

        page.get_by_role("button", name="保存为新版本").click()
        expect(page.locator(".cx-note").first).to_contain_text("已保存为第 1 版")
        shot(page, "saved")

        rules.locator("input[name=levels]").fill("4")
        rules.locator("input[name=rate_3]").fill("2")
        refusal = "最多只能设 3 级，不能设为 4 级"
        expect(page.locator("#whatif")).to_contain_text(refusal)  # said live, before saving
        shot(page, "four-levels-live")
        page.get_by_role("button", name="保存为新版本").click()
        expect(page.locator("#rules .cx-error")).to_contain_text(refusal)
        shot(page, "four-levels-refused")

        rules.locator("input[name=levels]").fill("2")
        rules.locator("input[name=rate_1]").fill("70")
        rules.locator("input[name=rate_2]").fill("50")
        page.get_by_role("button", name="保存为新版本").click()
        expect(page.locator("#rules .cx-error")).to_contain_text("合计 120%")
        expect(page.locator("#rules .cx-error")).to_contain_text("不能超过这笔销售本身")
        shot(page, "120-percent-refused")

    assert not [e for e in page.errors if "Content Security Policy" in e]
    with app.app_context():
        rule = active_rule()
        assert (rule.version, rule.levels, rule.rates_bps) == (1, 2, (2000, 800, 0))
        assert db.session.query(RuleSet).count() == 1  # the refused ones wrote nothing

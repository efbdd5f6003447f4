"""The simulator's chat page in a real headless Chromium (Playwright, Debian's chromium): a
distributor types 收益 and sees the bot's reply."""

from __future__ import annotations

import shutil
import tempfile

import pytest

from models import db
from tests.conftest import test_config
from tests.e2e.live import start_stack
from tests.factories import set_policy
from web import create_app

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the networking flags Chromium keeps dialling Google's hosts, which this sandbox refuses.
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def stack(migrated_sqlite, redis_url, tmp_path):
    database = tmp_path / "browser.db"
    shutil.copy(migrated_sqlite, database)
    url = f"sqlite:///{database}"
    instance = tempfile.mkdtemp(prefix="fx-browser-")
    app = create_app(test_config(url, redis_url, instance))
    with app.app_context():
        set_policy(application_policy="auto")
        db.engine.dispose()
    live = start_stack(url, redis_url, instance, None)
    yield live
    live.stop()


def test_the_chat_page_sends_earnings_and_shows_the_reply(stack, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    stack.sim(
        "POST",
        "/sim/users",
        json={"openid": "o-browser", "nickname": "浏览器小王", "subscribed": True},
    )
    stack.sim("POST", "/sim/users/o-browser/text", json={"content": "申请"})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(locale="zh-CN")
        page.goto(stack.sim_url + "/")
        page.locator('[data-testid="user-item"][data-openid="o-browser"]').click()
        page.get_by_test_id("message-input").fill("收益")
        page.get_by_test_id("send-button").click()
        reply = page.locator(".message.bot").filter(has_text="可提现：¥0.00")
        expect(reply).to_be_visible(timeout=15_000)
        expect(page.locator(".message.bot").last).to_contain_text("本月收益：¥0.00")
        page.screenshot(path=str(tmp_path / "chat.png"))
        browser.close()

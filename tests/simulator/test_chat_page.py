"""The chat page in a real headless Chromium (Playwright, Debian's chromium): at a phone's width
the phone is the screen and the users are a drawer; a non-follower scans a distributor's code from
a picture and follows through it (subscribe with qrscene_, as WeChat does); on a wide screen the
sidebar stands beside the phone. Screenshots are kept in tmp_path for a look."""

from __future__ import annotations

import os
import shutil

import pytest
from wechatpy.replies import TextReply

from tests.support.serving import serve

from .conftest import fetch_token, new_user
from .test_api import qr
from .test_delivery import qr_picture

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
PHONE = {"width": 390, "height": 844}
WIDE = {"width": 1280, "height": 800}


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip("no chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def base_url(sim):
    with serve(sim) as base:
        yield base


def welcome(message):
    """The bot's welcome for any follow (plain or through a code)."""
    if message.type == "event" and message.event in ("subscribe", "subscribe_scan"):
        scene = getattr(message, "scene_id", None)
        return TextReply(
            message=message, content=f"欢迎关注！邀请码 {scene}" if scene else "欢迎关注！"
        )
    return None


def test_at_a_phones_width_the_phone_is_the_screen_and_a_non_follower_scans_to_follow(
    browser, base_url, client, webhook, tmp_path
):
    from playwright.sync_api import expect

    webhook.answer = welcome
    follower = new_user(client, nickname="阿明")
    stranger = new_user(client, follow=False, nickname="新朋友")
    url = qr(client, fetch_token(client), scene={"scene_str": "d_xiaomei"}, expire_seconds=3600)
    poster = tmp_path / "poster.png"
    poster.write_bytes(qr_picture(url["url"]))

    page = browser.new_context(locale="zh-CN", viewport=PHONE).new_page()
    page.goto(base_url + "/")
    phone, sidebar = page.get_by_test_id("phone"), page.get_by_test_id("sidebar")
    box = phone.bounding_box()
    assert box["width"] >= 360 and box["height"] >= 800
    expect(sidebar).not_to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "phone-start.png"))

    # The user picker: the header's button opens the drawer; picking a user closes it.
    page.get_by_test_id("users-button").click()
    expect(sidebar).to_be_in_viewport(ratio=1)
    page.screenshot(path=str(tmp_path / "phone-drawer.png"))
    page.locator(f'[data-testid="user-item"][data-openid="{follower}"]').click()
    expect(sidebar).not_to_be_in_viewport()
    expect(page.get_by_test_id("current-user")).to_have_text("阿明")
    expect(page.get_by_test_id("message-input")).to_be_visible()
    expect(page.get_by_test_id("menu-button").first).to_be_in_viewport()
    page.screenshot(path=str(tmp_path / "phone-follower.png"))

    # A new user made in the drawer is picked at once.
    page.get_by_test_id("users-button").click()
    page.get_by_test_id("new-user-nickname").fill("小新")
    page.get_by_test_id("new-user-button").click()
    expect(page.get_by_test_id("current-user")).to_have_text("小新")
    expect(page.get_by_test_id("follow-button")).to_be_visible()

    # A non-follower sees the follow button and scans from the empty chat.
    page.get_by_test_id("users-button").click()
    page.locator(f'[data-testid="user-item"][data-openid="{stranger}"]').click()
    expect(page.get_by_test_id("current-user")).to_have_text("新朋友")
    expect(page.get_by_test_id("follow-button")).to_be_in_viewport()
    expect(page.get_by_test_id("message-input")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "phone-non-follower.png"))
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("follow-scan").click()
    chooser.value.set_files(str(poster))

    got = webhook.wait_for(lambda m: m.source == stranger and m.type == "event")
    assert got["message"].event == "subscribe_scan" and got["message"].scene_id == "d_xiaomei"
    assert "<Event><![CDATA[subscribe]]></Event>" in got["xml"]
    assert "<EventKey><![CDATA[qrscene_d_xiaomei]]></EventKey>" in got["xml"]
    assert not any(
        r["message"].source == stranger and r["message"].event == "scan" for r in webhook.received
    )
    expect(page.locator(".message.event")).to_contain_text("你扫码关注了公众号（d_xiaomei）")
    expect(page.locator(".message.bot").last).to_contain_text("欢迎关注！邀请码 d_xiaomei")
    expect(page.get_by_test_id("message-input")).to_be_visible()
    expect(page.get_by_test_id("chat-subtitle")).to_have_text("已关注")
    assert phone.bounding_box()["width"] >= 360
    page.screenshot(path=str(tmp_path / "phone-scanned.png"))


def test_on_a_wide_screen_the_sidebar_stands_beside_the_phone(browser, base_url, client, tmp_path):
    from playwright.sync_api import expect

    follower = new_user(client, nickname="阿明")
    page = browser.new_context(locale="zh-CN", viewport=WIDE).new_page()
    page.goto(base_url + "/")
    sidebar, phone = page.get_by_test_id("sidebar"), page.get_by_test_id("phone")
    expect(sidebar).to_be_in_viewport(ratio=1)
    page.locator(f'[data-testid="user-item"][data-openid="{follower}"]').click()
    expect(page.get_by_test_id("message-input")).to_be_visible()
    side, box = sidebar.bounding_box(), phone.bounding_box()
    assert side["x"] + side["width"] <= box["x"]  # beside it, on the left
    assert 390 <= box["width"] <= 420  # the phone's frame, as before
    expect(page.get_by_test_id("backdrop")).to_be_hidden()
    page.screenshot(path=str(tmp_path / "wide.png"))

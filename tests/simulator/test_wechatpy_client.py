"""wechatpy's WeChatClient and WeChatOAuth against the simulator over HTTP, the way the bot uses
them: both hard-coded hosts (api.weixin.qq.com, mp.weixin.qq.com) redirected at the transport."""

from __future__ import annotations

import io
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from requests.adapters import HTTPAdapter
from wechatpy import WeChatClient, WeChatOAuth
from wechatpy.exceptions import WeChatClientException

from demo_identity import DEMO_NOTICE_TEMPLATE_ID
from simulator.images import decode_qr

from .conftest import APPID, SECRET, new_user, serve
from .test_api import picture


class RedirectAdapter(HTTPAdapter):
    """Sends a WeChat host's requests to the simulator, keeping path and query."""

    def __init__(self, base: str):
        super().__init__()
        self.base = base

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        request.url = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().send(request, **kwargs)


def redirected(session: requests.Session, base: str) -> None:
    for host in ("https://api.weixin.qq.com/", "https://mp.weixin.qq.com/"):
        session.mount(host, RedirectAdapter(base))


@pytest.fixture
def served(sim):
    with serve(sim) as base:
        yield sim, base


@pytest.fixture
def wechat(served) -> WeChatClient:
    _, base = served
    client = WeChatClient(APPID, SECRET, timeout=5)
    redirected(client._http, base)
    return client


def test_the_api_through_wechatpy(served, wechat):
    app, _ = served
    driver = app.test_client()
    openid = new_user(driver, nickname="小王")
    created = wechat.qrcode.create(
        {
            "action_name": "QR_STR_SCENE",
            "expire_seconds": 600,
            "action_info": {"scene": {"scene_str": "d_w1"}},
        }
    )
    # qrcode.show() uses the module-level requests.get, which no session adapter redirects:
    # fetch its URL (qrcode.get_url) through the client's session instead.
    shown = wechat._http.get(wechat.qrcode.get_url(created["ticket"]), timeout=5)
    assert decode_qr(shown.content) == created["url"]
    media_id = wechat.media.upload("image", ("poster.png", io.BytesIO(picture())))["media_id"]
    assert wechat.media.download(media_id).content == picture()
    wechat.menu.create({"button": [{"type": "click", "name": "海报", "key": "POSTER"}]})
    assert wechat.menu.get()["menu"]["button"][0]["key"] == "POSTER"
    assert wechat.user.get(openid)["nickname"] == "小王"
    driver.post(f"/sim/users/{openid}/click", json={"key": "POSTER"})
    wechat.message.send_image(openid, media_id)
    wechat.message.send_template(
        openid, DEMO_NOTICE_TEMPLATE_ID, {"keyword1": {"value": "审核通过"}}
    )
    with pytest.raises(WeChatClientException) as refused:
        wechat.message.send_template(openid, "not-this-account-s", {})
    assert refused.value.errcode == 40037
    kinds = [m["kind"] for m in driver.get(f"/sim/users/{openid}/messages").get_json()["messages"]]
    assert kinds == ["custom", "template"]
    with pytest.raises(WeChatClientException) as e:
        wechat.message.send_text("o-nobody", "hi")
    assert e.value.errcode == 40003


def test_wechatpy_refetches_after_the_token_expires(served, wechat):
    app, _ = served
    driver = app.test_client()
    wechat.menu.create({"button": [{"type": "click", "name": "帮助", "key": "HELP"}]})
    driver.post("/sim/clock", json={"advance_seconds": 7201})
    wechat.session.set(wechat.access_token_key, wechat.access_token)  # still trusted locally
    assert wechat.menu.get()["menu"]["button"][0]["key"] == "HELP"  # 42001, refetch, retry
    assert driver.get("/sim/quotas").get_json()["token"]["fetches_total"] == 2


def test_web_oauth_through_wechatpy(served):
    app, base = served
    openid = new_user(app.test_client())
    oauth = WeChatOAuth(APPID, SECRET, "http://shop.test/me", state="st")
    redirected(oauth._http, base)
    page = urlsplit(oauth.authorize_url)
    assert page.path == "/connect/oauth2/authorize"
    browser = requests.get(
        f"{base}{page.path}?{page.query}&sim_openid={openid}", allow_redirects=False, timeout=5
    )
    code = parse_qs(urlsplit(browser.headers["Location"]).query)["code"][0]
    assert oauth.fetch_access_token(code)["openid"] == openid

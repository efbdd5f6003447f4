"""The gateway to WeChat: what Fenxiao asks of WeChat, as one small interface.

Services, jobs and views call `official_account()` and `web_oauth()`; the one real adapter
behind them is wechatpy (wechat.client), pointed at WeChat in production and at the simulator
in the demo and the tests through `WECHAT_API_BASE`, over HTTP either way. Errors are
wechatpy's (`WeChatClientException`, with `WeChatRateLimited` for 45009/45011). Payouts have a
gateway of their own (wechat.payouts).
"""

from __future__ import annotations

import io
import secrets
import time
from typing import Protocol

from flask import Flask, current_app
from wechatpy.oauth import WeChatOAuth

from wechat.client import REAL_API_BASE, RedirectAdapter, wechat_client

ACCOUNT = "fenxiao.official_account"


class OfficialAccount(Protocol):
    """The official account's API, as far as Fenxiao uses it (each call names the official
    document it follows in its adapter)."""

    def upload_image(self, filename: str, data: bytes) -> dict: ...

    def create_scene_qrcode(self, scene: str, expire_seconds: int) -> dict: ...

    def user_info(self, openid: str) -> dict: ...

    def create_menu(self, menu: dict) -> dict: ...

    def menu(self) -> dict: ...

    def send_template(self, openid: str, template_id: str, data: dict, url: str | None) -> dict: ...

    def add_template(self, short_id: str) -> str: ...

    def templates(self) -> list[dict]: ...

    def send_text(self, openid: str, text: str) -> dict: ...

    def send_image(self, openid: str, media_id: str) -> dict: ...

    def jssdk_config(self, url: str) -> dict: ...


class WeChatPyAccount:
    """The real adapter: wechatpy's client with the access token shared in Redis."""

    def __init__(self, app: Flask):
        self.app = app

    @property
    def client(self):
        return wechat_client(self.app)

    def upload_image(self, filename: str, data: bytes) -> dict:
        """「新增临时素材」 media/upload, type image: {media_id, created_at}."""
        return self.client.media.upload("image", (filename, io.BytesIO(data)))

    def create_scene_qrcode(self, scene: str, expire_seconds: int) -> dict:
        """「生成带参数的二维码」 qrcode/create, a temporary QR with a string scene."""
        return self.client.qrcode.create(
            {
                "expire_seconds": expire_seconds,
                "action_name": "QR_STR_SCENE",
                "action_info": {"scene": {"scene_str": scene}},
            }
        )

    def user_info(self, openid: str) -> dict:
        """「获取用户基本信息」 user/info."""
        return self.client.user.get(openid)

    def create_menu(self, menu: dict) -> dict:
        """「自定义菜单创建接口」 menu/create."""
        return self.client.menu.create(menu)

    def menu(self) -> dict:
        """「查询接口」 get_current_selfmenu_info / menu/get."""
        return self.client.menu.get()

    def send_template(self, openid: str, template_id: str, data: dict, url: str | None) -> dict:
        """「模板消息接口」 message/template/send."""
        return self.client.message.send_template(openid, template_id, data, url=url)

    def add_template(self, short_id: str) -> str:
        """「模板消息接口」 template/api_add_template: the account's id for a library template."""
        return self.client.template.add(short_id)

    def templates(self) -> list[dict]:
        """「模板消息接口」 template/get_all_private_template: the account's templates."""
        return self.client.template.get_all_private_template().get("template_list", [])

    def send_text(self, openid: str, text: str) -> dict:
        """「客服消息」 message/custom/send, text."""
        return self.client.message.send_text(openid, text)

    def send_image(self, openid: str, media_id: str) -> dict:
        """「客服消息」 message/custom/send, image."""
        return self.client.message.send_image(openid, media_id)

    def jssdk_config(self, url: str) -> dict:
        """What a page passes to `wx.config` (「JS-SDK 使用权限签名算法」): appId, timestamp,
        nonceStr and the signature of `url`, the page's address as the browser shows it, without
        its `#` part (WeChat's client signs what it sees, so a proxy's rewritten URL fails)."""
        client = self.client
        nonce, timestamp = secrets.token_hex(8), str(int(time.time()))
        url = url.split("#")[0]
        ticket = client.jsapi_ticket()
        return {
            "appId": client.appid,
            "timestamp": timestamp,
            "nonceStr": nonce,
            "signature": client.jsapi.get_jsapi_signature(nonce, ticket, timestamp, url),
        }


def official_account(app: Flask | None = None) -> OfficialAccount:
    """The app's official account (one adapter per app)."""
    app = app or current_app
    account = app.extensions.get(ACCOUNT)
    if account is None:
        account = app.extensions[ACCOUNT] = WeChatPyAccount(app)
    return account


def web_oauth(redirect_uri: str, state: str = "") -> WeChatOAuth:
    """Web OAuth (「网页授权」, snsapi_base: the openid without a consent page). The simulator
    plays both open.weixin.qq.com (the authorize page) and api.weixin.qq.com (the code
    exchange) when `WECHAT_API_BASE` points at it."""
    cfg = current_app.config
    oauth = WeChatOAuth(
        cfg["WECHAT_APPID"], cfg["WECHAT_APPSECRET"], redirect_uri, "snsapi_base", state
    )
    base = cfg["WECHAT_API_BASE"].rstrip("/")
    if base != REAL_API_BASE:
        oauth.OAUTH_BASE_URL = f"{base}/connect/"
        oauth._http.mount("https://api.weixin.qq.com/", RedirectAdapter(base))
    return oauth

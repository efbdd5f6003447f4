"""Fixtures for the simulator's tests: the app, a real HTTP server for it, and a fake webhook.

The fake webhook is the other side of the protocol written with wechatpy (the library the bot
uses): it checks the signature, decrypts safe-mode messages with wechatpy's WeChatCrypto and
encrypts its replies with it, so every delivery test is an interop test against wechatpy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import BaseReply, TextReply
from wechatpy.utils import check_signature

from simulator import create_app
from simulator.config import DEMO_WECHAT
from tests.support.serving import serve

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
TOKEN, APPID = DEMO_WECHAT["WECHAT_TOKEN"], DEMO_WECHAT["WECHAT_APPID"]
SECRET = DEMO_WECHAT["WECHAT_APPSECRET"]


class FakeWebhook:
    """A bot stand-in. `answer(message) -> reply | str | None` decides each answer."""

    def __init__(self, aes_key: str | None = None):
        self.aes_key = aes_key
        self.received: list[dict[str, Any]] = []  # args, xml, message for every request
        self.answer: Callable[[Any], Any] = lambda message: None
        self.delay = 0.0  # seconds to sleep before answering (to provoke retries)
        self.slow_times = 0  # how many requests get the delay
        self.status = 200
        self.app = Flask("fake_webhook")
        self.app.add_url_rule("/wechat", "wechat", self.view, methods=["POST"])

    def view(self):
        args = request.args.to_dict()
        check_signature(TOKEN, args["signature"], args["timestamp"], args["nonce"])  # raises
        xml = request.get_data(as_text=True)
        if args.get("encrypt_type") == "aes":
            crypto = WeChatCrypto(TOKEN, self.aes_key, APPID)
            xml = crypto.decrypt_message(
                xml, args["msg_signature"], args["timestamp"], args["nonce"]
            )
        message = parse_message(xml)
        self.received.append({"args": args, "xml": xml, "message": message})
        if self.slow_times > 0:
            self.slow_times -= 1
            time.sleep(self.delay)
        reply = self.answer(message)
        if self.status != 200:
            return "boom", self.status
        return self.render(reply, args)

    def render(self, reply: Any, args: dict[str, str]) -> str:
        if reply is None:
            return "success"
        text = reply.render() if isinstance(reply, BaseReply) else reply
        if args.get("encrypt_type") == "aes" and isinstance(reply, BaseReply):
            return WeChatCrypto(TOKEN, self.aes_key, APPID).encrypt_message(text, args["nonce"])
        return text

    def echo(self) -> None:
        """Answer every text with 「收到：<content>」, like a minimal bot."""
        self.answer = lambda m: (
            TextReply(message=m, content=f"收到：{m.content}") if m.type == "text" else None
        )

    def wait_for(self, predicate, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.received:
                if predicate(item["message"]):
                    return item
            time.sleep(0.02)
        raise AssertionError("the webhook never received the expected message")


@pytest.fixture
def webhook() -> Iterator[FakeWebhook]:
    hook = FakeWebhook()
    with serve(hook.app) as base:
        hook.url = base + "/wechat"
        yield hook


@pytest.fixture
def make_sim(webhook):
    def make(**config: Any) -> Flask:
        settings = {
            "FENXIAO_MODE": "test",
            "SIM_WEBHOOK_URL": webhook.url,
            "SIM_DELIVERY_TIMEOUT": 2.0,
            "SIM_TEMPLATE_EVENT_DELAY": 0.0,
            **config,
        }
        if settings.get("WECHAT_AES_KEY"):
            webhook.aes_key = settings["WECHAT_AES_KEY"]
        return create_app(settings)

    return make


@pytest.fixture
def sim(make_sim) -> Flask:
    return make_sim()


@pytest.fixture
def client(sim):
    return sim.test_client()


def fetch_token(client) -> str:
    response = client.get(
        "/cgi-bin/token",
        query_string={"grant_type": "client_credential", "appid": APPID, "secret": SECRET},
    )
    return response.get_json()["access_token"]


@pytest.fixture
def token(client) -> str:
    return fetch_token(client)


def new_user(client, follow: bool = True, **fields: Any) -> str:
    """A user created through the driver API; following (silently) unless told otherwise."""
    data = client.post("/sim/users", json={"subscribed": follow, **fields}).get_json()
    return data["openid"]

"""The simulator's JS-SDK: the jsapi_ticket and the wx.config check, against wechatpy's own
signature routine (the one the gateway uses) and an independent SHA-1."""

from __future__ import annotations

import hashlib

import pytest
from wechatpy import WeChatClient

from simulator.jssdk import signature

from .conftest import APPID, fetch_token
from .test_wechatpy_client import redirected
from .test_wechatpy_client import served as served  # a fixture this module's last test uses

PAGE = "https://shop.example.com/me/withdrawals/7?from=notice"


def ticket_of(client, token: str) -> str:
    answer = client.get(
        "/cgi-bin/ticket/getticket", query_string={"access_token": token, "type": "jsapi"}
    )
    body = answer.get_json()
    assert body["errcode"] == 0 and body["expires_in"] == 7200
    return body["ticket"]


def config(client, **fields):
    return client.post(
        "/sim/jssdk/config", json=fields, headers={"Origin": "https://shop.example.com"}
    )


def signed(ticket: str, url: str = PAGE, nonce: str = "Wm3WZYTPz0wzccnW", at: str = "1765000000"):
    return {
        "appId": APPID,
        "timestamp": at,
        "nonceStr": nonce,
        "signature": signature(ticket, nonce, at, url),
        "url": url,
        "jsApiList": ["requestMerchantTransfer"],
    }


def test_the_signature_is_sha1_of_the_sorted_fields_as_wechat_documents():
    plain = "jsapi_ticket=T&noncestr=N&timestamp=1&url=http://x/y?a=1"
    assert signature("T", "N", "1", "http://x/y?a=1") == hashlib.sha1(plain.encode()).hexdigest()
    wechat = WeChatClient(APPID, "secret")
    assert wechat.jsapi.get_jsapi_signature("N", "T", "1", "http://x/y?a=1") == signature(
        "T", "N", "1", "http://x/y?a=1"
    )


def test_getticket_needs_a_valid_token_and_the_jsapi_type(client, token):
    missing = client.get("/cgi-bin/ticket/getticket", query_string={"type": "jsapi"}).get_json()
    assert missing["errcode"] == 40001
    card = client.get(
        "/cgi-bin/ticket/getticket", query_string={"access_token": token, "type": "wx_card"}
    ).get_json()
    assert card["errcode"] == 40097
    assert ticket_of(client, token) != ticket_of(client, token)  # each call issues a new one


def test_a_config_signed_with_a_live_ticket_for_the_page_is_ok(client, token):
    ticket = ticket_of(client, token)
    answer = config(client, **signed(ticket))
    assert answer.get_json() == {"errMsg": "config:ok"}
    assert answer.headers["Access-Control-Allow-Origin"] == "*"  # the page's origin is the shop
    # The page's #fragment is not part of what is signed.
    assert config(client, **(signed(ticket) | {"url": PAGE + "#top"})).get_json()["errMsg"] == (
        "config:ok"
    )
    seen = client.get("/sim/jssdk/configs").get_json()["configs"]
    assert [c["errMsg"] for c in seen] == ["config:ok", "config:ok"]


@pytest.mark.parametrize(
    "change, answer",
    [
        ({"url": "https://shop.example.com/me/withdrawals/8"}, "config:invalid signature"),
        (
            {"url": "http://shop.example.com/me/withdrawals/7?from=notice"},
            "config:invalid signature",
        ),
        ({"timestamp": "1765000001"}, "config:invalid signature"),
        ({"timestamp": "abc"}, "config:invalid signature"),
        ({"nonceStr": "other"}, "config:invalid signature"),
        ({"signature": "0" * 40}, "config:invalid signature"),
        ({"appId": "wx0000000000000000"}, "config:invalid appId"),
        ({"signature": ""}, "config:fail, missing parameters"),
        ({"url": ""}, "config:fail, missing parameters"),
    ],
)
def test_a_config_that_does_not_match_is_refused(client, token, change, answer):
    ticket = ticket_of(client, token)
    assert config(client, **(signed(ticket) | change)).get_json()["errMsg"] == answer


def test_an_expired_or_unknown_ticket_signs_nothing(sim, client, token):
    ticket = ticket_of(client, token)
    assert config(client, **signed("not-a-ticket")).get_json()["errMsg"] == (
        "config:invalid signature"
    )
    client.post("/sim/clock", json={"advance_seconds": 7201})
    assert config(client, **signed(ticket)).get_json()["errMsg"] == "config:invalid signature"


def test_a_preflight_and_a_body_that_is_not_json_get_clear_answers(client):
    preflight = client.options("/sim/jssdk/config", headers={"Origin": "https://a.example"})
    assert preflight.status_code == 204
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    bad = client.post("/sim/jssdk/config", data="x", content_type="text/plain")
    assert bad.status_code == 400 and bad.get_json()["errMsg"].startswith("config:fail")


def test_the_bridge_refuses_requestmerchanttransfer_without_a_verified_config(client):
    script = client.get("/sim/pay/v3/jsbridge.js").get_data(as_text=True)
    assert "/sim/jssdk/config" in script and "permission denied" in script


def test_wechatpy_fetches_the_ticket_over_http(served):
    _app, base = served
    wechat = WeChatClient(APPID, "unused", timeout=5)
    redirected(wechat._http, base)
    wechat.session.set(f"{APPID}_access_token", fetch_token(_app.test_client()))
    wechat.session.set(f"{APPID}_expires_at", 2**40)
    assert len(wechat.jsapi.get_jsapi_ticket()) == 86

"""The driver and inspection API, configuration, the chat page, and thread safety."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from simulator import create_app

from .conftest import new_user, serve
from .test_api import post

REPO = Path(__file__).resolve().parents[2]


def test_create_and_list_users(client):
    created = client.post(
        "/sim/users", json={"openid": "o-test-1", "nickname": "丽丽", "language": "en"}
    )
    assert created.status_code == 201
    user = created.get_json()
    assert (user["openid"], user["nickname"], user["subscribed"]) == ("o-test-1", "丽丽", False)
    assert client.post("/sim/users", json={"openid": "o-test-1"}).status_code == 409
    assert client.post("/sim/users", json={"language": "fr"}).status_code == 400
    generated = client.post("/sim/users", json={}).get_json()
    assert generated["openid"].startswith("o") and len(generated["openid"]) == 28
    listed = [u["openid"] for u in client.get("/sim/users").get_json()["users"]]
    assert listed == ["o-test-1", generated["openid"]]
    assert client.get("/sim/users/o-nobody").status_code == 404
    assert client.get("/sim/avatars/o-test-1.png").mimetype == "image/png"


def test_messages_since(client, webhook):
    webhook.echo()
    openid = new_user(client)
    first = client.post(f"/sim/users/{openid}/text", json={"content": "一"}).get_json()
    client.post(f"/sim/users/{openid}/text", json={"content": "二"})
    since = first["reply"]["id"]
    later = client.get(f"/sim/users/{openid}/messages?since={since}").get_json()["messages"]
    assert [m["content"] for m in later] == ["收到：二"]


def test_clock_reset_and_deliveries(client):
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/click", json={"key": "HELP"})
    deliveries = client.get("/sim/deliveries", query_string={"openid": openid}).get_json()
    assert deliveries["deliveries"][0]["event"] == "CLICK"
    before = client.get("/sim/clock").get_json()["now"]
    after = client.post("/sim/clock", json={"advance_seconds": 3600}).get_json()
    assert after["offset"] == 3600 and after["now"] - before >= 3600
    assert client.post("/sim/clock", json={"advance_seconds": "x"}).status_code == 400
    client.post("/sim/reset")
    assert client.get("/sim/users").get_json()["users"] == []
    assert client.get("/sim/clock").get_json()["offset"] == 0


def test_the_chat_page_and_cross_origin_driver(client):
    page = client.get("/").get_data(as_text=True)
    for marker in (
        'id="message-input"',
        'id="send-button"',
        'id="menu-bar"',
        'id="follow-button"',
        'id="user-list"',
        "scan-image",
        "/conversation?since=",
        "微信模拟器",
    ):
        assert marker in page
    assert 'src="http' not in page and 'href="http' not in page  # no CDN: the machine is offline
    assert client.get("/sim/users").headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_seeded_users_in_demo_mode(make_sim):
    client = make_sim(FENXIAO_MODE="demo").test_client()
    users = {u["openid"]: u for u in client.get("/sim/users").get_json()["users"]}
    assert users["o-demo-xiaomei"]["nickname"] == "小美" and users["o-demo-xiaomei"]["subscribed"]
    client.post("/sim/reset")
    assert "o-demo-xiaomei" in {u["openid"] for u in client.get("/sim/users").get_json()["users"]}
    explicit = make_sim(SIM_SEED_USERS="o-a:甲,o-b").test_client()
    names = [(u["openid"], u["nickname"]) for u in explicit.get("/sim/users").get_json()["users"]]
    assert names == [("o-a", "甲"), ("o-b", "o-b")]


def test_environment_then_dict(monkeypatch):
    monkeypatch.setenv("SIM_DELIVERY_TRIES", "7")
    monkeypatch.setenv("SIM_TOKEN_TTL", "60")
    monkeypatch.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000/")
    app = create_app({"FENXIAO_MODE": "test", "SIM_TOKEN_TTL": 30})
    assert app.config["SIM_DELIVERY_TRIES"] == 7 and app.config["SIM_TOKEN_TTL"] == 30
    assert app.config["SIM_WEBHOOK_URL"] == "http://127.0.0.1:8000/wechat"


def test_cashier_page_pays(client, token):
    openid = new_user(client)
    from wechatpy.pay import WeChatPay  # noqa: F401 - the XML below is what wechatpy would send

    from simulator.crypto import pay_sign

    from .test_pay import API_KEY, APPID, MCH_ID

    fields = {
        "appid": APPID,
        "mch_id": MCH_ID,
        "nonce_str": "n",
        "body": "商品",
        "out_trade_no": "C1",
        "total_fee": "100",
        "spbill_create_ip": "127.0.0.1",
        "trade_type": "JSAPI",
        "openid": openid,
        "notify_url": "http://127.0.0.1:9/pay/notify",
    }
    fields["sign"] = pay_sign(fields, API_KEY)
    xml = "<xml>" + "".join(f"<{k}>{v}</{k}>" for k, v in fields.items()) + "</xml>"
    assert "prepay_id" in client.post("/mch/pay/unifiedorder", data=xml.encode()).get_data(
        as_text=True
    )
    page = client.get("/sim/pay/cashier/C1?redirect=http://shop.test/done").get_data(as_text=True)
    assert "¥1.00" in page and "确认支付" in page
    paid = client.post("/sim/pay/cashier/C1", data={"redirect": "http://shop.test/done"})
    assert paid.status_code == 302 and paid.headers["Location"] == "http://shop.test/done"
    assert client.get("/sim/pay/orders/C1").get_json()["state"] == "SUCCESS"


def test_quotas_hold_under_concurrent_calls(sim):
    """flask run serves on threads: 20 parallel sends after one message still allow only 5."""
    client = sim.test_client()
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/text", json={"content": "hi"})
    from .conftest import fetch_token

    token = fetch_token(client)
    with serve(sim) as base:
        body = {"touser": openid, "msgtype": "text", "text": {"content": "x"}}

        def send(_):
            url = f"{base}/cgi-bin/message/custom/send?access_token={token}"
            return requests.post(url, json=body, timeout=5).json()["errcode"]

        with ThreadPoolExecutor(10) as pool:
            codes = list(pool.map(send, range(20)))
    assert sorted(codes) == [0] * 5 + [45047] * 15
    assert post(client, "/cgi-bin/message/custom/send", token, body)["errcode"] == 45047


def test_flask_cli_finds_the_app():
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "simulator", "routes"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "/cgi-bin/token" in result.stdout and "/sim/users/<openid>/scan-image" in result.stdout

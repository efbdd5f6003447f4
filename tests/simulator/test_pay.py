"""WeChat Pay v2 over real HTTP with wechatpy's WeChatPay: signatures, orders, notify, refund,
and the transfer to a wallet with its idempotency on partner_trade_no and injected faults."""

from __future__ import annotations

import time

import pytest
import requests
import xmltodict
from flask import Flask, request
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

from simulator.config import DEMO_WECHAT
from simulator.crypto import pay_sign
from wechat.payouts import TransferRequest, TransientPayoutError, WeChatPayTransfer

from .conftest import APPID, new_user, serve

MCH_ID, API_KEY = DEMO_WECHAT["WECHAT_PAY_MCH_ID"], DEMO_WECHAT["WECHAT_PAY_API_KEY"]


class NotifyReceiver:
    """The merchant's notify_url, verifying with wechatpy as the web app does."""

    def __init__(self):
        self.received: list[dict] = []
        self.fail_times = 0
        self.app = Flask("notify")
        self.app.add_url_rule("/pay/notify", "notify", self.view, methods=["POST"])

    def view(self):
        data = WeChatPay(APPID, API_KEY, MCH_ID).parse_payment_result(request.get_data())  # checks
        self.received.append(data)
        if self.fail_times > 0:
            self.fail_times -= 1
            return "<xml><return_code><![CDATA[FAIL]]></return_code></xml>"
        return "<xml><return_code><![CDATA[SUCCESS]]></return_code></xml>"


@pytest.fixture
def receiver():
    hook = NotifyReceiver()
    with serve(hook.app) as base:
        hook.url = base + "/pay/notify"
        yield hook


@pytest.fixture
def served(make_sim):
    app = make_sim(SIM_NOTIFY_RETRY_DELAYS="0.05,0.05")
    with serve(app) as base:
        yield app, base


def wechat_pay(base: str, api_key: str = API_KEY) -> WeChatPay:
    pay = WeChatPay(appid=APPID, api_key=api_key, mch_id=MCH_ID, timeout=5)
    pay.API_BASE_URL = base + "/mch/"
    return pay


def order(pay: WeChatPay, receiver, openid: str, out_trade_no: str = "FX0001", fee: int = 9900):
    return pay.order.create(
        trade_type="JSAPI",
        body="测试商品",
        total_fee=fee,
        client_ip="127.0.0.1",
        notify_url=receiver.url,
        user_id=openid,
        out_trade_no=out_trade_no,
    )


# -- orders and notify --------------------------------------------------------------------------
def test_order_pay_notify_and_query(served, receiver):
    app, base = served
    client, pay = app.test_client(), wechat_pay(base)
    openid = new_user(client)
    created = order(pay, receiver, openid)
    assert created["prepay_id"].startswith("wx") and pay.check_signature(created)
    assert pay.order.query(out_trade_no="FX0001")["trade_state"] == "NOTPAY"
    paid = client.post("/sim/pay/orders/FX0001/pay").get_json()
    assert paid["notify"]["ok"] is True
    notice = receiver.received[0]
    assert (notice["out_trade_no"], notice["total_fee"], notice["openid"]) == (
        "FX0001",
        9900,
        openid,
    )
    query = pay.order.query(out_trade_no="FX0001")
    assert query["trade_state"] == "SUCCESS" and query["transaction_id"] == notice["transaction_id"]
    assert client.post("/sim/pay/orders/FX0001/pay").status_code == 409
    client.post("/sim/pay/orders/FX0001/notify")  # WeChat may notify twice
    assert [n["transaction_id"] for n in receiver.received] == [notice["transaction_id"]] * 2


def test_the_same_order_twice_gives_the_same_prepay_id(served, receiver):
    app, base = served
    pay, openid = wechat_pay(base), new_user(app.test_client())
    assert order(pay, receiver, openid)["prepay_id"] == order(pay, receiver, openid)["prepay_id"]
    with pytest.raises(WeChatPayException) as e:
        order(pay, receiver, openid, fee=1)
    assert e.value.errcode == "INVALID_REQUEST"


def test_notify_is_retried_until_success(served, receiver):
    app, base = served
    client = app.test_client()
    order(wechat_pay(base), receiver, new_user(client))
    receiver.fail_times = 2
    assert client.post("/sim/pay/orders/FX0001/pay").get_json()["notify"]["ok"] is False
    deadline = time.monotonic() + 5
    while len(receiver.received) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)
    notifies = client.get("/sim/pay/orders/FX0001").get_json()["notifies"]
    assert [n["ok"] for n in notifies] == [False, False, True]


def test_refund_is_idempotent_on_out_refund_no(served, receiver):
    app, base = served
    client, pay = app.test_client(), wechat_pay(base)
    order(pay, receiver, new_user(client))
    client.post("/sim/pay/orders/FX0001/pay")
    first = pay.refund.apply(9900, 3000, "RF1", out_trade_no="FX0001")
    again = pay.refund.apply(9900, 3000, "RF1", out_trade_no="FX0001")
    assert first["refund_id"] == again["refund_id"]
    with pytest.raises(WeChatPayException) as e:
        pay.refund.apply(9900, 7000, "RF2", out_trade_no="FX0001")  # 3000 + 7000 > 9900
    assert e.value.errcode == "INVALID_REQUEST"
    pay.refund.apply(9900, 6900, "RF3", out_trade_no="FX0001")
    assert pay.refund.query(out_trade_no="FX0001")["refund_count"] == "2"
    assert pay.order.query(out_trade_no="FX0001")["trade_state"] == "REFUND"


# -- signatures ---------------------------------------------------------------------------------
def test_a_bad_signature_answers_fail(served, receiver):
    app, base = served
    openid = new_user(app.test_client())
    with pytest.raises(WeChatPayException) as e:
        order(wechat_pay(base, api_key="wrong-key" + "0" * 23), receiver, openid)
    assert (e.value.return_code, e.value.return_msg) == ("FAIL", "签名错误")
    fields = {"appid": APPID, "mch_id": MCH_ID, "nonce_str": "n", "out_trade_no": "X"}
    body = "".join(f"<{k}>{v}</{k}>" for k, v in fields.items())
    good = f"<xml>{body}<sign>{pay_sign(fields, API_KEY)}</sign></xml>"
    answer = xmltodict.parse(requests.post(base + "/mch/pay/orderquery", data=good).text)["xml"]
    assert (answer["return_code"], answer["err_code"]) == ("SUCCESS", "ORDERNOTEXIST")
    assert answer["sign"] == pay_sign(answer, API_KEY)  # the answer is signed too
    tampered = good.replace("<out_trade_no>X", "<out_trade_no>Y")
    answer = xmltodict.parse(requests.post(base + "/mch/pay/orderquery", data=tampered).text)["xml"]
    assert answer["return_code"] == "FAIL"


# -- transfers ----------------------------------------------------------------------------------
def transfer(pay: WeChatPay, openid: str, number: str = "WD001", amount: int = 5000):
    return pay.transfer.transfer(
        openid,
        amount,
        "佣金提现",
        client_ip="127.0.0.1",
        check_name="NO_CHECK",
        out_trade_no=number,
    )


def test_transfer_is_idempotent_on_partner_trade_no(served):
    app, base = served
    client, pay = app.test_client(), wechat_pay(base)
    openid = new_user(client)
    first, again = transfer(pay, openid), transfer(pay, openid)
    assert (
        first["payment_no"] == again["payment_no"]
        and first["payment_time"] == again["payment_time"]
    )
    assert len(client.get("/sim/pay/transfers").get_json()["transfers"]) == 1
    wallet = [
        e
        for e in client.get(f"/sim/users/{openid}/conversation").get_json()["entries"]
        if e["kind"] == "wallet"
    ]
    assert len(wallet) == 1 and "50.00" in wallet[0]["content"]
    with pytest.raises(WeChatPayException) as e:
        transfer(pay, openid, amount=6000)
    assert e.value.errcode == "FATAL_ERROR"
    assert pay.transfer.query("WD001")["payment_amount"] == "5000"


def test_transfer_refusals(served):
    app, base = served
    pay = wechat_pay(base)
    with pytest.raises(WeChatPayException) as e:
        transfer(pay, "o-nobody")
    assert e.value.errcode == "OPENID_ERROR"
    with pytest.raises(WeChatPayException) as e:
        transfer(pay, new_user(app.test_client()), amount=29)
    assert e.value.errcode == "AMOUNT_LIMIT"


def test_injected_faults(served):
    app, base = served
    client, pay = app.test_client(), wechat_pay(base)
    openid = new_user(client)
    client.post("/sim/pay/transfer-faults", json={"openid": openid, "err_code": "NOTENOUGH"})
    with pytest.raises(WeChatPayException) as e:
        transfer(pay, openid)
    assert e.value.errcode == "NOTENOUGH"
    client.post(
        "/sim/pay/transfer-faults",
        json={"partner_trade_no": "WD001", "err_code": "SYSTEMERROR", "times": 2},
    )
    for _ in range(2):
        with pytest.raises(WeChatPayException):
            transfer(pay, openid)
    assert transfer(pay, openid)["payment_no"]
    assert client.post("/sim/pay/transfer-faults", json={"err_code": "NOPE"}).status_code == 400


def test_a_lost_answer_then_the_retry_finds_the_payment(served):
    app, base = served
    client, pay = app.test_client(), wechat_pay(base)
    openid = new_user(client)
    client.post("/sim/pay/transfer-faults", json={"err_code": "SYSTEMERROR", "applied": True})
    with pytest.raises(WeChatPayException):
        transfer(pay, openid)
    made = client.get("/sim/pay/transfers").get_json()["transfers"]
    assert len(made) == 1
    assert transfer(pay, openid)["payment_no"] == made[0]["payment_no"]


def test_the_engine_payout_provider_against_the_simulator(served):
    app, base = served
    client = app.test_client()
    openid = new_user(client)
    provider = WeChatPayTransfer.from_config(
        {
            "WECHAT_APPID": APPID,
            "WECHAT_PAY_API_KEY": API_KEY,
            "WECHAT_PAY_MCH_ID": MCH_ID,
            "WECHAT_PAY_API_BASE": base + "/mch",
        }
    )
    request_ = TransferRequest("WD2026000001", openid, 9940, "分销佣金提现")
    client.post("/sim/pay/transfer-faults", json={"openid": openid, "err_code": "SYSTEMERROR"})
    with pytest.raises(TransientPayoutError):
        provider.transfer(request_)
    client.post("/sim/pay/transfer-faults", json={"openid": openid, "err_code": "NOTENOUGH"})
    failed = provider.transfer(request_)
    assert failed.ok is False and failed.reason.startswith("NOTENOUGH")
    paid, repeat = provider.transfer(request_), provider.transfer(request_)
    assert paid.ok and paid.provider_ref == repeat.provider_ref

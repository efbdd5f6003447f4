"""WeChat Pay APIv3 over real HTTP, checked with wechatpayv3 (the SDK the app uses).

The simulator's crypto (simulator/v3crypto.py) is written with `cryptography` alone, so every test
here is an interop test: wechatpayv3 signs the requests the simulator verifies, and verifies and
decrypts the answers and notifies the simulator signs and encrypts.

wechatpayv3 calls the module-level `requests.get/post`, so there is no session adapter to mount:
the tests point its private `_core._gate_way` at the served simulator instead.
"""

from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from flask import Flask, request
from wechatpayv3 import WeChatPay, WeChatPayType
from wechatpayv3.utils import load_private_key, rsa_sign

from simulator import v3crypto
from simulator.config import DEMO_WECHAT

from .conftest import APPID, new_user, serve

MCH_ID = DEMO_WECHAT["WECHAT_PAY_MCH_ID"]
APIV3_KEY = "fenxiaotestapiv3key0000000000000"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
JSAPI_PATH = "/v3/pay/transactions/jsapi"
BILLS_PATH = "/v3/fund-app/mch-transfer/transfer-bills"
COMMISSION_INFOS = [
    {"info_type": "岗位类型", "info_content": "分销员"},
    {"info_type": "报酬说明", "info_content": "2026年11月佣金"},
]


@pytest.fixture(scope="module")
def merchant_pem() -> str:
    return v3crypto.private_pem(v3crypto.generate_key())


def merchant_public(merchant_pem: str) -> str:
    return v3crypto.public_pem(v3crypto.load_private_key(merchant_pem).public_key())


class NotifyReceiver:
    """The merchant's notify_url: keeps each raw notify and what wechatpayv3 makes of it."""

    def __init__(self):
        self.received: list[dict] = []
        self.fail_times = 0
        self.pay: WeChatPay | None = None
        self.app = Flask("notify_v3")
        self.app.add_url_rule("/pay/notify", "notify", self.view, methods=["POST"])

    def view(self):
        headers, body = dict(request.headers), request.get_data(as_text=True)
        self.received.append(
            {"headers": headers, "body": body, "data": self.pay.callback(headers, body)}
        )
        if self.fail_times > 0:
            self.fail_times -= 1
            return {"code": "FAIL", "message": "busy"}, 500
        return "", 204

    def wait(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"{len(self.received)} notifies, wanted {count}"
        return self.received


@pytest.fixture
def receiver():
    hook = NotifyReceiver()
    with serve(hook.app) as base:
        hook.url = base + "/pay/notify"
        yield hook


@pytest.fixture
def served(make_sim, merchant_pem):
    app = make_sim(
        WECHAT_PAY_APIV3_KEY=APIV3_KEY,
        SIM_PAYV3_MERCHANT_PUBLIC_KEY=merchant_public(merchant_pem),
        WECHAT_PAY_CERT_SERIAL=MERCHANT_SERIAL,
        SIM_PAYV3_NOTIFY_RETRY_DELAYS="0.05,0.05",
        SIM_PAYV3_REFUND_SECONDS=0.05,
        SIM_PAYV3_CANCEL_SECONDS=0.05,
        SIM_NOTIFY_TIMEOUT=2.0,
    )
    with serve(app) as base:
        yield app, base


def sdk(served, merchant_pem, receiver=None, **extra) -> WeChatPay:
    """wechatpayv3 in public-key mode, configured from the simulator's driver API."""
    app, base = served
    keys = app.test_client().get("/sim/pay/v3/keys").get_json()
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.JSAPI,
        mchid=MCH_ID,
        private_key=merchant_pem,
        cert_serial_no=MERCHANT_SERIAL,
        appid=APPID,
        apiv3_key=APIV3_KEY,
        notify_url=receiver.url if receiver else "https://merchant.test/pay/notify",
        public_key=keys["public_key"],
        public_key_id=keys["public_key_id"],
        timeout=extra.pop("timeout", 5),
        **extra,
    )
    pay._core._gate_way = base  # no adapter to mount: wechatpayv3 uses module-level requests
    if receiver:
        receiver.pay = pay
    return pay


def order(pay: WeChatPay, openid: str, out_trade_no: str = "FX20261206001", total: int = 9900):
    code, text = pay.pay(
        description="分销测试商品",
        out_trade_no=out_trade_no,
        amount={"total": total},
        payer={"openid": openid},
    )
    return code, json.loads(text)


def signed_call(
    base, merchant_pem, method, path, body="", *, timestamp=None, serial=None, **tamper
):
    """A request signed by hand (wechatpayv3's rsa_sign), with one part optionally spoiled."""
    stamp = str(timestamp or int(time.time()))
    nonce = uuid.uuid4().hex.upper()
    message = f"{method}\n{path}\n{stamp}\n{nonce}\n{body}\n"
    signature = rsa_sign(load_private_key(merchant_pem), message)
    if tamper.get("signature"):
        signature = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    sent_body = tamper.get("sent_body", body)
    header = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{MCH_ID}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{stamp}",serial_no="{serial or MERCHANT_SERIAL}"'
    )
    headers = {
        "Authorization": header,
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    headers.update(tamper.get("headers", {}))
    return requests.request(
        method, base + path, data=sent_body.encode(), headers=headers, timeout=5
    )


# -- signatures -----------------------------------------------------------------------------------
def test_a_request_signed_by_wechatpayv3_is_accepted_and_the_answer_verifies(served, merchant_pem):
    app, _ = served
    pay = sdk(served, merchant_pem)
    openid = new_user(app.test_client())
    code, answer = order(pay, openid)  # wechatpayv3 raises if the answer's signature is bad
    assert code == 200 and answer["prepay_id"].startswith("wx")
    code, text = pay.query(out_trade_no="FX20261206001")
    assert code == 200 and json.loads(text)["trade_state"] == "NOTPAY"


def test_spoiled_requests_answer_401_sign_error(served, merchant_pem):
    app, base = served
    openid = new_user(app.test_client())
    body = json.dumps(
        {
            "appid": APPID,
            "mchid": MCH_ID,
            "description": "x",
            "out_trade_no": "FX20261206002",
            "notify_url": "https://example.com/pay/notify",
            "amount": {"total": 100},
            "payer": {"openid": openid},
        }
    )
    assert signed_call(base, merchant_pem, "POST", JSAPI_PATH, body).status_code == 200
    spoiled = {
        "body": {"sent_body": body.replace('"total": 100', '"total": 1')},
        "signature": {"signature": True},
        "serial": {"serial": "0" * 40},
        "stale": {"timestamp": int(time.time()) - 301},
        "missing": {"headers": {"Authorization": ""}},
        "scheme": {"headers": {"Authorization": "Basic abc"}},
    }
    pay = sdk(served, merchant_pem)
    for name, tamper in spoiled.items():
        answer = signed_call(base, merchant_pem, "POST", JSAPI_PATH, body, **tamper)
        assert answer.status_code == 401, name
        assert answer.json()["code"] == "SIGN_ERROR", name
        assert pay._core._verify_signature(answer.headers, answer.text), name  # signed too
    query = "/v3/pay/transactions/out-trade-no/FX20261206002?mchid=" + MCH_ID
    assert signed_call(base, merchant_pem, "GET", query).status_code == 200
    wrong_query = signed_call(base, merchant_pem, "GET", query.replace("FX", "FY"))
    assert wrong_query.status_code == 404 and wrong_query.json()["code"] == "ORDER_NOT_EXIST"


def test_wechatpayv3s_own_request_replayed_with_a_spoiled_part_is_401(
    served, merchant_pem, monkeypatch
):
    app, _ = served
    pay, openid = sdk(served, merchant_pem), new_user(app.test_client())
    sent: list[dict] = []
    real_post = requests.post

    def recording_post(url, **kwargs):
        sent.append({"url": url, **kwargs})
        return real_post(url, **kwargs)

    monkeypatch.setattr(requests, "post", recording_post)  # the module-level call the SDK makes
    assert order(pay, openid)[0] == 200
    monkeypatch.undo()
    request_ = sent[0]
    body = json.dumps(request_["json"])  # what wechatpayv3 signed and requests sent
    headers = request_["headers"]

    def replay(headers=headers, body=body):
        return requests.post(request_["url"], data=body.encode(), headers=headers, timeout=5)

    assert replay().status_code == 200  # the very same request again: the same prepay_id
    auth = headers["Authorization"]
    signature = auth.split('signature="')[1].split('"')[0]
    serial = auth.split('serial_no="')[1].split('"')[0]
    stamp = auth.split('timestamp="')[1].split('"')[0]
    spoiled = {
        "body": (headers, body.replace("9900", "9901")),
        "signature": (headers | {"Authorization": auth.replace(signature, signature[::-1])}, body),
        "serial": (headers | {"Authorization": auth.replace(serial, "0" * 40)}, body),
        "timestamp": (headers | {"Authorization": auth.replace(stamp, str(int(stamp) - 1))}, body),
    }
    for name, (spoiled_headers, spoiled_body) in spoiled.items():
        answer = replay(spoiled_headers, spoiled_body)
        assert (answer.status_code, answer.json()["code"]) == (401, "SIGN_ERROR"), name


def test_a_tampered_answer_fails_wechatpayv3s_check(served, merchant_pem):
    _, base = served
    pay = sdk(served, merchant_pem)
    answer = signed_call(base, merchant_pem, "GET", "/v3/refund/domestic/refunds/NOPE")
    assert answer.status_code == 404 and answer.headers["Wechatpay-Serial"].startswith(
        "PUB_KEY_ID_"
    )
    assert pay._core._verify_signature(answer.headers, answer.text)
    assert not pay._core._verify_signature(answer.headers, answer.text.replace("NOT", "NOX"))


def test_the_certificate_mode_downloads_and_decrypts_the_platform_certificate(
    make_sim, merchant_pem, tmp_path
):
    app = make_sim(
        WECHAT_PAY_APIV3_KEY=APIV3_KEY,
        SIM_PAYV3_MERCHANT_PUBLIC_KEY=merchant_public(merchant_pem),
        WECHAT_PAY_CERT_SERIAL=MERCHANT_SERIAL,
        SIM_PAYV3_SERIAL_MODE="certificate",
    )
    keys = app.test_client().get("/sim/pay/v3/keys").get_json()
    (tmp_path / "seed.pem").write_text(keys["certificate"])  # so __init__ needs no network
    with serve(app) as base:
        pay = WeChatPay(
            wechatpay_type=WeChatPayType.JSAPI,
            mchid=MCH_ID,
            private_key=merchant_pem,
            cert_serial_no=MERCHANT_SERIAL,
            appid=APPID,
            apiv3_key=APIV3_KEY,
            cert_dir=str(tmp_path),
        )
        pay._core._gate_way = base
        pay._core._update_certificates()  # GET /v3/certificates, decrypted with the APIv3 key
        assert [format(c.serial_number, "X") for c in pay._core._certificates] == [
            keys["certificate_serial"]
        ]
        code, text = pay.query(out_trade_no="NOSUCHORDER1")  # answers verified by the certificate
        assert code == 404 and json.loads(text)["code"] == "ORDER_NOT_EXIST"


# -- JSAPI orders ---------------------------------------------------------------------------------
def test_prepay_pay_on_the_cashier_page_notify_query_close(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    openid = new_user(client)
    prepay_id = order(pay, openid)[1]["prepay_id"]
    stamp, nonce, package = str(int(time.time())), uuid.uuid4().hex, f"prepay_id={prepay_id}"
    pay_sign = pay.sign([APPID, stamp, nonce, package])  # what the app hands getBrandWCPayRequest
    params = {"appId": APPID, "timeStamp": stamp, "nonceStr": nonce, "package": package}
    params |= {"signType": "RSA", "paySign": pay_sign, "redirect": "http://shop.test/paid"}
    page = client.get("/sim/pay/v3/cashier", query_string=params)
    assert page.status_code == 200 and "¥99.00" in page.get_data(as_text=True)
    bad = client.get("/sim/pay/v3/cashier", query_string=params | {"paySign": pay_sign[::-1]})
    assert bad.status_code == 400 and "支付验证签名失败" in bad.get_data(as_text=True)
    done = client.post("/sim/pay/v3/cashier", data=params | {"action": "pay"})
    assert done.status_code == 302
    assert parse_qs(urlparse(done.location).query)["err_msg"] == ["get_brand_wcpay_request:ok"]
    notice = receiver.wait(1)[0]["data"]
    assert notice["event_type"] == "TRANSACTION.SUCCESS"
    paid = notice["resource"]
    assert (paid["out_trade_no"], paid["amount"]["total"], paid["trade_state"]) == (
        "FX20261206001",
        9900,
        "SUCCESS",
    )
    assert paid["payer"]["openid"] == openid and paid["mchid"] == MCH_ID
    code, text = pay.query(out_trade_no="FX20261206001")
    assert json.loads(text)["transaction_id"] == paid["transaction_id"]
    code, text = pay.query(transaction_id=paid["transaction_id"])
    assert code == 200 and json.loads(text)["out_trade_no"] == "FX20261206001"
    code, text = pay.close("FX20261206001")
    assert code == 400 and json.loads(text)["code"] == "INVALID_REQUEST"
    # a second order: the person cancels on the sheet, then the shop closes it
    prepay_id = order(pay, openid, "FX20261206003", 500)[1]["prepay_id"]
    cancel = {
        "package": f"prepay_id={prepay_id}",
        "action": "cancel",
        "redirect": "http://shop.test/x",
    }
    answer = client.post("/sim/pay/v3/cashier", data=cancel)
    assert "get_brand_wcpay_request%3Acancel" in answer.location
    assert json.loads(pay.query(out_trade_no="FX20261206003")[1])["trade_state"] == "NOTPAY"
    code, text = pay.close("FX20261206003")
    assert (code, text) == (204, b"")
    assert json.loads(pay.query(out_trade_no="FX20261206003")[1])["trade_state"] == "CLOSED"
    code, text = order(pay, openid, "FX20261206003", 500)
    assert code == 400 and text["code"] == "ORDER_CLOSED"
    assert len(receiver.received) == 1


def test_order_rules(served, merchant_pem, receiver):
    app, _ = served
    pay = sdk(served, merchant_pem, receiver)
    openid = new_user(app.test_client())
    first, again = order(pay, openid), order(pay, openid)
    assert first == again and first[0] == 200  # the same out_trade_no and parameters
    code, answer = order(pay, openid, total=1)
    assert code == 400 and answer["code"] == "INVALID_REQUEST"
    code, answer = order(pay, "o-nobody", "FX20261206009")
    assert code == 400 and answer["code"] == "OPENID_MISMATCH"
    code, answer = order(pay, openid, "FX20261206010", total=0)
    assert code == 400 and answer["code"] == "PARAM_ERROR"


def test_a_tampered_notify_is_refused_by_wechatpayv3(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    order(pay, new_user(client))
    client.post("/sim/pay/v3/orders/FX20261206001/pay")
    raw = receiver.wait(1)[0]
    assert pay.callback(raw["headers"], raw["body"])["resource"]["trade_state"] == "SUCCESS"
    assert pay.callback(raw["headers"], raw["body"].replace("TRANSACTION", "TRANSACTIOM")) is None
    other_key = sdk(served, merchant_pem)
    other_key._core._apiv3_key = "x" * 32
    assert other_key.callback(raw["headers"], raw["body"]) is None  # does not decrypt
    stale_serial = dict(raw["headers"], **{"Wechatpay-Serial": "PUB_KEY_ID_0000"})
    with pytest.raises(ValueError):  # no such key or certificate: wechatpayv3 gives up
        pay.callback(stale_serial, raw["body"])


def test_a_failed_notify_is_retried_with_the_same_id(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    order(pay, new_user(client))
    receiver.fail_times = 2
    assert client.post("/sim/pay/v3/orders/FX20261206001/pay").get_json()["notify"]["ok"] is False
    received = receiver.wait(3)
    assert len({r["data"]["id"] for r in received}) == 1
    deadline = time.monotonic() + 5  # the third try is recorded once its answer is read
    while time.monotonic() < deadline:
        attempts = client.get("/sim/pay/v3/notifies").get_json()["notifies"]
        if len(attempts) == 3:
            break
        time.sleep(0.02)
    assert [(a["ok"], a["http_status"]) for a in attempts] == [
        (False, 500),
        (False, 500),
        (True, 204),
    ]


# -- refunds --------------------------------------------------------------------------------------
def test_refund_is_idempotent_and_notifies(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    order(pay, new_user(client))
    amount = {"refund": 3000, "total": 9900, "currency": "CNY"}
    code, text = pay.refund("RF1", amount, out_trade_no="FX20261206001")
    assert code == 400 and json.loads(text)["code"] == "INVALID_REQUEST"  # not paid yet
    client.post("/sim/pay/v3/orders/FX20261206001/pay")
    code, text = pay.refund("RF1", amount, out_trade_no="FX20261206001")
    first = json.loads(text)
    assert code == 200 and first["status"] == "PROCESSING" and first["amount"]["refund"] == 3000
    again = json.loads(pay.refund("RF1", amount, out_trade_no="FX20261206001")[1])
    assert again["refund_id"] == first["refund_id"]
    code, text = pay.refund("RF2", amount | {"refund": 7000}, out_trade_no="FX20261206001")
    assert code == 400 and json.loads(text)["code"] == "INVALID_REQUEST"  # 3000 + 7000 > 9900
    notice = receiver.wait(2)[1]["data"]
    assert notice["event_type"] == "REFUND.SUCCESS"
    assert (notice["resource"]["out_refund_no"], notice["resource"]["amount"]["refund"]) == (
        "RF1",
        3000,
    )
    code, text = pay.query_refund("RF1")
    assert code == 200 and json.loads(text)["status"] == "SUCCESS"
    assert json.loads(pay.query(out_trade_no="FX20261206001")[1])["trade_state"] == "REFUND"


# -- transfer bills -------------------------------------------------------------------------------
def bill(pay: WeChatPay, openid: str, number: str = "WD20261206001", amount: int = 5000, **extra):
    code, text = pay.mch_transfer_bills(
        out_bill_no=number,
        transfer_scene_id="1005",
        openid=openid,
        transfer_amount=amount,
        transfer_remark="分销佣金提现",
        user_recv_perception="劳务报酬",
        transfer_scene_report_infos=COMMISSION_INFOS,
        **extra,
    )
    return code, json.loads(text)


def test_transfer_bill_confirmed_on_the_page(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    openid = new_user(client)
    code, created = bill(pay, openid)
    assert code == 200 and created["state"] == "WAIT_USER_CONFIRM" and created["package_info"]
    assert bill(pay, openid)[1]["transfer_bill_no"] == created["transfer_bill_no"]
    code, answer = bill(pay, openid, amount=6000)
    assert code == 400 and answer["code"] == "INVALID_REQUEST"
    params = {"mchId": MCH_ID, "appId": APPID, "package": created["package_info"]}
    params |= {"openId": openid, "redirect": "http://shop.test/withdrawn"}
    page = client.get("/sim/pay/v3/transfer", query_string=params)
    assert page.status_code == 200 and "¥50.00" in page.get_data(as_text=True)
    done = client.post("/sim/pay/v3/transfer", data=params | {"action": "confirm"})
    assert "requestMerchantTransfer%3Aok" in done.location
    notice = receiver.wait(1)[0]["data"]
    assert notice["event_type"] == "MCHTRANSFER.BILL.FINISHED"
    assert (notice["resource"]["state"], notice["resource"]["transfer_amount"]) == ("SUCCESS", 5000)
    code, text = pay.mch_transfer_bills_query(out_bill_no="WD20261206001")
    assert code == 200 and json.loads(text)["state"] == "SUCCESS"
    entries = client.get(f"/sim/users/{openid}/conversation").get_json()["entries"]
    assert [e["amount"] for e in entries if e["kind"] == "wallet"] == [5000]
    code, text = pay.mch_transfer_bills_cancel("WD20261206001")
    assert code == 400 and json.loads(text)["code"] == "INVALID_REQUEST"


def test_transfer_bill_declined_and_cancelled(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    openid = new_user(client)
    declined = bill(pay, openid, "WD20261206002")[1]
    wrong_user = client.post("/sim/pay/v3/bills/WD20261206002/confirm", json={"openid": "o-other"})
    assert wrong_user.status_code == 403
    params = {"package": declined["package_info"], "action": "decline"}
    client.post("/sim/pay/v3/transfer", data=params)
    assert (
        json.loads(pay.mch_transfer_bills_query(out_bill_no="WD20261206002")[1])["state"] == "FAIL"
    )
    bill(pay, openid, "WD20261206003")
    code, text = pay.mch_transfer_bills_cancel("WD20261206003")
    assert code == 200 and json.loads(text)["state"] == "CANCELING"
    notices = receiver.wait(2)
    assert [n["data"]["resource"]["state"] for n in notices] == ["FAIL", "CANCELLED"]
    query = json.loads(pay.mch_transfer_bills_query(out_bill_no="WD20261206003")[1])
    assert (query["state"], query["fail_reason"]) == ("CANCELLED", "MCH_CANCEL")
    entries = client.get(f"/sim/users/{openid}/conversation").get_json()["entries"]
    assert not [e for e in entries if e["kind"] == "wallet"]


def test_transfer_bill_rules(served, merchant_pem, receiver):
    app, base = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    openid = new_user(client)
    # ≥ ¥2,000 needs user_name; wechatpayv3 refuses to send without it, so this one is by hand
    body = {
        "appid": APPID,
        "out_bill_no": "WD20261206010",
        "transfer_scene_id": "1005",
        "openid": openid,
        "transfer_amount": 200_000,
        "transfer_remark": "佣金",
        "transfer_scene_report_infos": COMMISSION_INFOS,
    }
    answer = signed_call(base, merchant_pem, "POST", BILLS_PATH, json.dumps(body))
    assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR"
    plain = json.dumps(body | {"user_name": "张三"})
    answer = signed_call(base, merchant_pem, "POST", BILLS_PATH, plain)
    assert answer.status_code == 400 and answer.json()["code"] == "PARAM_ERROR"  # not encrypted
    code, created = bill(pay, openid, "WD20261206011", 200_000, user_name="张三")  # RSA-OAEP
    assert code == 200 and created["state"] == "WAIT_USER_CONFIRM"
    stored = client.get("/sim/pay/v3/bills/WD20261206011").get_json()
    assert stored["user_name"] == "张三"
    code, text = pay.mch_transfer_bills(
        out_bill_no="WD20261206012",
        transfer_scene_id="1005",
        openid=openid,
        transfer_amount=100,
        transfer_remark="佣金",
        transfer_scene_report_infos=[{"info_type": "活动名称", "info_content": "x"}],
    )
    assert code == 400 and json.loads(text)["code"] == "PARAM_ERROR"  # 1005's infos are missing
    assert bill(pay, openid, "WD20261206013", amount=29)[0] == 400  # under the smallest amount


# -- faults ---------------------------------------------------------------------------------------
def test_system_error_and_timeout_on_create(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver, timeout=0.5)
    openid = new_user(client)
    client.post("/sim/pay/v3/faults", json={"kind": "SYSTEM_ERROR", "openid": "o-someone-else"})
    client.post(
        "/sim/pay/v3/faults", json={"kind": "SYSTEM_ERROR", "api": "jsapi", "openid": openid}
    )
    code, answer = order(pay, openid)
    assert code == 500 and answer["code"] == "SYSTEM_ERROR"
    assert client.get("/sim/pay/v3/orders/FX20261206001").status_code == 404
    client.post(
        "/sim/pay/v3/faults", json={"kind": "SYSTEM_ERROR", "api": "transfer", "applied": True}
    )
    assert bill(pay, openid)[0] == 500
    assert client.get("/sim/pay/v3/bills/WD20261206001").status_code == 200  # made anyway
    assert bill(pay, openid)[1]["state"] == "WAIT_USER_CONFIRM"  # the retry finds it
    client.post("/sim/pay/v3/faults", json={"kind": "TIMEOUT", "api": "jsapi", "seconds": 1.5})
    with pytest.raises(requests.Timeout):
        order(pay, openid)
    assert order(pay, openid)[0] == 200  # it was made; the same parameters answer it
    assert client.post("/sim/pay/v3/faults", json={"kind": "NOPE"}).status_code == 400
    assert [f["times"] for f in client.get("/sim/pay/v3/faults").get_json()["faults"]] == [
        1,
        0,
        0,
        0,
    ]  # the one for another openid is still waiting


def test_bill_faults(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    openid = new_user(client)
    client.post("/sim/pay/v3/faults", json={"kind": "BILL_FAIL", "fail_reason": "NAME_NOT_CORRECT"})
    bill(pay, openid, "WD20261206020")
    confirmed = client.post("/sim/pay/v3/bills/WD20261206020/confirm").get_json()
    assert (confirmed["bill"]["state"], confirmed["bill"]["fail_reason"]) == (
        "FAIL",
        "NAME_NOT_CORRECT",
    )
    client.post("/sim/pay/v3/faults", json={"kind": "NEVER_CONFIRM", "openid": openid})
    bill(pay, openid, "WD20261206021")
    assert client.post("/sim/pay/v3/bills/WD20261206021/confirm").status_code == 409
    expired = client.post("/sim/pay/v3/bills/WD20261206021/expire").get_json()["bill"]
    assert (expired["state"], expired["fail_reason"]) == ("FAIL", "OVERDUE_CLOSE")
    bill(pay, openid, "WD20261206022")
    failed = client.post(
        "/sim/pay/v3/bills/WD20261206022/fail", json={"fail_reason": "ACCOUNT_FROZEN"}
    )
    assert failed.get_json()["bill"]["fail_reason"] == "ACCOUNT_FROZEN"
    reasons = [n["data"]["resource"]["fail_reason"] for n in receiver.wait(3)]
    assert reasons == ["NAME_NOT_CORRECT", "OVERDUE_CLOSE", "ACCOUNT_FROZEN"]


def test_notify_lost_and_duplicated(served, merchant_pem, receiver):
    app, _ = served
    client, pay = app.test_client(), sdk(served, merchant_pem, receiver)
    openid = new_user(client)
    order(pay, openid, "FX20261206030")
    order(pay, openid, "FX20261206031")
    client.post("/sim/pay/v3/faults", json={"kind": "NOTIFY_LOST", "out_trade_no": "FX20261206030"})
    client.post("/sim/pay/v3/faults", json={"kind": "NOTIFY_DUPLICATE", "api": "jsapi"})
    lost = client.post("/sim/pay/v3/orders/FX20261206030/pay").get_json()["notify"]
    assert lost["status"] == "dropped" and receiver.received == []
    client.post("/sim/pay/v3/orders/FX20261206031/pay")
    twice = receiver.wait(2)
    assert twice[0]["data"]["id"] == twice[1]["data"]["id"]
    assert twice[0]["data"]["resource"]["out_trade_no"] == "FX20261206031"
    client.post("/sim/pay/v3/orders/FX20261206030/notify")  # sent by hand afterwards
    assert receiver.wait(3)[2]["data"]["resource"]["out_trade_no"] == "FX20261206030"


def test_the_driver_can_make_the_merchant_key(make_sim):
    app = make_sim()
    client = app.test_client()
    header = (
        f'WECHATPAY2-SHA256-RSA2048 mchid="{MCH_ID}",nonce_str="n",signature="c2ln",'
        f'timestamp="{int(time.time())}",serial_no="{MERCHANT_SERIAL}"'
    )
    unknown = client.get("/v3/refund/domestic/refunds/RF1", headers={"Authorization": header})
    assert (unknown.status_code, unknown.get_json()["code"]) == (401, "SIGN_ERROR")  # no key yet
    made = client.post("/sim/pay/v3/merchant", json={"generate": True}).get_json()
    assert made["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    keys = client.get("/sim/pay/v3/keys").get_json()
    assert keys["merchant"]["serial_no"] == made["serial_no"]
    assert keys["public_key_id"].startswith("PUB_KEY_ID_") and keys["apiv3_key"]
    assert client.post("/sim/pay/v3/merchant", json={"public_key": "nope"}).status_code == 400


# -- the app's own gateway and notify verifier, keyed through the demo key folder -----------------
class AppNotifyReceiver:
    """The app's notify paths, verifying with the app's NotifyVerifier."""

    def __init__(self, verifier):
        self.verifier, self.notices = verifier, []
        self.app = Flask("app_notify")
        self.app.add_url_rule("/pay/notify/<kind>", "notify", self.view, methods=["POST"])

    def view(self, kind: str):
        notice = self.verifier.verify(dict(request.headers), request.get_data())
        self.notices.append((kind, notice))
        return "", 204


def test_the_apps_gateway_and_verifier_against_the_simulator(make_sim, tmp_path):
    from infra.config import demo_pay_keys
    from wechat.pay_v3 import NotifyVerifier, WeChatPayV3

    cfg = {"WECHAT_APPID": APPID, "WECHAT_PAY_MCH_ID": MCH_ID}
    demo_pay_keys(tmp_path, cfg)  # the app writes its key pair and APIv3 key to the folder
    folder = tmp_path / "wechat_pay"
    # Demo mode: the key folder is INSTANCE_PATH/wechat_pay and the public key id is the demo's.
    app = make_sim(FENXIAO_MODE="demo", INSTANCE_PATH=str(tmp_path), SIM_PAYV3_REFUND_SECONDS=0.05)
    assert app.config["SIM_PAYV3_KEY_DIR"] == str(folder)
    assert (folder / "platform_public_key.pem").exists()  # the simulator publishes its key
    client = app.test_client()
    openid = new_user(client)
    receiver = AppNotifyReceiver(NotifyVerifier.from_config(cfg))
    with serve(receiver.app) as hooks, serve(app) as base:
        gateway = WeChatPayV3.from_config(
            cfg | {"WECHAT_PAY_NOTIFY_BASE": hooks, "WECHAT_PAY_V3_API_BASE": base}
        )
        params = gateway.jsapi_prepay("FX20261206100", "分销测试商品", 1990, openid).as_dict()
        paid = client.post("/sim/pay/v3/cashier", data=params | {"action": "pay"})
        assert paid.status_code == 200 and paid.get_json()["notify"]["ok"]
        kind, notice = receiver.notices[0]
        assert (kind, notice.event_type) == ("transaction", "TRANSACTION.SUCCESS")
        assert notice.resource["amount"]["total"] == 1990
        assert gateway.query_transaction("FX20261206100").trade_state == "SUCCESS"
        refund = gateway.refund("RF20261206100", "FX20261206100", 990, 1990, "退货")
        assert refund.status == "PROCESSING"
        bill = gateway.create_transfer("WD20261206100", openid, 5000, "2026年11月佣金")
        assert bill.state == "WAIT_USER_CONFIRM" and bill.package_info
        client.post("/sim/pay/v3/bills/WD20261206100/confirm")
        assert gateway.query_transfer("WD20261206100").state == "SUCCESS"
        big = gateway.create_transfer("WD20261206101", openid, 200_000, "佣金", user_name="张三")
        assert big.state == "WAIT_USER_CONFIRM"
        assert client.get("/sim/pay/v3/bills/WD20261206101").get_json()["user_name"] == "张三"
        deadline = time.monotonic() + 5
        while len(receiver.notices) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        kinds = sorted(k for k, _ in receiver.notices)
        assert kinds == ["refund", "transaction", "transfer"]
    restarted = make_sim(FENXIAO_MODE="demo", INSTANCE_PATH=str(tmp_path))  # the same key pair
    key = restarted.test_client().get("/sim/pay/v3/keys").get_json()["public_key"]
    assert key == (folder / "platform_public_key.pem").read_text()


def test_the_bridge_script_opens_the_pages(make_sim):
    script = make_sim().test_client().get("/sim/pay/v3/jsbridge.js")
    assert script.status_code == 200 and "javascript" in script.content_type
    text = script.get_data(as_text=True)
    assert "getBrandWCPayRequest" in text and "requestMerchantTransfer" in text


def test_v3crypto_against_wechatpayv3s_primitives():
    from wechatpayv3.utils import aes_decrypt, load_public_key, rsa_encrypt, rsa_verify

    key = v3crypto.generate_key()
    resource = v3crypto.aead_encrypt(APIV3_KEY, '{"分":1}', "transaction")
    assert aes_decrypt(resource["nonce"], resource["ciphertext"], "transaction", APIV3_KEY) == (
        '{"分":1}'
    )
    public = load_public_key(v3crypto.public_pem(key.public_key()))
    assert v3crypto.oaep_decrypt(key, rsa_encrypt("张三", public)) == "张三"
    headers = v3crypto.answer_headers(key, "PUB_KEY_ID_X", "{}")
    args = (headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"], "{}")
    assert rsa_verify(*args, headers["Wechatpay-Signature"], public)
    for bad in (
        "",
        "Basic x",
        'WECHATPAY2-SHA256-RSA2048 mchid="1"',
        "WECHATPAY2-SHA256-RSA2048 x",
    ):
        with pytest.raises(v3crypto.V3CryptoError):
            v3crypto.parse_authorization(bad)
    with pytest.raises(v3crypto.V3CryptoError):
        v3crypto.aead_decrypt("y" * 32, resource["nonce"], resource["ciphertext"], "transaction")

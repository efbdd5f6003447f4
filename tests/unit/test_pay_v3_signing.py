"""wechat.pay_v3 against a tiny local WeChat Pay: what the gateway signs verifies with an
independent implementation of 「APIv3 签名」 written here on `cryptography` alone, and what it is
told comes back typed or as the right error."""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from base64 import b64decode, b64encode
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from wechat.pay_v3 import (
    NotifyRejected,
    NotifyVerifier,
    PayOutcomeUnknown,
    PayRefused,
    RefundResult,
    TransferBill,
    WeChatPayV3,
)

APPID, MCHID, SERIAL = "wxf3n51a0d3m0a99id", "1900000109", "5157F09EFDC096DE15EBE81A47057A72"
PUBLIC_KEY_ID = "PUB_KEY_ID_0114232282062025050100000001"
AUTH = re.compile(r"^WECHATPAY2-SHA256-RSA2048 (.*)$")
PARAM = re.compile(r'(\w+)="([^"]*)"')


def pem(key, private: bool) -> str:
    if private:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.fixture(scope="module")
def merchant_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def platform_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class FakePay:
    """Records each request and answers with what the test set, signed as WeChat Pay signs."""

    def __init__(self, platform_key):
        self.platform_key = platform_key
        self.requests: list[dict] = []
        self.status, self.answer, self.forge = 200, {}, False

    def reply(self, status: int, answer: dict | None, forge: bool = False) -> None:
        self.status, self.answer, self.forge = status, answer, forge

    def signed_headers(self, body: bytes) -> dict[str, str]:
        ts, nonce = str(int(time.time())), secrets.token_hex(16)
        message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
        signature = self.platform_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        if self.forge:
            signature = bytes(reversed(signature))
        return {
            "Wechatpay-Timestamp": ts,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": b64encode(signature).decode(),
            "Wechatpay-Serial": PUBLIC_KEY_ID,
            "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
        }


@pytest.fixture
def fake(platform_key):
    fake = FakePay(platform_key)

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            fake.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": self.rfile.read(length) if length else b"",
                }
            )
            body = b"" if fake.answer is None else json.dumps(fake.answer).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            for name, value in fake.signed_headers(body).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield fake
    server.shutdown()
    server.server_close()


@pytest.fixture
def gateway(fake, merchant_key, platform_key):
    return WeChatPayV3(
        appid=APPID,
        mchid=MCHID,
        private_key_pem=pem(merchant_key, private=True),
        cert_serial=SERIAL,
        apiv3_key="a" * 32,
        notify_base="https://shop.example/",
        api_base=fake.base,
        public_key_pem=pem(platform_key, private=False),
        public_key_id=PUBLIC_KEY_ID,
        timeout=(2, 3),
    )


# -- an independent verifier of the merchant's request signature (「签名生成」) --------------------


def authorization(request: dict) -> dict[str, str]:
    match = AUTH.match(request["headers"]["Authorization"])
    assert match, request["headers"]["Authorization"]
    return dict(PARAM.findall(match.group(1)))


def verify_request(public_key, method: str, path: str, ts: str, nonce: str, body: bytes, sig: str):
    message = f"{method}\n{path}\n{ts}\n{nonce}\n".encode() + body + b"\n"
    public_key.verify(b64decode(sig), message, padding.PKCS1v15(), hashes.SHA256())


def check_signed(request: dict, merchant_key) -> dict[str, str]:
    auth = authorization(request)
    assert auth["mchid"] == MCHID and auth["serial_no"] == SERIAL
    assert re.fullmatch(r"\d{10}", auth["timestamp"])
    assert abs(int(auth["timestamp"]) - time.time()) < 60
    verify_request(
        merchant_key.public_key(),
        request["method"],
        request["path"],
        auth["timestamp"],
        auth["nonce_str"],
        request["body"],
        auth["signature"],
    )
    return auth


def test_a_jsapi_prepay_is_signed_as_wechat_pay_verifies_it(fake, gateway, merchant_key):
    fake.reply(200, {"prepay_id": "wx201410272009395522657a690389285100"})
    params = gateway.jsapi_prepay("20261206160000ABCD1234", "两件商品", 5_980, "o-demo-shopper1")
    [request] = fake.requests
    assert (request["method"], request["path"]) == ("POST", "/v3/pay/transactions/jsapi")
    auth = check_signed(request, merchant_key)
    sent = json.loads(request["body"])
    assert sent["appid"] == APPID and sent["mchid"] == MCHID
    assert sent["amount"] == {"total": 5_980, "currency": "CNY"}
    assert sent["payer"] == {"openid": "o-demo-shopper1"}
    assert sent["notify_url"] == "https://shop.example/pay/notify/transaction"
    assert sent["out_trade_no"] == "20261206160000ABCD1234"

    # Anything changed after signing fails the same independent check.
    public = merchant_key.public_key()
    ts, nonce, sig = auth["timestamp"], auth["nonce_str"], auth["signature"]
    post, path, body = "POST", request["path"], request["body"]
    for changed in (
        (post, path, ts, nonce, body.replace(b"5980", b"1"), sig),
        (post, path, str(int(ts) + 1), nonce, body, sig),
        (post, path, ts, nonce + "0", body, sig),
        ("GET", path, ts, nonce, body, sig),
        (post, path, ts, nonce, body, b64encode(b"\0" * 256).decode()),
    ):
        with pytest.raises(InvalidSignature):
            verify_request(public, *changed)

    # paySign (「JSAPI调起支付」): RSA-SHA256 over appId, timeStamp, nonceStr, package, each + \n.
    assert params.appId == APPID and params.signType == "RSA"
    assert params.package == "prepay_id=wx201410272009395522657a690389285100"
    assert re.fullmatch(r"\d{10}", params.timeStamp) and 0 < len(params.nonceStr) <= 32
    message = f"{params.appId}\n{params.timeStamp}\n{params.nonceStr}\n{params.package}\n"
    public.verify(b64decode(params.paySign), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public.verify(
            b64decode(params.paySign),
            message.replace("prepay_id=wx", "prepay_id=wy").encode(),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    assert set(params.as_dict()) == {
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    }


def test_a_query_signs_its_path_with_the_query_string_and_an_empty_body(
    fake, gateway, merchant_key
):
    fake.reply(
        200,
        {
            "out_trade_no": "FX20261206000001",
            "transaction_id": "4200000000000000000001",
            "trade_state": "SUCCESS",
            "amount": {"total": 100, "payer_total": 100, "currency": "CNY"},
            "payer": {"openid": "o1"},
            "success_time": "2026-12-06T16:00:00+08:00",
        },
    )
    txn = gateway.query_transaction("FX20261206000001")
    [request] = fake.requests
    assert request["path"] == f"/v3/pay/transactions/out-trade-no/FX20261206000001?mchid={MCHID}"
    assert request["body"] == b""
    check_signed(request, merchant_key)
    assert (txn.trade_state, txn.total_fen, txn.transaction_id) == (
        "SUCCESS",
        100,
        "4200000000000000000001",
    )


def test_close_and_refund(fake, gateway, merchant_key):
    fake.reply(204, None)
    gateway.close_transaction("FX20261206000001")
    fake.reply(
        200,
        {
            "refund_id": "50000000382019052709732678859",
            "out_refund_no": "R1",
            "status": "PROCESSING",
            "amount": {"refund": 50, "total": 100, "currency": "CNY"},
        },
    )
    result = gateway.refund("R1", "FX20261206000001", 50, 100, "退货")
    close, refund = fake.requests
    assert close["path"] == "/v3/pay/transactions/out-trade-no/FX20261206000001/close"
    assert json.loads(close["body"]) == {"mchid": MCHID}
    assert refund["path"] == "/v3/refund/domestic/refunds"
    sent = json.loads(refund["body"])
    assert sent["out_refund_no"] == "R1" and sent["out_trade_no"] == "FX20261206000001"
    assert sent["amount"] == {"refund": 50, "total": 100, "currency": "CNY"}
    assert sent["notify_url"] == "https://shop.example/pay/notify/refund"
    for request in (close, refund):
        check_signed(request, merchant_key)
    assert result == RefundResult("R1", "50000000382019052709732678859", "PROCESSING", 50, 100)


def test_a_transfer_of_2000_yuan_sends_the_name_encrypted_for_the_platform_key(
    fake, gateway, merchant_key, platform_key
):
    answer = {
        "out_bill_no": "WD20261206001",
        "transfer_bill_no": "1330000071100999991182020050700019480001",
        "create_time": "2026-12-06T16:00:00+08:00",
        "state": "WAIT_USER_CONFIRM",
        "package_info": "affffddafdfafddffda==",
    }
    fake.reply(200, answer)
    bill = gateway.create_transfer(
        "WD20261206001", "o-demo-xiaomei", 200_000, "佣金提现", user_name="张三"
    )
    fake.reply(200, {**answer, "out_bill_no": "WD20261206002"})
    gateway.create_transfer(
        "WD20261206002", "o-demo-xiaomei", 199_999, "佣金提现", user_name="张三"
    )
    big, small = fake.requests
    assert big["path"] == "/v3/fund-app/mch-transfer/transfer-bills"
    sent = json.loads(big["body"])
    assert sent["transfer_scene_id"] == "1005"
    assert sent["transfer_scene_report_infos"] == [
        {"info_type": "岗位类型", "info_content": "分销员"},
        {"info_type": "报酬说明", "info_content": "佣金提现"},
    ]
    assert sent["user_recv_perception"] == "劳务报酬"
    assert sent["transfer_remark"] == "佣金提现" and sent["transfer_amount"] == 200_000
    assert sent["notify_url"] == "https://shop.example/pay/notify/transfer"
    # The name is RSA-OAEP (SHA-1) encrypted for the platform key, and the request says which.
    plain = platform_key.decrypt(
        b64decode(sent["user_name"]),
        padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
    )
    assert plain.decode() == "张三"
    assert big["headers"]["Wechatpay-Serial"] == PUBLIC_KEY_ID
    assert "user_name" not in json.loads(small["body"])
    for request in (big, small):
        check_signed(request, merchant_key)
    assert bill == TransferBill(
        "WD20261206001",
        "1330000071100999991182020050700019480001",
        "WAIT_USER_CONFIRM",
        "affffddafdfafddffda==",
    )
    with pytest.raises(ValueError, match="real name"):
        gateway.create_transfer("WD20261206003", "o1", 200_000, "佣金提现")


def test_transfer_query_and_cancel(fake, gateway, merchant_key):
    fake.reply(
        200, {"out_bill_no": "WD20261206001", "transfer_bill_no": "133", "state": "CANCELING"}
    )
    assert gateway.cancel_transfer("WD20261206001").state == "CANCELING"
    fake.reply(
        200, {"out_bill_no": "WD20261206001", "transfer_bill_no": "133", "state": "CANCELLED"}
    )
    assert gateway.query_transfer("WD20261206001").state == "CANCELLED"
    cancel, query = fake.requests
    assert (cancel["method"], cancel["path"]) == (
        "POST",
        "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/WD20261206001/cancel",
    )
    assert (query["method"], query["path"]) == (
        "GET",
        "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/WD20261206001",
    )
    for request in (cancel, query):
        check_signed(request, merchant_key)


@pytest.mark.parametrize(
    ("status", "answer", "error", "code"),
    [
        (500, {"code": "SYSTEM_ERROR", "message": "系统错误"}, PayOutcomeUnknown, None),
        (502, None, PayOutcomeUnknown, None),
        (429, {"code": "FREQUENCY_LIMITED", "message": "频率超限"}, PayOutcomeUnknown, None),
        (400, {"code": "SYSTEM_ERROR", "message": "系统错误"}, PayOutcomeUnknown, None),
        (403, {"code": "NOT_ENOUGH", "message": "资金不足"}, PayRefused, "NOT_ENOUGH"),
        (400, {"code": "PARAM_ERROR", "message": "参数错误"}, PayRefused, "PARAM_ERROR"),
        (404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"}, PayRefused, "ORDER_NOT_EXIST"),
    ],
)
def test_errors_are_unknown_outcome_or_refused_with_wechats_code(
    fake, gateway, status, answer, error, code
):
    fake.reply(status, answer)
    with pytest.raises(error) as raised:
        gateway.create_transfer("WD20261206001", "o1", 1_250, "佣金提现")
    if code:
        assert raised.value.code == code and raised.value.status == status


def test_a_success_whose_signature_fails_is_an_unknown_outcome(fake, gateway):
    fake.reply(200, {"prepay_id": "wx1"}, forge=True)
    with pytest.raises(PayOutcomeUnknown):
        gateway.jsapi_prepay("FX20261206000001", "商品", 100, "o1")


def test_no_answer_is_an_unknown_outcome(merchant_key, platform_key):
    gateway = WeChatPayV3(
        appid=APPID,
        mchid=MCHID,
        private_key_pem=pem(merchant_key, private=True),
        cert_serial=SERIAL,
        apiv3_key="a" * 32,
        notify_base="https://shop.example",
        api_base="http://127.0.0.1:9",  # nothing listens on the discard port
        public_key_pem=pem(platform_key, private=False),
        public_key_id=PUBLIC_KEY_ID,
        timeout=(1, 1),
    )
    with pytest.raises(PayOutcomeUnknown):
        gateway.refund("R1", "FX20261206000001", 50, 100, "")


@pytest.mark.parametrize("fen", [0, -1, 1.5, True, "100"])
def test_amounts_are_positive_whole_fen(gateway, fen):
    with pytest.raises(ValueError):
        gateway.jsapi_prepay("FX20261206000001", "商品", fen, "o1")


# -- notifies in certificate mode (「平台证书」) -------------------------------------------------


def certificate(key, serial: int, days: tuple[int, int] = (-1, 365)) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Tenpay.com Root CA")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now + timedelta(days=days[0]))
        .not_valid_after(now + timedelta(days=days[1]))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def signed_notify(key, serial: str, apiv3_key: str) -> tuple[dict, bytes]:
    nonce = secrets.token_hex(6)
    resource = json.dumps(
        {"out_trade_no": "FX20261206000001", "transaction_id": "42", "trade_state": "SUCCESS"}
    )
    sealed = AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), resource.encode(), b"transaction")
    body = json.dumps(
        {
            "id": "EV-1",
            "create_time": "2026-12-06T16:00:00+08:00",
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "resource": {
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": b64encode(sealed).decode(),
                "associated_data": "transaction",
                "nonce": nonce,
                "original_type": "transaction",
            },
        }
    ).encode()
    ts, sig_nonce = str(int(time.time())), secrets.token_hex(16)
    message = f"{ts}\n{sig_nonce}\n".encode() + body + b"\n"
    signature = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    headers = {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": sig_nonce,
        "Wechatpay-Signature": b64encode(signature).decode(),
        "Wechatpay-Serial": serial,
    }
    return headers, body


def test_certificate_mode_verifies_with_a_valid_certificate_and_finds_a_new_one(
    tmp_path, platform_key, merchant_key
):
    apiv3 = "b" * 32
    (tmp_path / "old.pem").write_bytes(certificate(merchant_key, 0xABC, days=(-30, -1)))
    verifier = NotifyVerifier({}, apiv3, cert_dir=str(tmp_path))
    # An expired certificate verifies nothing, even with the right key.
    with pytest.raises(NotifyRejected):
        verifier.verify(*signed_notify(merchant_key, "ABC", apiv3))
    # A certificate that arrives later (WeChat rotated it) is found on the next notify.
    headers, body = signed_notify(platform_key, "5157F09EFDC096DE", apiv3)
    with pytest.raises(NotifyRejected):
        verifier.verify(headers, body)
    (tmp_path / "5157F09EFDC096DE.pem").write_bytes(certificate(platform_key, 0x5157F09EFDC096DE))
    notice = verifier.verify(headers, body)
    assert notice.event_type == "TRANSACTION.SUCCESS"
    assert notice.resource["transaction_id"] == "42"


@pytest.mark.parametrize(
    ("call", "args"),
    [
        ("jsapi_prepay", ("T1/../x", "商品", 100, "o1")),
        ("query_transaction", ("T12345?mchid=1",)),
        ("close_transaction", ("short",)),
        ("refund", ("R 1", "T123456", 1, 1, "")),
        ("query_transfer", ("WD-2026-01",)),
        ("cancel_transfer", ("WD1",)),
        ("create_transfer", ("WD20261206001", "o1", 100, " ")),
    ],
)
def test_numbers_and_remarks_wechat_would_refuse_never_leave(fake, gateway, call, args):
    with pytest.raises(ValueError):
        getattr(gateway, call)(*args)
    assert fake.requests == []


def test_a_pkcs1_private_key_works_as_well(fake, merchant_key, platform_key):
    pkcs1 = merchant_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert pkcs1.startswith("-----BEGIN RSA PRIVATE KEY-----")
    gateway = WeChatPayV3.from_config(
        {
            "WECHAT_APPID": APPID,
            "WECHAT_PAY_MCH_ID": MCHID,
            "WECHAT_PAY_PRIVATE_KEY": pkcs1,
            "WECHAT_PAY_CERT_SERIAL": SERIAL,
            "WECHAT_PAY_APIV3_KEY": "a" * 32,
            "WECHAT_PAY_NOTIFY_BASE": "https://shop.example",
            "WECHAT_PAY_V3_API_BASE": fake.base,
            "WECHAT_PAY_PUBLIC_KEY": pem(platform_key, private=False),
            "WECHAT_PAY_PUBLIC_KEY_ID": PUBLIC_KEY_ID,
        }
    )
    fake.reply(200, {"out_bill_no": "WD20261206001", "state": "ACCEPTED"})
    assert gateway.query_transfer("WD20261206001").state == "ACCEPTED"
    check_signed(fake.requests[0], merchant_key)

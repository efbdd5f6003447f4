"""WeChat Pay APIv3 (api.mch.weixin.qq.com/v3/...): JSON, RSA signatures both ways.

Every request must carry the merchant's `Authorization: WECHATPAY2-SHA256-RSA2048 ...` signed with
the key whose public half (and certificate serial) the simulator is configured with; a missing,
malformed, wrong or stale (> SIM_PAYV3_CLOCK_SKEW) signature, an unknown serial or another mchid
answers 401 `{"code": "SIGN_ERROR", "message": ...}`. Every answer, errors included, is signed with
the platform key (Wechatpay-* headers); Wechatpay-Serial names the platform public key id
(`PUB_KEY_ID_...`, the default) or, in the certificate mode, the platform certificate's serial,
which `GET /v3/certificates` hands out encrypted under the APIv3 key.

This module: the keys, the request check, signed answers, faults, JSAPI orders and refunds.
Transfer bills (商家转账) are in transfer_bills.py, notifies in v3notify.py, the driver API and the
pages in paydriver_v3.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from flask import Blueprint, Flask, Response, current_app, request

from . import v3crypto, v3notify
from .store import CHINA, Store, get_store, random_id
from .v3faults import take_fault

bp = Blueprint("pay_v3", __name__, url_prefix="/v3")

KEYS_EXTENSION = "fenxiao.simulator.payv3"
DIGITS = "0123456789"
TRADE_STATE_DESC = {
    "NOTPAY": "未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
}
DEMO_APIV3_KEY = "fenxiaodemoapiv3key0000000000000"  # 32 bytes; never valid on WeChat
OUT_TRADE_NO = re.compile(r"^[0-9A-Za-z_\-*]{6,32}$")


class V3Error(Exception):
    """An APIv3 error answer: HTTP status and `{"code", "message"}` (and `detail` when given)."""

    def __init__(self, status: int, code: str, message: str, detail: dict | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.detail = status, code, message, detail

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


def param_error(message: str) -> V3Error:
    return V3Error(400, "PARAM_ERROR", message)


# -- keys -----------------------------------------------------------------------------------------
@dataclass
class Merchant:
    serial_no: str
    public_key: Any
    public_pem: str


class V3Keys:
    """The platform key pair and certificate, the merchant's public key; kept over /sim/reset."""

    def __init__(self, cfg: dict[str, Any]):
        self.lock = threading.RLock()
        self.cfg = cfg
        self.key_dir = Path(cfg["SIM_PAYV3_KEY_DIR"]) if cfg.get("SIM_PAYV3_KEY_DIR") else None
        self.platform_key = self._platform_key(cfg)
        self.public_key_id = cfg.get("WECHAT_PAY_PUBLIC_KEY_ID") or (
            "PUB_KEY_ID_01"
            + str(cfg["WECHAT_PAY_MCH_ID"])[:10].ljust(10, "0")
            + random_id(22, DIGITS)
        )
        serial = secrets.randbits(156) | (1 << 156)  # 40 hex digits, below X.509's 2**159
        self.certificate_serial = format(serial, "X")
        self.certificate_pem = v3crypto.self_signed_certificate(self.platform_key, serial)
        self.mode = cfg.get("SIM_PAYV3_SERIAL_MODE") or "public_key"
        if self.mode not in ("public_key", "certificate"):
            raise ValueError("SIM_PAYV3_SERIAL_MODE must be public_key or certificate")
        self._merchant: Merchant | None = None
        merchant_key = _text_or_file(cfg.get("SIM_PAYV3_MERCHANT_PUBLIC_KEY"))
        private = _text_or_file(cfg.get("WECHAT_PAY_PRIVATE_KEY"))
        if not merchant_key and private:
            merchant_key = v3crypto.public_pem(v3crypto.load_private_key(private).public_key())
        if merchant_key:
            self.set_merchant(merchant_key, cfg.get("WECHAT_PAY_CERT_SERIAL"))

    def _platform_key(self, cfg: dict[str, Any]):
        pem = _text_or_file(cfg.get("SIM_PAYV3_PLATFORM_KEY"))
        if pem:
            return v3crypto.load_private_key(pem)
        if self.key_dir is None:
            return v3crypto.generate_key()
        # Kept in the key folder, so a restarted simulator answers with the key the app knows.
        private_path = self.key_dir / "platform_private_key.pem"
        if private_path.exists():
            key = v3crypto.load_private_key(private_path.read_text())
        else:
            key = v3crypto.generate_key()
            _write(private_path, v3crypto.private_pem(key))
        _write(self.key_dir / "platform_public_key.pem", v3crypto.public_pem(key.public_key()))
        return key

    @property
    def merchant(self) -> Merchant | None:
        """The configured merchant key, or the one the app has since written to the key folder."""
        with self.lock:
            if self._merchant is None and self.key_dir is not None:
                path = self.key_dir / "merchant_public_key.pem"
                if path.exists():
                    text = path.read_text()
                    serial = self.cfg.get("WECHAT_PAY_CERT_SERIAL") or demo_serial(text)
                    self.set_merchant(text, serial)
            return self._merchant

    def apiv3_key(self) -> str:
        if self.cfg.get("WECHAT_PAY_APIV3_KEY"):
            return self.cfg["WECHAT_PAY_APIV3_KEY"]
        if self.key_dir is not None and (self.key_dir / "apiv3_key").exists():
            return (self.key_dir / "apiv3_key").read_text().strip()
        return DEMO_APIV3_KEY

    @property
    def platform_public_pem(self) -> str:
        return v3crypto.public_pem(self.platform_key.public_key())

    def answer_serial(self) -> str:
        return self.public_key_id if self.mode == "public_key" else self.certificate_serial

    def known_platform_serial(self, serial: str) -> bool:
        return serial == self.public_key_id or serial.upper() == self.certificate_serial

    def set_merchant(self, public_key: str, serial_no: str | None) -> Merchant:
        key, cert_serial = v3crypto.load_public(public_key)
        serial = (serial_no or cert_serial or "").upper()
        if not serial:
            raise v3crypto.V3CryptoError(
                "the merchant certificate serial is needed with a bare key"
            )
        with self.lock:
            self._merchant = Merchant(serial, key, v3crypto.public_pem(key))
            return self._merchant

    def sign_headers(self, body: str) -> dict[str, str]:
        return v3crypto.answer_headers(self.platform_key, self.answer_serial(), body)


def demo_serial(public_pem: str) -> str:
    """The serial the app's demo gives its generated key (it has no certificate): the SHA-1 of the
    key's DER SubjectPublicKeyInfo, 40 upper-case hex digits. Set WECHAT_PAY_CERT_SERIAL to
    override."""
    key, _ = v3crypto.load_public(public_pem)
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(der).hexdigest().upper()


def _write(path: Path, text: str) -> None:
    """Written aside and renamed into place: the app never reads half a key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    aside.write_text(text)
    os.chmod(aside, 0o600)
    os.replace(aside, path)


def _text_or_file(value: str | None) -> str | None:
    if value and "-----" not in value and os.path.isfile(value):
        with open(value, encoding="utf-8") as f:
            return f.read()
    return value


def init_app(app: Flask) -> None:
    app.extensions[KEYS_EXTENSION] = V3Keys(app.config)


def get_keys(app: Flask | None = None) -> V3Keys:
    return (app or current_app).extensions[KEYS_EXTENSION]


# -- answers --------------------------------------------------------------------------------------
def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def signed(status: int, payload: dict[str, Any] | None) -> Response:
    """An answer signed with the platform key over exactly the bytes sent (empty for 204)."""
    body = "" if payload is None else dumps(payload)
    headers = get_keys().sign_headers(body)
    headers["Request-ID"] = random_id(32, "0123456789ABCDEF")
    response = Response(body.encode("utf-8"), status=status, headers=headers)
    if payload is None:
        del response.headers["Content-Type"]
    else:
        response.headers["Content-Type"] = "application/json; charset=utf-8"
    return response


def error_answer(e: V3Error) -> Response:
    return signed(e.status, e.payload())


# -- the request check ----------------------------------------------------------------------------
def sign_error(message: str, issue: str | None = None) -> V3Error:
    detail = {"field": "signature", "location": "authorization", "issue": issue} if issue else None
    return V3Error(401, "SIGN_ERROR", message, detail)


def request_url() -> str:
    """The URL as the client signed it: the raw path and query string."""
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if raw:
        return raw
    query = request.query_string.decode()
    return request.path + ("?" + query if query else "")


def authenticate(keys: V3Keys, cfg: dict[str, Any], body: str) -> dict[str, str]:
    header = request.headers.get("Authorization", "")
    if not header:
        raise sign_error("Http头缺少Authorization或格式错误", "missing authorization")
    try:
        params = v3crypto.parse_authorization(header)
    except v3crypto.V3CryptoError as e:
        raise sign_error(f"Http头Authorization值格式错误：{e}", "malformed authorization") from e
    merchant = keys.merchant
    if merchant is None:
        raise sign_error(
            "商户未配置API证书（模拟器：配置 SIM_PAYV3_MERCHANT_PUBLIC_KEY）", "no key"
        )
    if params["mchid"] != cfg["WECHAT_PAY_MCH_ID"]:
        raise sign_error("Authorization中的mchid与商户号不匹配", "mchid mismatch")
    if params["serial_no"].upper() != merchant.serial_no:
        raise sign_error("商户证书序列号有误。请使用签名私钥匹配的证书序列号", "unknown serial_no")
    stamp = params["timestamp"]
    if not stamp.isdigit() or abs(time.time() - int(stamp)) > cfg["SIM_PAYV3_CLOCK_SKEW"]:
        raise sign_error("Http头Authorization中的timestamp已过期或格式错误", "timestamp expired")
    message = v3crypto.request_message(
        request.method, request_url(), stamp, params["nonce_str"], body
    )
    if not v3crypto.verify(merchant.public_key, message, params["signature"]):
        raise sign_error("错误的签名，验签失败", "sign not match")
    return params


def v3_endpoint(api: str | None = None):
    """Check the signature, parse the JSON body, apply faults, run the handler, sign the answer.

    The handler gets (store, body, **path args) and returns (status, payload | None). `api` names
    a create call ("jsapi", "refund", "transfer") that the SYSTEM_ERROR and TIMEOUT faults hit.
    """

    def decorate(handler):
        @wraps(handler)
        def view(**kwargs):
            store, keys = get_store(), get_keys()
            raw = request.get_data()
            try:
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as e:
                    raise param_error("请求体不是UTF-8编码") from e
                authenticate(keys, store.config, text)
                body = parse_body(text)
                payer = body.get("payer") if isinstance(body.get("payer"), dict) else {}
                fields = body | {"openid": body.get("openid") or payer.get("openid")}
                fault = take_fault(store, ("SYSTEM_ERROR", "TIMEOUT"), api, fields) if api else None
                if fault and fault["kind"] == "SYSTEM_ERROR" and not fault["applied"]:
                    raise V3Error(500, "SYSTEM_ERROR", "系统错误，请使用相同参数稍后重新调用")
                with store.lock:
                    status, payload = handler(store, body, **kwargs)
                if fault and fault["kind"] == "TIMEOUT":
                    time.sleep(fault["seconds"])  # done, but the caller stopped waiting
                if fault and fault["kind"] == "SYSTEM_ERROR":  # done, yet the answer says not
                    raise V3Error(500, "SYSTEM_ERROR", "系统错误，请使用相同参数稍后重新调用")
            except V3Error as e:
                return error_answer(e)
            return signed(status, payload)

        return view

    return decorate


def parse_body(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        body = json.loads(text)
    except ValueError as e:
        raise param_error("请求体不是合法的JSON") from e
    if not isinstance(body, dict):
        raise param_error("请求体必须是JSON对象")
    return body


def require(body: dict[str, Any], *names: str, where: str = "") -> None:
    for name in names:
        if body.get(name) in (None, "", [], {}):
            raise param_error(
                f"输入源“/body{where}/{name}”映射到字段“{name}”必填性规则校验失败，此字段为必填项"
            )


def positive_fen(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise param_error(f"{name} 必须是大于0的整数（单位：分）")
    return value


def rfc3339(store: Store, at: float | None = None) -> str:
    moment = datetime.fromtimestamp(store.now() if at is None else at, CHINA)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+08:00")


# -- faults ---------------------------------------------------------------------------------------
FAULT_KINDS = (
    "SYSTEM_ERROR",  # the next create answers 500 SYSTEM_ERROR ("applied": made anyway)
    "TIMEOUT",  # the next create is made, then answered after "seconds" (the client gave up)
    "BILL_FAIL",  # the next transfer bill fails when the user confirms (fail_reason)
    "NEVER_CONFIRM",  # the next transfer bill's user never confirms (the page refuses)
    "NOTIFY_LOST",  # the next notify is never sent
    "NOTIFY_DUPLICATE",  # the next notify is sent twice
)


# -- platform certificates ------------------------------------------------------------------------
@bp.get("/certificates")
@v3_endpoint()
def certificates(store: Store, body: dict[str, Any]):
    keys = get_keys()
    encrypted = v3crypto.aead_encrypt(keys.apiv3_key(), keys.certificate_pem, "certificate")
    cert = x509.load_pem_x509_certificate(keys.certificate_pem.encode())
    item = {
        "serial_no": keys.certificate_serial,
        "effective_time": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "expire_time": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "encrypt_certificate": encrypted,
    }
    return 200, {"data": [item]}


# -- JSAPI orders ---------------------------------------------------------------------------------
ORDER_KEYS = ("appid", "description", "notify_url", "attach")


@bp.post("/pay/transactions/jsapi")
@v3_endpoint(api="jsapi")
def jsapi(store: Store, body: dict[str, Any]):
    cfg = store.config
    require(body, "appid", "mchid", "description", "out_trade_no", "notify_url", "amount", "payer")
    amount, payer = body["amount"], body["payer"]
    if not isinstance(amount, dict) or not isinstance(payer, dict):
        raise param_error("amount 和 payer 必须是JSON对象")
    require(amount, "total", where="/amount")
    require(payer, "openid", where="/payer")
    total = positive_fen(amount["total"], "amount.total")
    if amount.get("currency", "CNY") != "CNY":
        raise param_error("amount.currency 仅支持CNY")
    if (body["appid"], body["mchid"]) != (cfg["WECHAT_APPID"], cfg["WECHAT_PAY_MCH_ID"]):
        raise V3Error(400, "APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配，请检查后再试")
    if not OUT_TRADE_NO.match(str(body["out_trade_no"])):
        raise param_error("out_trade_no 须为6-32位数字、大小写字母或_-*")
    if len(str(body["description"])) > 127:
        raise param_error("description 长度不能超过127个字符")
    check_notify_url(body["notify_url"])
    if store.user(payer["openid"]) is None:
        raise V3Error(400, "OPENID_MISMATCH", "openid和appid不匹配")
    wanted = {k: body.get(k) for k in ORDER_KEYS} | {"total": total, "openid": payer["openid"]}
    order = store.v3_orders.get(body["out_trade_no"])
    if order is None:
        order = new_order(store, body["out_trade_no"], wanted)
    elif order["state"] == "CLOSED":
        raise V3Error(400, "ORDER_CLOSED", "订单已关闭")
    elif order["state"] != "NOTPAY":
        raise V3Error(403, "OUT_TRADE_NO_USED", "商户订单号重复，该订单已支付")
    elif order["params"] != wanted:
        raise V3Error(400, "INVALID_REQUEST", "商户订单号重复，且参数不一致")
    return 200, {"prepay_id": order["prepay_id"]}


def check_notify_url(url: Any) -> None:
    if not isinstance(url, str) or not re.match(r"^https?://[^?#\s]+$", url):
        raise param_error("notify_url 须为http(s)地址，且不能携带参数")


def new_order(store: Store, out_trade_no: str, params: dict[str, Any]) -> dict[str, Any]:
    order = {
        "out_trade_no": out_trade_no,
        "params": params,
        "prepay_id": "wx"
        + store.china_now().strftime("%Y%m%d%H%M%S")
        + random_id(20, "0123456789abcdef"),
        "created_at": int(store.now()),
        "state": "NOTPAY",
        "transaction_id": None,
        "success_time": None,
        "refunded": 0,
    }
    store.v3_orders[out_trade_no] = order
    return order


def check_mchid(store: Store) -> None:
    if request.args.get("mchid") != store.config["WECHAT_PAY_MCH_ID"]:
        raise param_error("mchid 缺失或与商户号不匹配")


@bp.get("/pay/transactions/out-trade-no/<out_trade_no>")
@v3_endpoint()
def query_by_out_trade_no(store: Store, body: dict[str, Any], out_trade_no: str):
    check_mchid(store)
    order = store.v3_orders.get(out_trade_no)
    if order is None:
        raise V3Error(404, "ORDER_NOT_EXIST", "订单不存在")
    return 200, transaction(store, order)


@bp.get("/pay/transactions/id/<transaction_id>")
@v3_endpoint()
def query_by_transaction_id(store: Store, body: dict[str, Any], transaction_id: str):
    check_mchid(store)
    found = [o for o in store.v3_orders.values() if o["transaction_id"] == transaction_id]
    if not found:
        raise V3Error(404, "ORDER_NOT_EXIST", "订单不存在")
    return 200, transaction(store, found[0])


def transaction(store: Store, order: dict[str, Any]) -> dict[str, Any]:
    """The order as the query answers it and the TRANSACTION.SUCCESS notify carries it."""
    params, cfg = order["params"], store.config
    result: dict[str, Any] = {
        "appid": params["appid"],
        "mchid": cfg["WECHAT_PAY_MCH_ID"],
        "out_trade_no": order["out_trade_no"],
        "trade_type": "JSAPI",
        "trade_state": order["state"],
        "trade_state_desc": TRADE_STATE_DESC[order["state"]],
        "payer": {"openid": params["openid"]},
        "amount": {"total": params["total"], "currency": "CNY"},
    }
    if order["transaction_id"]:
        result.update(
            transaction_id=order["transaction_id"],
            bank_type="OTHERS",
            success_time=order["success_time"],
        )
        result["amount"].update(payer_total=params["total"], payer_currency="CNY")
        if params.get("attach"):
            result["attach"] = params["attach"]
    return result


@bp.post("/pay/transactions/out-trade-no/<out_trade_no>/close")
@v3_endpoint()
def close(store: Store, body: dict[str, Any], out_trade_no: str):
    require(body, "mchid")
    if body["mchid"] != store.config["WECHAT_PAY_MCH_ID"]:
        raise param_error("mchid 与商户号不匹配")
    order = store.v3_orders.get(out_trade_no)
    if order is None:
        raise V3Error(404, "ORDER_NOT_EXIST", "订单不存在")
    if order["state"] in ("SUCCESS", "REFUND"):
        # v3's close documents no ORDERPAID (v2's code): INVALID_REQUEST is its generic refusal.
        raise V3Error(400, "INVALID_REQUEST", "订单已支付，不能关闭")
    order["state"] = "CLOSED"
    return 204, None


def mark_paid(store: Store, order: dict[str, Any]) -> None:
    with store.lock:
        order["state"] = "SUCCESS"
        order["transaction_id"] = (
            "42000" + store.china_now().strftime("%Y%m%d") + random_id(15, DIGITS)
        )
        order["success_time"] = rfc3339(store)


def payment_notify(store: Store, order: dict[str, Any], retry: bool = True) -> dict[str, Any]:
    with store.lock:
        resource = transaction(store, order)
        url = order["params"]["notify_url"]
    return v3notify.send(
        store,
        get_keys(),
        url=url,
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        resource=resource,
        subject={"out_trade_no": order["out_trade_no"], "openid": order["params"]["openid"]},
        alive=lambda: store.v3_orders.get(order["out_trade_no"]) is order,
        retry=retry,
    )


# -- refunds --------------------------------------------------------------------------------------
@bp.post("/refund/domestic/refunds")
@v3_endpoint(api="refund")
def refund(store: Store, body: dict[str, Any]):
    require(body, "out_refund_no", "amount")
    amount = body["amount"]
    if not isinstance(amount, dict):
        raise param_error("amount 必须是JSON对象")
    require(amount, "refund", "total", "currency", where="/amount")
    refund_fen, total = (
        positive_fen(amount["refund"], "amount.refund"),
        positive_fen(amount["total"], "amount.total"),
    )
    if amount["currency"] != "CNY":
        raise param_error("amount.currency 仅支持CNY")
    if body.get("notify_url"):
        check_notify_url(body["notify_url"])
    order = find_paid_order(store, body)
    existing = store.v3_refunds.get(body["out_refund_no"])
    if existing is not None:  # idempotent on out_refund_no: the same refund, never a second one
        if (existing["out_trade_no"], existing["refund"]) != (order["out_trade_no"], refund_fen):
            raise V3Error(400, "INVALID_REQUEST", "out_refund_no 已用于另一笔退款，且参数不一致")
        return 200, refund_view(store, existing)
    if order["state"] not in ("SUCCESS", "REFUND"):
        raise V3Error(400, "INVALID_REQUEST", "订单状态不正确，未支付的订单不能退款")
    if total != order["params"]["total"]:
        raise V3Error(400, "INVALID_REQUEST", "订单金额与原订单金额不一致")
    if refund_fen > order["params"]["total"] - order["refunded"]:
        raise V3Error(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")
    record = {
        "out_refund_no": body["out_refund_no"],
        "refund_id": "50000" + random_id(24, DIGITS),
        "out_trade_no": order["out_trade_no"],
        "refund": refund_fen,
        "reason": body.get("reason"),
        "notify_url": body.get("notify_url"),
        "status": "PROCESSING",
        "create_time": rfc3339(store),
        "success_time": None,
    }
    store.v3_refunds[record["out_refund_no"]] = record
    order["refunded"] += refund_fen
    order["state"] = "REFUND"
    threading.Thread(
        target=settle_refund, args=(current_app._get_current_object(), record), daemon=True
    ).start()
    return 200, refund_view(store, record)


def find_paid_order(store: Store, body: dict[str, Any]) -> dict[str, Any]:
    if body.get("transaction_id"):
        found = [
            o for o in store.v3_orders.values() if o["transaction_id"] == body["transaction_id"]
        ]
        order = found[0] if found else None
    elif body.get("out_trade_no"):
        order = store.v3_orders.get(body["out_trade_no"])
    else:
        raise param_error("transaction_id 和 out_trade_no 必须传一个")
    if order is None:
        raise V3Error(404, "RESOURCE_NOT_EXISTS", "订单不存在")
    return order


def refund_view(store: Store, record: dict[str, Any]) -> dict[str, Any]:
    order = store.v3_orders[record["out_trade_no"]]
    total = order["params"]["total"]
    result: dict[str, Any] = {
        "refund_id": record["refund_id"],
        "out_refund_no": record["out_refund_no"],
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": record["create_time"],
        "status": record["status"],
        "funds_account": "AVAILABLE",
        "amount": {
            "total": total,
            "refund": record["refund"],
            "payer_total": total,
            "payer_refund": record["refund"],
            "settlement_total": total,
            "settlement_refund": record["refund"],
            "discount_refund": 0,
            "currency": "CNY",
            "refund_fee": 0,
        },
        "promotion_detail": [],
    }
    if record["success_time"]:
        result["success_time"] = record["success_time"]
    return result


def settle_refund(app: Flask, record: dict[str, Any]) -> None:
    """After SIM_PAYV3_REFUND_SECONDS the refund succeeds and REFUND.SUCCESS goes out."""
    store = get_store(app)
    time.sleep(store.config["SIM_PAYV3_REFUND_SECONDS"])
    with store.lock:
        if store.v3_refunds.get(record["out_refund_no"]) is not record:
            return  # the store was reset meanwhile
        record["status"], record["success_time"] = "SUCCESS", rfc3339(store)
    with app.app_context():
        refund_notify(store, record)


def refund_notify(
    store: Store, record: dict[str, Any], retry: bool = True
) -> dict[str, Any] | None:
    with store.lock:
        if not record["notify_url"] or record["status"] != "SUCCESS":
            return None
        order = store.v3_orders[record["out_trade_no"]]
        resource = {
            "mchid": store.config["WECHAT_PAY_MCH_ID"],
            "out_trade_no": order["out_trade_no"],
            "transaction_id": order["transaction_id"],
            "out_refund_no": record["out_refund_no"],
            "refund_id": record["refund_id"],
            "refund_status": "SUCCESS",
            "success_time": record["success_time"],
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": order["params"]["total"],
                "refund": record["refund"],
                "payer_total": order["params"]["total"],
                "payer_refund": record["refund"],
            },
        }
    return v3notify.send(
        store,
        get_keys(),
        url=record["notify_url"],
        event_type="REFUND.SUCCESS",
        summary="退款成功",
        original_type="refund",
        resource=resource,
        subject={"out_trade_no": order["out_trade_no"], "out_refund_no": record["out_refund_no"]},
        alive=lambda: store.v3_refunds.get(record["out_refund_no"]) is record,
        retry=retry,
    )


@bp.get("/refund/domestic/refunds/<out_refund_no>")
@v3_endpoint()
def refund_query(store: Store, body: dict[str, Any], out_refund_no: str):
    record = store.v3_refunds.get(out_refund_no)
    if record is None:
        raise V3Error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
    return 200, refund_view(store, record)

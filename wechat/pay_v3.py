"""WeChat Pay APIv3: JSAPI payments, refunds and 商家转账, and reading WeChat's notifies.

`PayGateway` is what Fenxiao asks of WeChat Pay; `WeChatPayV3` is its one adapter, on
wechatpayv3's `WeChatPay` (JSAPI, direct merchant), pointed at api.mch.weixin.qq.com in production
and at the simulator in the demo and the tests through `WECHAT_PAY_V3_API_BASE`. Each operation
names the official document it follows (pay.weixin.qq.com/doc/v3/merchant/...).

Errors say what the caller may do next:
- `PayOutcomeUnknown`: a timeout, a 5xx, SYSTEM_ERROR, a rate limit, or a 2xx whose signature
  did not verify. The request may have taken effect: query again with the same number, and
  never send the same money again under a new number.
- `PayRefused`: WeChat refused the request (a 4xx business error), with WeChat's `code`.

Notifies (「回调通知」) are read by `NotifyVerifier`: Wechatpay-Signature checked with the platform
public key (or a platform certificate) over `timestamp\\nnonce\\nbody\\n`, a timestamp more than
five minutes away refused, then the AES-256-GCM resource decrypted with the APIv3 key.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from base64 import b64decode
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app
from wechatpayv3 import WeChatPay, WeChatPayType

from infra.config import read_pem
from models.transfer_bills import TRANSFER_NAME_FROM_FEN

GATEWAY = "fenxiao.pay_v3"
VERIFIER = "fenxiao.pay_v3_notify_verifier"

# A notify whose Wechatpay-Timestamp is further than this from now is refused (「验签」: the
# timestamp guards against replays of an old, validly signed notify).
MAX_NOTIFY_SKEW = 300
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
# Codes after which the request may still have taken effect, or may be retried as it was.
UNKNOWN_OUTCOME_CODES = {"SYSTEM_ERROR", "SYSTEMERROR", "FREQUENCY_LIMITED", "FREQUENCY_LIMIT"}
# 商家转账: 收款用户姓名 is required (and sent encrypted) from TRANSFER_NAME_FROM_FEN.
TRANSFER_SCENE_COMMISSION = "1005"  # 佣金报酬
NOTIFY_PATHS = {
    "transaction": "/pay/notify/transaction",
    "refund": "/pay/notify/refund",
    "transfer": "/pay/notify/transfer",
}


class PayError(Exception):
    """A WeChat Pay APIv3 call did not succeed."""


class PayOutcomeUnknown(PayError):
    """The call may or may not have taken effect: query again; never pay again."""


class PayRefused(PayError):
    """WeChat Pay refused the request (a business error) with its `code` and `message`."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(f"{code}: {message} (HTTP {status})")
        self.code = code
        self.message = message
        self.status = status


class NotifyRejected(Exception):
    """A notify that is not WeChat Pay's, or not fresh: answered 401, and has no effect."""


class NotifyMalformed(Exception):
    """A notify signed by WeChat Pay that cannot be read: answered 400."""


@dataclass(frozen=True)
class JsapiParams:
    """What a page passes to WeixinJSBridge `getBrandWCPayRequest` (「JSAPI调起支付」)."""

    appId: str
    timeStamp: str
    nonceStr: str
    package: str
    signType: str
    paySign: str

    def as_dict(self) -> dict[str, str]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Transaction:
    out_trade_no: str
    transaction_id: str | None
    trade_state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, USERPAYING, PAYERROR, REVOKED
    total_fen: int | None
    payer_openid: str | None
    success_time: str | None


@dataclass(frozen=True)
class RefundResult:
    out_refund_no: str
    refund_id: str
    status: str  # SUCCESS, CLOSED, PROCESSING, ABNORMAL
    refund_fen: int
    total_fen: int


@dataclass(frozen=True)
class TransferBill:
    out_bill_no: str
    transfer_bill_no: str | None
    # ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL, CANCELING, CANCELLED
    state: str
    package_info: str | None = None  # for the user's confirmation page (WAIT_USER_CONFIRM)
    fail_reason: str | None = None


@dataclass(frozen=True)
class PayNotice:
    """A verified, decrypted notify: its envelope and the resource WeChat encrypted."""

    notify_id: str
    event_type: str
    create_time: str
    resource: dict[str, Any]


class PayGateway(Protocol):
    def jsapi_prepay(
        self, out_trade_no: str, description: str, total_fen: int, openid: str
    ) -> JsapiParams: ...

    def jsapi_params(self, prepay_id: str) -> JsapiParams: ...

    def query_transaction(self, out_trade_no: str) -> Transaction: ...

    def close_transaction(self, out_trade_no: str) -> None: ...

    def refund(
        self, out_refund_no: str, out_trade_no: str, refund_fen: int, total_fen: int, reason: str
    ) -> RefundResult: ...

    def query_refund(self, out_refund_no: str) -> RefundResult: ...

    def create_transfer(
        self,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        user_name: str | None = None,
    ) -> TransferBill: ...

    def query_transfer(self, out_bill_no: str) -> TransferBill: ...

    def cancel_transfer(self, out_bill_no: str) -> TransferBill: ...


class WeChatPayV3:
    """The adapter: wechatpayv3's client, in public-key mode or with platform certificates."""

    def __init__(
        self,
        *,
        appid: str,
        mchid: str,
        private_key_pem: str,
        cert_serial: str,
        apiv3_key: str,
        notify_base: str,
        api_base: str,
        public_key_pem: str | None = None,
        public_key_id: str | None = None,
        cert_dir: str | None = None,
        timeout: tuple[float, float] = (5, 15),
    ):
        self.appid = appid
        self.notify_base = notify_base.rstrip("/")
        self.pay = WeChatPay(
            wechatpay_type=WeChatPayType.JSAPI,
            mchid=mchid,
            private_key=private_key_pem,
            cert_serial_no=cert_serial,
            appid=appid,
            apiv3_key=apiv3_key,
            notify_url=self.notify_url("transaction"),
            cert_dir=cert_dir,
            timeout=timeout,
            public_key=public_key_pem,
            public_key_id=public_key_id,
        )
        # wechatpayv3 has no setting for its host: it joins this private attribute with each
        # path and calls module-level requests. The simulator serves APIv3 at its root.
        self.pay._core._gate_way = api_base.rstrip("/")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WeChatPayV3:
        public_key = config.get("WECHAT_PAY_PUBLIC_KEY")
        use_public_key = bool(public_key and config.get("WECHAT_PAY_PUBLIC_KEY_ID"))
        return cls(
            appid=config["WECHAT_APPID"],
            mchid=config["WECHAT_PAY_MCH_ID"],
            private_key_pem=pkcs8(read_pem(config["WECHAT_PAY_PRIVATE_KEY"])),
            cert_serial=config["WECHAT_PAY_CERT_SERIAL"],
            apiv3_key=config["WECHAT_PAY_APIV3_KEY"],
            notify_base=config["WECHAT_PAY_NOTIFY_BASE"],
            api_base=config["WECHAT_PAY_V3_API_BASE"],
            public_key_pem=read_pem(public_key) if use_public_key else None,
            public_key_id=config.get("WECHAT_PAY_PUBLIC_KEY_ID") if use_public_key else None,
            cert_dir=None if use_public_key else config.get("WECHAT_PAY_CERT_DIR"),
        )

    def notify_url(self, kind: str) -> str:
        return self.notify_base + NOTIFY_PATHS[kind]

    # -- payments ------------------------------------------------------------------------------

    def jsapi_prepay(
        self, out_trade_no: str, description: str, total_fen: int, openid: str
    ) -> JsapiParams:
        """「JSAPI下单」 POST /v3/pay/transactions/jsapi, then 「JSAPI调起支付」's paySign:
        RSA-SHA256 over appId, timeStamp, nonceStr and package, each followed by a newline.
        Asking again for the same out_trade_no and amount gets the same prepay_id back."""
        _check_fen(total_fen)
        data = self._call(
            self.pay.pay,
            description=description[:127],
            out_trade_no=out_trade_no,
            amount={"total": total_fen, "currency": "CNY"},
            payer={"openid": openid},
            notify_url=self.notify_url("transaction"),
        )
        prepay_id = data.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PayOutcomeUnknown(f"no prepay_id in WeChat's answer for {out_trade_no}")
        return self.jsapi_params(prepay_id)

    def jsapi_params(self, prepay_id: str) -> JsapiParams:
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        signature = self.pay.sign([self.appid, timestamp, nonce, package])
        return JsapiParams(self.appid, timestamp, nonce, package, "RSA", signature)

    def query_transaction(self, out_trade_no: str) -> Transaction:
        """「商户订单号查询订单」 GET /v3/pay/transactions/out-trade-no/{out_trade_no}."""
        data = self._call(self.pay.query, out_trade_no=out_trade_no)
        amount = data.get("amount") or {}
        return Transaction(
            out_trade_no=str(data.get("out_trade_no") or out_trade_no),
            transaction_id=data.get("transaction_id"),
            trade_state=str(data.get("trade_state") or ""),
            total_fen=_int_or_none(amount.get("total")),
            payer_openid=(data.get("payer") or {}).get("openid"),
            success_time=data.get("success_time"),
        )

    def close_transaction(self, out_trade_no: str) -> None:
        """「关闭订单」 POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close (204)."""
        self._call(self.pay.close, out_trade_no=out_trade_no)

    # -- refunds -------------------------------------------------------------------------------

    def refund(
        self, out_refund_no: str, out_trade_no: str, refund_fen: int, total_fen: int, reason: str
    ) -> RefundResult:
        """「退款申请」 POST /v3/refund/domestic/refunds. WeChat refunds once per out_refund_no:
        a repeat with the same number is the same refund, so a retry never refunds twice."""
        _check_fen(refund_fen)
        _check_fen(total_fen)
        data = self._call(
            self.pay.refund,
            out_refund_no=out_refund_no,
            out_trade_no=out_trade_no,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            reason=reason[:80] or None,
            notify_url=self.notify_url("refund"),
        )
        return _refund_result(data, out_refund_no)

    def query_refund(self, out_refund_no: str) -> RefundResult:
        """「查询单笔退款（按商户退款单号）」 GET /v3/refund/domestic/refunds/{out_refund_no}."""
        return _refund_result(
            self._call(self.pay.query_refund, out_refund_no=out_refund_no), out_refund_no
        )

    # -- 商家转账 ------------------------------------------------------------------------------

    def create_transfer(
        self,
        out_bill_no: str,
        openid: str,
        amount_fen: int,
        remark: str,
        user_name: str | None = None,
    ) -> TransferBill:
        """「发起转账」 POST /v3/fund-app/mch-transfer/transfer-bills (doc 4012716434), scene
        1005 佣金报酬 with the report infos its scene page (4012711988) asks for: 岗位类型 and
        报酬说明. The bill is keyed by out_bill_no: never send the same withdrawal under a new
        number until a query shows the old one failed. From 2,000 yuan the payee's real name is
        required, RSA-OAEP encrypted with the platform public key (wechatpayv3 encrypts it and
        sends Wechatpay-Serial); below that no name is sent."""
        _check_fen(amount_fen)
        if not remark.strip():
            raise ValueError("a transfer needs the remark the payee sees")
        name = None
        if amount_fen >= TRANSFER_NAME_FROM_FEN:
            if not user_name:
                raise ValueError("a transfer of 2,000 yuan or more needs the payee's real name")
            name = user_name
        data = self._call(
            self.pay.mch_transfer_bills,
            out_bill_no=out_bill_no,
            transfer_scene_id=TRANSFER_SCENE_COMMISSION,
            openid=openid,
            transfer_amount=amount_fen,
            transfer_remark=remark[:32],
            user_name=name,
            user_recv_perception="劳务报酬",
            transfer_scene_report_infos=[
                {"info_type": "岗位类型", "info_content": "分销员"},
                {"info_type": "报酬说明", "info_content": remark[:32]},
            ],
            notify_url=self.notify_url("transfer"),
        )
        return _transfer_bill(data, out_bill_no)

    def query_transfer(self, out_bill_no: str) -> TransferBill:
        """「商户单号查询转账单」 GET /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{no}."""
        return _transfer_bill(
            self._call(self.pay.mch_transfer_bills_query, out_bill_no=out_bill_no), out_bill_no
        )

    def cancel_transfer(self, out_bill_no: str) -> TransferBill:
        """「撤销转账」 POST .../transfer-bills/out-bill-no/{no}/cancel: accepted (CANCELING) only
        before the user confirms; the final state comes by query or notify."""
        return _transfer_bill(
            self._call(self.pay.mch_transfer_bills_cancel, out_bill_no=out_bill_no), out_bill_no
        )

    # -- the one place WeChat's answers become results or errors -------------------------------

    def _call(self, method, **kwargs) -> dict[str, Any]:
        for name in NUMBER_FORMATS.keys() & kwargs.keys():
            _check_no(name, kwargs[name])
        try:
            status, body = method(**kwargs)
        except requests.RequestException as e:
            raise PayOutcomeUnknown(f"WeChat Pay did not answer: {e}") from e
        except Exception as e:
            # wechatpayv3 raises a bare Exception when a 2xx answer's signature fails to
            # verify or is missing: the request may have been done, so the outcome is unknown.
            if "signature" in str(e) or "algorithm" in str(e):
                raise PayOutcomeUnknown(f"WeChat Pay's answer failed verification: {e}") from e
            raise
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if 200 <= status < 300:
            return data
        code = str(data.get("code") or f"HTTP_{status}")
        message = str(data.get("message") or "")[:200]
        if status >= 500 or code in UNKNOWN_OUTCOME_CODES:
            raise PayOutcomeUnknown(f"{code}: {message} (HTTP {status})")
        raise PayRefused(code, message, status)


# The merchant's numbers, as WeChat's documents allow them. Checked here because they also go
# into URL paths: a "/" or "?" must never reach one.
NUMBER_FORMATS = {
    "out_trade_no": re.compile(r"[0-9A-Za-z_\-|*]{6,32}"),
    "out_refund_no": re.compile(r"[0-9A-Za-z_\-|*@]{1,64}"),
    "out_bill_no": re.compile(r"[0-9A-Za-z]{5,32}"),
}


def _check_no(name: str, value: str) -> None:
    if not isinstance(value, str) or not NUMBER_FORMATS[name].fullmatch(value):
        raise ValueError(f"{name} {value!r} is not one WeChat Pay accepts")


def _check_fen(fen: int) -> None:
    if not isinstance(fen, int) or isinstance(fen, bool) or fen <= 0:
        raise ValueError(f"an amount is a positive whole number of fen, not {fen!r}")


def _int_or_none(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _refund_result(data: dict, out_refund_no: str) -> RefundResult:
    amount = data.get("amount") or {}
    if not data.get("refund_id"):
        raise PayOutcomeUnknown(f"no refund_id in WeChat's answer for {out_refund_no}")
    return RefundResult(
        out_refund_no=str(data.get("out_refund_no") or out_refund_no),
        refund_id=str(data["refund_id"]),
        status=str(data.get("status") or ""),
        refund_fen=_int_or_none(amount.get("refund")) or 0,
        total_fen=_int_or_none(amount.get("total")) or 0,
    )


def _transfer_bill(data: dict, out_bill_no: str) -> TransferBill:
    if not data.get("state"):
        raise PayOutcomeUnknown(f"no state in WeChat's answer for {out_bill_no}")
    return TransferBill(
        out_bill_no=str(data.get("out_bill_no") or out_bill_no),
        transfer_bill_no=data.get("transfer_bill_no"),
        state=str(data["state"]),
        package_info=data.get("package_info"),
        fail_reason=data.get("fail_reason"),
    )


class NotifyVerifier:
    """Reads WeChat Pay's notifies (「回调通知」, 「验签」, 「解密回调报文」). Needs no network:
    the platform public key (or certificates from WECHAT_PAY_CERT_DIR) and the APIv3 key."""

    def __init__(
        self,
        keys: Mapping[str, Any],
        apiv3_key: str,
        cert_dir: str | None = None,
        max_skew: int = MAX_NOTIFY_SKEW,
    ):
        self.keys = dict(keys)  # Wechatpay-Serial -> public key
        self.cert_dir = cert_dir
        if cert_dir:
            self.keys.update(certificate_keys(cert_dir))
        self.aead = AESGCM(apiv3_key.encode())
        self.max_skew = max_skew

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> NotifyVerifier:
        keys: dict[str, Any] = {}
        if config.get("WECHAT_PAY_PUBLIC_KEY") and config.get("WECHAT_PAY_PUBLIC_KEY_ID"):
            pem = read_pem(config["WECHAT_PAY_PUBLIC_KEY"]).encode()
            keys[config["WECHAT_PAY_PUBLIC_KEY_ID"]] = serialization.load_pem_public_key(pem)
        # Both at once when both are set: while a merchant moves from platform certificates to
        # the public key, WeChat signs with either (「平台证书切换为微信支付公钥」).
        cert_dir = config.get("WECHAT_PAY_CERT_DIR") or None
        return cls(keys, config["WECHAT_PAY_APIV3_KEY"], cert_dir=cert_dir)

    def verify(self, headers: Mapping[str, str], body: bytes) -> PayNotice:
        """The notify's resource, if WeChat Pay signed it within the last five minutes; else
        NotifyRejected (forged, tampered, stale) or NotifyMalformed (signed but unreadable)."""
        timestamp = headers.get("Wechatpay-Timestamp") or ""
        nonce = headers.get("Wechatpay-Nonce") or ""
        signature = headers.get("Wechatpay-Signature") or ""
        serial = headers.get("Wechatpay-Serial") or ""
        kind = headers.get("Wechatpay-Signature-Type") or SIGNATURE_TYPE
        if not (timestamp and nonce and signature and serial) or kind != SIGNATURE_TYPE:
            raise NotifyRejected("missing or unsupported Wechatpay-* signature headers")
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise NotifyRejected("Wechatpay-Timestamp is not a number")
        if abs(time.time() - int(timestamp)) > self.max_skew:
            raise NotifyRejected("Wechatpay-Timestamp is more than five minutes away")
        key = self._key(serial)
        if key is None:
            raise NotifyRejected(f"unknown Wechatpay-Serial {serial[:64]!r}")
        message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
        try:
            key.verify(
                b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError) as e:
            raise NotifyRejected("Wechatpay-Signature does not verify") from e
        return self._open(body)

    def _key(self, serial: str):
        key = self.keys.get(serial) or self.keys.get(serial.upper())
        if key is None and self.cert_dir:
            # WeChat rotates platform certificates; the gateway saves a new one in the directory
            # when it downloads it (「下载平台证书」). Look there again, never at the network: a
            # forged serial must not cost an outbound call.
            self.keys.update(certificate_keys(self.cert_dir))
            key = self.keys.get(serial) or self.keys.get(serial.upper())
        return key

    def _open(self, body: bytes) -> PayNotice:
        try:
            envelope = json.loads(body)
        except ValueError as e:
            raise NotifyMalformed("the body is not JSON") from e
        if not isinstance(envelope, dict) or envelope.get("resource_type") != "encrypt-resource":
            raise NotifyMalformed("not an encrypt-resource notify")
        resource = envelope.get("resource")
        if not isinstance(resource, dict) or resource.get("algorithm") != "AEAD_AES_256_GCM":
            raise NotifyMalformed("the resource is not AEAD_AES_256_GCM")
        nonce, ciphertext = resource.get("nonce"), resource.get("ciphertext")
        associated = resource.get("associated_data") or ""
        if not all(isinstance(v, str) and v for v in (nonce, ciphertext)) or not isinstance(
            associated, str
        ):
            raise NotifyMalformed("the resource lacks its nonce or ciphertext")
        try:
            plain = self.aead.decrypt(
                nonce.encode(), b64decode(ciphertext, validate=True), associated.encode()
            )
            data = json.loads(plain)
        except (InvalidTag, ValueError) as e:
            raise NotifyMalformed("the resource does not decrypt with the APIv3 key") from e
        if not isinstance(data, dict):
            raise NotifyMalformed("the resource is not an object")
        fields = (envelope.get("id"), envelope.get("event_type"), envelope.get("create_time", ""))
        if not all(isinstance(v, str) for v in fields) or not fields[1]:
            raise NotifyMalformed("the notify lacks its id or event_type")
        return PayNotice(str(fields[0])[:64], fields[1][:32], fields[2][:32], data)


def pkcs8(pem: str) -> str:
    """The key as PKCS#8 PEM: wechatpayv3 reads only that form (WeChat's apiclient_key.pem is
    PKCS#8), and an RSA PRIVATE KEY (PKCS#1) export would fail at the first request."""
    key = serialization.load_pem_private_key(pem.encode(), None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def certificate_keys(cert_dir: str) -> dict[str, Any]:
    """Serial (upper-case hex, as Wechatpay-Serial carries it) -> public key, for each platform
    certificate in `cert_dir` that is valid now; unreadable files are skipped."""
    keys: dict[str, Any] = {}
    at = datetime.now(UTC)
    for path in sorted(Path(cert_dir).glob("*.pem")):
        try:
            cert = x509.load_pem_x509_certificate(path.read_bytes())
        except (OSError, ValueError):
            continue
        if cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
            keys[format(cert.serial_number, "X")] = cert.public_key()
    return keys


def pay_gateway(app: Flask | None = None) -> PayGateway:
    """The app's gateway: one set on the app (tests), else built from the configuration at first
    use (in certificate mode wechatpayv3 may download certificates, so not at start-up)."""
    app = app or current_app
    gateway = app.extensions.get(GATEWAY)
    if gateway is None:
        gateway = app.extensions[GATEWAY] = WeChatPayV3.from_config(app.config)
    return gateway


def use_pay_gateway(app: Flask, gateway: PayGateway) -> None:
    app.extensions[GATEWAY] = gateway


def notify_verifier(app: Flask | None = None) -> NotifyVerifier:
    """Built at first use: in the demo the simulator writes the platform public key after the
    app has started."""
    app = app or current_app
    verifier = app.extensions.get(VERIFIER)
    if verifier is None:
        verifier = app.extensions[VERIFIER] = NotifyVerifier.from_config(app.config)
    return verifier

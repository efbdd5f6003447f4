"""The payout provider interface, and WeChat Pay's transfer to a wallet through wechatpy.

Every transfer carries the withdrawal's out-bill number as `partner_trade_no`: WeChat Pay treats
a repeat with the same number as the same transfer, so a retry can never pay twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import requests
from flask import Flask, current_app
from wechatpy.exceptions import WeChatPayException
from wechatpy.pay import WeChatPay

log = logging.getLogger(__name__)
EXTENSION = "fenxiao.payout_provider"


@dataclass(frozen=True)
class TransferRequest:
    out_bill_no: str
    openid: str
    amount_fen: int
    description: str


@dataclass(frozen=True)
class TransferResult:
    ok: bool
    provider_ref: str | None = None
    reason: str | None = None  # why it definitively failed


class TransientPayoutError(Exception):
    """The outcome is unknown (network, timeout, SYSTEMERROR): retry with the same number."""


class PayoutProvider(Protocol):
    def transfer(self, request: TransferRequest) -> TransferResult: ...


# WeChat Pay v2 error codes after which retrying the same transfer is right.
RETRYABLE_CODES = {"SYSTEMERROR", "FREQ_LIMIT", "SEND_FAILED"}


class WeChatPayTransfer:
    """企业付款到零钱 (WeChat Pay v2 `mmpaymkttransfers/promotion/transfers`), via wechatpy."""

    def __init__(self, pay, check_name: str = "NO_CHECK"):
        self.pay = pay
        self.check_name = check_name

    @classmethod
    def from_config(cls, config) -> WeChatPayTransfer:
        pay = WeChatPay(
            appid=config["WECHAT_APPID"],
            api_key=config.get("WECHAT_PAY_API_KEY") or "",
            mch_id=config.get("WECHAT_PAY_MCH_ID") or "",
            mch_cert=config.get("WECHAT_PAY_CERT"),
            mch_key=config.get("WECHAT_PAY_KEY"),
            timeout=10,
        )
        pay.API_BASE_URL = config["WECHAT_PAY_API_BASE"].rstrip("/") + "/"
        return cls(pay)

    def transfer(self, request: TransferRequest) -> TransferResult:
        try:
            result = self.pay.transfer.transfer(
                user_id=request.openid,
                amount=request.amount_fen,
                desc=request.description,
                check_name=self.check_name,
                out_trade_no=request.out_bill_no,
            )
        except WeChatPayException as e:
            code = (e.errcode or e.return_code or "").upper()
            if code in RETRYABLE_CODES or not e.errcode:
                raise TransientPayoutError(f"{code}: {e.errmsg or e.return_msg}") from e
            return TransferResult(False, reason=f"{code}: {e.errmsg or e.return_msg}"[:200])
        except (requests.RequestException, OSError) as e:
            raise TransientPayoutError(str(e)) from e
        return TransferResult(True, provider_ref=result.get("payment_no"))


def payout_provider(app: Flask | None = None) -> PayoutProvider:
    """The provider in use: one set on the app (tests), else WeChat Pay from the configuration."""
    app = app or current_app
    provider = app.extensions.get(EXTENSION)
    if provider is None:
        provider = app.extensions[EXTENSION] = WeChatPayTransfer.from_config(app.config)
    return provider


def use_payout_provider(app: Flask, provider: PayoutProvider) -> None:
    app.extensions[EXTENSION] = provider

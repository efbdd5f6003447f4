"""What the checkout tests build on: addresses, coupons claimed, SKUs, and a fake WeChat Pay
gateway that remembers every call and pays, closes and refunds as WeChat does (once per
number)."""

from __future__ import annotations

import itertools
import threading
from datetime import timedelta

from infra.clock import now
from infra.jobs import get_queue
from models import Address, Coupon, Sku, UserCoupon, db
from models.base import begin_write
from services.checkout import CheckoutItem
from wechat.pay_v3 import (
    JsapiParams,
    PayOutcomeUnknown,
    PayRefused,
    RefundResult,
    Transaction,
)

_seq = itertools.count(1)


def make_address(user, province: str = "浙江省", default: bool = True) -> Address:
    begin_write()
    address = Address(
        user_id=user.id,
        name="张三",
        phone="13800000000",
        province=province,
        city="杭州市",
        district="西湖区",
        detail="文三路 1 号",
        is_default=default,
    )
    db.session.add(address)
    db.session.commit()
    return address


def make_coupon(**terms) -> Coupon:
    """A coupon on offer now: 无门槛 ¥10 off unless told otherwise."""
    begin_write()
    at = now()
    coupon = Coupon(
        title=terms.pop("title", f"券{next(_seq)}"),
        kind=terms.pop("kind", "no_threshold"),
        off_fen=terms.pop("off_fen", 1_000),
        starts_at=terms.pop("starts_at", at - timedelta(days=1)),
        ends_at=terms.pop("ends_at", at + timedelta(days=30)),
        **terms,
    )
    db.session.add(coupon)
    db.session.commit()
    return coupon


def claim(user, coupon: Coupon, status: str = "available") -> UserCoupon:
    begin_write()
    claimed = UserCoupon(coupon_id=coupon.id, user_id=user.id, status=status)
    db.session.add(claimed)
    db.session.commit()
    return claimed


def add_sku(product, price_fen: int, stock: int, spec_text: str) -> Sku:
    begin_write()
    sku = Sku(
        product_id=product.id,
        price_fen=price_fen,
        stock=stock,
        spec={"规格": spec_text},
        spec_text=spec_text,
        sort=next(_seq),
    )
    db.session.add(sku)
    db.session.commit()
    return sku


def items(*pairs) -> list[CheckoutItem]:
    """CheckoutItems from (sku id, quantity) pairs."""
    return [CheckoutItem(sku_id, quantity) for sku_id, quantity in pairs]


def job(job_id: str):
    """The job enqueued after commit under `job_id`, or None."""
    return get_queue("default").fetch_job(job_id)


class FakePay:
    """WeChat Pay as the checkout sees it: prepays, queries, closes and refunds, each refund
    made once per out_refund_no however often it is asked (as WeChat does)."""

    def __init__(self, refund_status: str = "PROCESSING"):
        self.lock = threading.Lock()
        self.prepays: list[tuple] = []
        self.closed: list[str] = []
        self.queries: list[str] = []
        self.refund_calls: list[tuple] = []
        self.refunds: dict[str, RefundResult] = {}
        self.paid: dict[str, Transaction] = {}
        self.refund_status = refund_status
        self.query_fails = False

    def jsapi_prepay(self, out_trade_no, description, total_fen, openid) -> JsapiParams:
        with self.lock:
            self.prepays.append((out_trade_no, description, total_fen, openid))
            return self.jsapi_params(f"wx{len(self.prepays):04d}{out_trade_no}")

    def jsapi_params(self, prepay_id: str) -> JsapiParams:
        return JsapiParams("wxappid", "1765000000", "nonce", f"prepay_id={prepay_id}", "RSA", "s")

    def pay(self, out_trade_no: str, total_fen: int) -> Transaction:
        """The shopper pays at WeChat (no notify: a test sends it, or the query finds it)."""
        with self.lock:
            found = self.paid[out_trade_no] = Transaction(
                out_trade_no,
                f"4200{next(_seq):010d}",
                "SUCCESS",
                total_fen,
                "openid",
                "2026-12-06T16:00:00+08:00",
            )
            return found

    def query_transaction(self, out_trade_no: str) -> Transaction:
        with self.lock:
            self.queries.append(out_trade_no)
            if self.query_fails:
                raise PayOutcomeUnknown("SYSTEM_ERROR: 系统繁忙 (HTTP 500)")
            found = self.paid.get(out_trade_no)
        return found or Transaction(out_trade_no, None, "NOTPAY", None, None, None)

    def close_transaction(self, out_trade_no: str) -> None:
        with self.lock:
            if out_trade_no in self.paid:
                raise PayRefused("INVALID_REQUEST", "订单已支付，不能关闭", 400)
            self.closed.append(out_trade_no)

    def refund(self, out_refund_no, out_trade_no, refund_fen, total_fen, reason) -> RefundResult:
        with self.lock:
            self.refund_calls.append((out_refund_no, out_trade_no, refund_fen, total_fen, reason))
            if out_refund_no not in self.refunds:
                self.refunds[out_refund_no] = RefundResult(
                    out_refund_no,
                    f"5030{next(_seq):010d}",
                    self.refund_status,
                    refund_fen,
                    total_fen,
                )
            return self.refunds[out_refund_no]

    def query_refund(self, out_refund_no: str) -> RefundResult:
        with self.lock:
            if out_refund_no not in self.refunds:
                raise PayRefused("RESOURCE_NOT_EXISTS", "退款单不存在", 404)
            return self.refunds[out_refund_no]

    def settle_refund(self, out_refund_no: str, status: str = "SUCCESS") -> RefundResult:
        """WeChat finishes the refund (what its notify then says)."""
        with self.lock:
            found = self.refunds[out_refund_no]
            done = RefundResult(
                found.out_refund_no, found.refund_id, status, found.refund_fen, found.total_fen
            )
            self.refunds[out_refund_no] = done
            return done

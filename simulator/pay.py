"""WeChat Pay v2 (api.mch.weixin.qq.com) under /mch/: XML in and out, MD5 signatures both ways.

The relative paths are the ones wechatpy appends to `WeChatPay.API_BASE_URL`. Every request's
sign is checked with the merchant API key (a bad one answers return_code FAIL); every answer is
signed. Business failures answer return_code SUCCESS, result_code FAIL, err_code, err_code_des.
"""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, Response, request

from . import crypto
from .store import Store, get_store, random_id
from .xmlmsg import ReplyError, flat, parse, to_xml

bp = Blueprint("pay", __name__, url_prefix="/mch")

DIGITS = "0123456789"
TRADE_TYPES = ("JSAPI", "NATIVE", "APP", "MWEB")
TRADE_STATE_DESC = {
    "NOTPAY": "未支付",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "CLOSED": "已关闭",
}
ERROR_DESC = {
    "NOTENOUGH": "余额不足",
    "SYSTEMERROR": "系统繁忙，请稍后再试",
    "FREQ_LIMIT": "超过频率限制，请稍后再试",
    "AMOUNT_LIMIT": "付款金额超出限制",
    "OPENID_ERROR": "Openid错误",
    "NAME_MISMATCH": "姓名校验出错",
    "V2_ACCOUNT_SIMPLE_BAN": "无法给未实名用户付款",
}


class PayError(Exception):
    def __init__(self, err_code: str, err_code_des: str | None = None):
        super().__init__(err_code)
        self.err_code, self.err_code_des = (
            err_code,
            err_code_des or ERROR_DESC.get(err_code, err_code),
        )


def xml_response(fields: dict[str, Any], api_key: str | None) -> Response:
    fields = {k: str(v) for k, v in fields.items() if v is not None}
    if api_key:
        fields["nonce_str"] = random_id(32)
        fields["sign"] = crypto.pay_sign(fields, api_key)
    return Response(to_xml(sorted(fields.items())), mimetype="text/xml")


def fail(return_msg: str, **extra: str) -> Response:
    return xml_response({"return_code": "FAIL", "return_msg": return_msg, **extra}, None)


def pay_endpoint(transfer: bool = False):
    """Parse, check the sign and the merchant, run the handler, answer signed XML."""
    id_keys = ("mch_appid", "mchid") if transfer else ("appid", "mch_id")

    def decorate(handler):
        @wraps(handler)
        def view():
            store = get_store()
            cfg = store.config
            params, refusal = checked_params(cfg, id_keys, transfer)
            if refusal is not None:
                return refusal
            answer = {"return_code": "SUCCESS", "return_msg": "OK"}
            answer.update({k: params[k] for k in id_keys})
            try:
                with store.lock:
                    answer.update(result_code="SUCCESS", **handler(store, params))
            except PayError as e:
                answer.update(result_code="FAIL", err_code=e.err_code, err_code_des=e.err_code_des)
            return xml_response(answer, cfg["WECHAT_PAY_API_KEY"])

        return view

    return decorate


def checked_params(cfg: dict[str, Any], id_keys: tuple[str, str], transfer: bool):
    """(the request's fields, None), or (None, the FAIL answer given before any business logic).

    A bad sign on a transfer also carries err_code SIGN_ERROR, as that API documents: a payout
    engine must read it as a definitive failure, not as "unknown, retry".
    """
    try:
        params = flat(parse(request.get_data()))
    except ReplyError:
        return None, fail("XML格式错误")
    if not crypto.pay_sign_ok(params, cfg["WECHAT_PAY_API_KEY"]):
        if transfer:
            codes = {"result_code": "FAIL", "err_code": "SIGN_ERROR", "err_code_des": "签名错误"}
            return None, fail("签名错误", **codes)
        return None, fail("签名错误")
    ids = (params.get(id_keys[0]), params.get(id_keys[1]))
    if ids != (cfg["WECHAT_APPID"], cfg["WECHAT_PAY_MCH_ID"]):
        return None, fail("appid和mch_id不匹配")
    return params, None


def required(params: dict[str, str], *names: str) -> None:
    missing = [n for n in names if not params.get(n)]
    if missing:
        raise PayError("PARAM_ERROR", f"缺少参数 {', '.join(missing)}")


def positive_int(params: dict[str, str], name: str) -> int:
    value = params.get(name, "")
    if not value.isdigit() or int(value) <= 0:
        raise PayError("PARAM_ERROR", f"{name} 必须是正整数（分）")
    return int(value)


# -- orders -------------------------------------------------------------------------------------
@bp.post("/pay/unifiedorder")
@pay_endpoint()
def unifiedorder(store: Store, params: dict[str, str]) -> dict[str, Any]:
    required(
        params, "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type"
    )
    total_fee, kind, openid = (
        positive_int(params, "total_fee"),
        params["trade_type"],
        params.get("openid"),
    )
    if kind not in TRADE_TYPES:
        raise PayError("PARAM_ERROR", "trade_type 参数错误")
    if kind == "JSAPI" and (not openid or store.user(openid) is None):
        raise PayError("PARAM_ERROR", "JSAPI支付必须传openid，且openid须属于该appid")
    order = store.orders.get(params["out_trade_no"])
    if order is None:
        order = new_order(store, params, total_fee)
    elif order["state"] != "NOTPAY":
        raise PayError("ORDERPAID" if order["state"] != "CLOSED" else "ORDERCLOSED", "订单状态错误")
    elif (order["total_fee"], order["openid"], order["body"]) != (
        total_fee,
        openid,
        params["body"],
    ):
        raise PayError("INVALID_REQUEST", "商户订单号重复，且参数不一致")
    result = {"trade_type": kind, "prepay_id": order["prepay_id"]}
    if kind == "NATIVE":
        result["code_url"] = "weixin://wxpay/bizpayurl?pr=" + order["prepay_id"][-7:]
    if kind == "MWEB":
        result["mweb_url"] = "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?prepay_id="
        result["mweb_url"] += order["prepay_id"]
    return result


def new_order(store: Store, params: dict[str, str], total_fee: int) -> dict[str, Any]:
    now = store.china_now()
    order = {
        "out_trade_no": params["out_trade_no"],
        "total_fee": total_fee,
        "body": params["body"],
        "attach": params.get("attach", ""),
        "openid": params.get("openid"),
        "trade_type": params["trade_type"],
        "notify_url": params["notify_url"],
        "prepay_id": "wx" + now.strftime("%d%H%M%S") + random_id(26, DIGITS),
        "created_at": int(store.now()),
        "state": "NOTPAY",
        "transaction_id": None,
        "time_end": None,
        "refunded": 0,
        "notifies": [],
    }
    store.orders[order["out_trade_no"]] = order
    return order


def find_order(store: Store, params: dict[str, str]) -> dict[str, Any]:
    if params.get("transaction_id"):
        found = [
            o for o in store.orders.values() if o["transaction_id"] == params["transaction_id"]
        ]
        order = found[0] if found else None
    elif params.get("out_trade_no"):
        order = store.orders.get(params["out_trade_no"])
    else:
        raise PayError("PARAM_ERROR", "transaction_id 和 out_trade_no 必须传一个")
    if order is None:
        raise PayError("ORDERNOTEXIST", "订单不存在")
    return order


@bp.post("/pay/orderquery")
@pay_endpoint()
def orderquery(store: Store, params: dict[str, str]) -> dict[str, Any]:
    order = find_order(store, params)
    result = {
        "trade_state": order["state"],
        "trade_state_desc": TRADE_STATE_DESC[order["state"]],
        "out_trade_no": order["out_trade_no"],
        "attach": order["attach"] or None,
    }
    if order["transaction_id"]:
        result.update(paid_fields(store, order))
    return result


def paid_fields(store: Store, order: dict[str, Any]) -> dict[str, Any]:
    user = store.user(order["openid"] or "")
    return {
        "openid": order["openid"],
        "is_subscribe": "Y" if user and user.subscribed else "N",
        "trade_type": order["trade_type"],
        "bank_type": "CFT",
        "total_fee": order["total_fee"],
        "cash_fee": order["total_fee"],
        "fee_type": "CNY",
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "attach": order["attach"] or None,
        "time_end": order["time_end"],
    }


@bp.post("/pay/closeorder")
@pay_endpoint()
def closeorder(store: Store, params: dict[str, str]) -> dict[str, Any]:
    order = find_order(store, {"out_trade_no": params.get("out_trade_no", "")})
    if order["state"] != "NOTPAY":
        raise PayError("ORDERPAID" if order["state"] != "CLOSED" else "ORDERCLOSED", "订单状态错误")
    order["state"] = "CLOSED"
    return {}


def mark_paid(store: Store, order: dict[str, Any]) -> None:
    with store.lock:
        order["state"] = "SUCCESS"
        order["transaction_id"] = (
            "42000" + store.china_now().strftime("%Y%m%d") + random_id(15, DIGITS)
        )
        order["time_end"] = store.china_now().strftime("%Y%m%d%H%M%S")


# -- refunds ------------------------------------------------------------------------------------
@bp.post("/secapi/pay/refund")
@pay_endpoint()
def refund(store: Store, params: dict[str, str]) -> dict[str, Any]:
    required(params, "out_refund_no", "total_fee", "refund_fee")
    order = find_order(store, params)
    total_fee, refund_fee = positive_int(params, "total_fee"), positive_int(params, "refund_fee")
    existing = store.refunds.get(params["out_refund_no"])
    if existing is not None:  # idempotent on out_refund_no: the same refund, never a second one
        if (existing["out_trade_no"], existing["refund_fee"]) != (
            order["out_trade_no"],
            refund_fee,
        ):
            raise PayError("INVALID_REQUEST", "out_refund_no 已用于另一笔退款")
        return refund_fields(order, existing)
    if order["state"] not in ("SUCCESS", "REFUND"):
        raise PayError("TRADE_STATE_ERROR", "订单状态错误")
    if total_fee != order["total_fee"]:
        raise PayError("INVALID_REQUEST", "订单金额与实际支付金额不一致")
    if refund_fee > order["total_fee"] - order["refunded"]:
        raise PayError("INVALID_REQUEST", "累计退款金额大于支付金额")
    record = {
        "out_refund_no": params["out_refund_no"],
        "refund_id": "50000" + random_id(24, DIGITS),
        "out_trade_no": order["out_trade_no"],
        "refund_fee": refund_fee,
        "refund_status": "SUCCESS",
        "time": int(store.now()),
    }
    store.refunds[record["out_refund_no"]] = record
    order["refunded"] += refund_fee
    order["state"] = "REFUND"
    return refund_fields(order, record)


def refund_fields(order: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    return {
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "out_refund_no": record["out_refund_no"],
        "refund_id": record["refund_id"],
        "refund_fee": record["refund_fee"],
        "total_fee": order["total_fee"],
        "cash_fee": order["total_fee"],
        "cash_refund_fee": record["refund_fee"],
    }


@bp.post("/pay/refundquery")
@pay_endpoint()
def refundquery(store: Store, params: dict[str, str]) -> dict[str, Any]:
    if params.get("out_refund_no"):
        found = store.refunds.get(params["out_refund_no"])
        records = [found] if found else []
    else:
        order = find_order(store, params)
        records = [r for r in store.refunds.values() if r["out_trade_no"] == order["out_trade_no"]]
    if not records:
        raise PayError("REFUNDNOTEXIST", "退款订单查询失败")
    order = store.orders[records[0]["out_trade_no"]]
    result = {
        "transaction_id": order["transaction_id"],
        "out_trade_no": order["out_trade_no"],
        "total_fee": order["total_fee"],
        "cash_fee": order["total_fee"],
        "refund_count": len(records),
    }
    for i, r in enumerate(records):
        result.update(
            {
                f"out_refund_no_{i}": r["out_refund_no"],
                f"refund_id_{i}": r["refund_id"],
                f"refund_fee_{i}": r["refund_fee"],
                f"refund_status_{i}": r["refund_status"],
            }
        )
    return result


# -- transfers to a wallet (企业付款到零钱) -------------------------------------------------
@bp.post("/mmpaymkttransfers/promotion/transfers")
@pay_endpoint(transfer=True)
def transfers(store: Store, params: dict[str, str]) -> dict[str, Any]:
    required(params, "partner_trade_no", "openid", "check_name", "amount", "desc")
    fault = take_fault(store, params)
    if fault and not fault.get("applied"):
        raise PayError(fault["err_code"])
    record = transfer_record(store, params)
    if fault:  # the money moved, but the answer says otherwise: only a retry can tell
        raise PayError(fault["err_code"])
    return {
        "partner_trade_no": record["partner_trade_no"],
        "payment_no": record["payment_no"],
        "payment_time": record["payment_time"],
    }


def transfer_record(store: Store, params: dict[str, str]) -> dict[str, Any]:
    """The transfer for this partner_trade_no: made once, then the same one for every repeat."""
    amount = positive_int(params, "amount")
    existing = store.transfers.get(params["partner_trade_no"])
    if existing is not None:
        if (existing["openid"], existing["amount"]) != (params["openid"], amount):
            raise PayError("FATAL_ERROR", "已存在该单，并且订单信息不一致")
        return existing
    if amount < store.config["SIM_TRANSFER_MIN_FEN"]:
        raise PayError("AMOUNT_LIMIT", "付款金额不能小于最低限额")
    if params["check_name"] == "FORCE_CHECK" and not params.get("re_user_name"):
        raise PayError("PARAM_ERROR", "FORCE_CHECK 必须传 re_user_name")
    if store.user(params["openid"]) is None:
        raise PayError("OPENID_ERROR")
    record = {
        "partner_trade_no": params["partner_trade_no"],
        "openid": params["openid"],
        "amount": amount,
        "desc": params["desc"],
        "payment_no": "10100" + store.china_now().strftime("%Y%m%d") + random_id(15, DIGITS),
        "payment_time": store.china_now().strftime("%Y-%m-%d %H:%M:%S"),
        "time": int(store.now()),
    }
    store.transfers[record["partner_trade_no"]] = record
    store.record(
        params["openid"],
        "wallet",
        msgtype="transfer",
        amount=amount,
        content=f"微信支付：你收到一笔商家转账 ¥{amount / 100:.2f}（{params['desc']}）",
    )
    return record


def take_fault(store: Store, params: dict[str, str]) -> dict[str, Any] | None:
    """The first injected fault that matches this transfer, used up one time."""
    for fault in store.transfer_faults:
        wanted = {k: fault.get(k) for k in ("openid", "partner_trade_no") if fault.get(k)}
        if fault["times"] > 0 and all(params.get(k) == v for k, v in wanted.items()):
            fault["times"] -= 1
            return fault
    return None


@bp.post("/mmpaymkttransfers/gettransferinfo")
@pay_endpoint(transfer=False)
def gettransferinfo(store: Store, params: dict[str, str]) -> dict[str, Any]:
    record = store.transfers.get(params.get("partner_trade_no", ""))
    if record is None:
        raise PayError("NOT_FOUND", "数据不存在")
    return {
        "partner_trade_no": record["partner_trade_no"],
        "detail_id": record["payment_no"],
        "status": "SUCCESS",
        "openid": record["openid"],
        "payment_amount": record["amount"],
        "transfer_time": record["payment_time"],
        "payment_time": record["payment_time"],
        "desc": record["desc"],
    }

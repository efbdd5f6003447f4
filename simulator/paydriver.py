"""Driving WeChat Pay from tests and pages: paying orders (with the signed notify), faults.

The notify goes to the order's notify_url with a SIM_NOTIFY_TIMEOUT (5 s) timeout. If the answer
is not <return_code>SUCCESS</return_code>, WeChat tries again later on its schedule
(SIM_NOTIFY_RETRY_DELAYS), from a background thread here, until one answer is SUCCESS.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from flask import Blueprint, jsonify, redirect, render_template, request

from . import crypto
from .pay import mark_paid, paid_fields
from .store import Store, get_store, random_id
from .xmlmsg import ReplyError, flat, parse, to_xml

bp = Blueprint("paydriver", __name__, url_prefix="/sim/pay")

FAULT_CODES = (
    "NOTENOUGH",
    "SYSTEMERROR",
    "FREQ_LIMIT",
    "AMOUNT_LIMIT",
    "OPENID_ERROR",
    "NAME_MISMATCH",
    "V2_ACCOUNT_SIMPLE_BAN",
    "SEND_FAILED",
)


def public_order(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k != "notifies"} | {
        "notifies": order["notifies"][-20:]
    }


@bp.get("/orders")
def orders():
    store = get_store()
    with store.lock:
        return jsonify(orders=[public_order(o) for o in store.orders.values()])


@bp.get("/orders/<out_trade_no>")
def order(out_trade_no: str):
    store = get_store()
    with store.lock:
        found = store.orders.get(out_trade_no)
        return jsonify(public_order(found)) if found else (jsonify(error="no such order"), 404)


@bp.post("/orders/<out_trade_no>/pay")
def pay(out_trade_no: str):
    """The user pays: the order becomes SUCCESS and the signed notify goes out at once."""
    store = get_store()
    with store.lock:
        found = store.orders.get(out_trade_no)
        if found is None:
            return jsonify(error="no such order"), 404
        if found["state"] != "NOTPAY":
            return jsonify(error=f"the order is {found['state']}, not NOTPAY"), 409
        mark_paid(store, found)
    result = notify(store, found)
    with store.lock:
        return jsonify(order=public_order(found), notify=result)


@bp.post("/orders/<out_trade_no>/notify")
def renotify(out_trade_no: str):
    """Send the paid order's notify again, as WeChat does: the receiver must de-duplicate."""
    store = get_store()
    with store.lock:
        found = store.orders.get(out_trade_no)
        if found is None or not found["transaction_id"]:
            return jsonify(error="no such paid order"), 404
    return jsonify(notify=notify(store, found, retry=False))


def notify_xml(store: Store, order: dict[str, Any]) -> str:
    cfg = store.config
    with store.lock:
        fields = {
            "appid": cfg["WECHAT_APPID"],
            "mch_id": cfg["WECHAT_PAY_MCH_ID"],
            "nonce_str": random_id(32),
            "result_code": "SUCCESS",
            "return_code": "SUCCESS",
            **paid_fields(store, order),
        }
    fields = {k: str(v) for k, v in fields.items() if v not in (None, "")}
    fields["sign"] = crypto.pay_sign(fields, cfg["WECHAT_PAY_API_KEY"])
    return to_xml(sorted(fields.items()))


def notify(store: Store, order: dict[str, Any], retry: bool = True) -> dict[str, Any]:
    """One notify now; on failure (and `retry`) the rest of WeChat's schedule in the background."""
    result = notify_once(store, order)
    if not result["ok"] and retry:
        threading.Thread(target=retry_notify, args=(store, order), daemon=True).start()
    return result


def notify_once(store: Store, order: dict[str, Any]) -> dict[str, Any]:
    timeout = store.config["SIM_NOTIFY_TIMEOUT"]
    try:
        response = requests.post(
            order["notify_url"],
            data=notify_xml(store, order).encode(),
            headers={"Content-Type": "text/xml"},
            timeout=timeout,
        )
        answer = response.content.decode("utf-8", "replace")
        ok = response.status_code == 200 and answer_ok(answer)
        result = {"ok": ok, "http_status": response.status_code, "answer": answer[:500]}
    except requests.RequestException as e:
        result = {"ok": False, "http_status": None, "answer": f"{e.__class__.__name__}: {e}"[:500]}
    with store.lock:
        result["time"] = int(store.now())
        order["notifies"].append(result)
    return result


def answer_ok(answer: str) -> bool:
    try:
        return flat(parse(answer)).get("return_code") == "SUCCESS"
    except ReplyError:
        return False


def retry_notify(store: Store, order: dict[str, Any]) -> None:
    for delay in store.config["SIM_NOTIFY_RETRY_DELAYS"]:
        time.sleep(delay)
        with store.lock:
            if store.orders.get(order["out_trade_no"]) is not order:
                return  # the store was reset meanwhile
        if notify_once(store, order)["ok"]:
            return


# -- transfer faults ----------------------------------------------------------------------------
@bp.post("/transfer-faults")
def add_fault():
    """{"openid"? , "partner_trade_no"?, "err_code", "times": 1, "applied": false}.

    The next `times` matching transfers answer err_code. With "applied": true the transfer is
    made anyway (the answer was lost): a retry with the same number then gets the success.
    """
    body = request.get_json(silent=True) or {}
    if body.get("err_code") not in FAULT_CODES:
        return jsonify(error=f"err_code must be one of {', '.join(FAULT_CODES)}"), 400
    fault = {
        "openid": body.get("openid"),
        "partner_trade_no": body.get("partner_trade_no"),
        "err_code": body["err_code"],
        "times": int(body.get("times", 1)),
        "applied": bool(body.get("applied", False)),
    }
    store = get_store()
    with store.lock:
        store.transfer_faults.append(fault)
    return jsonify(fault), 201


@bp.get("/transfer-faults")
def list_faults():
    store = get_store()
    with store.lock:
        return jsonify(faults=list(store.transfer_faults))


@bp.delete("/transfer-faults")
def clear_faults():
    store = get_store()
    with store.lock:
        store.transfer_faults.clear()
    return jsonify(faults=[])


@bp.get("/transfers")
def list_transfers():
    store = get_store()
    with store.lock:
        return jsonify(transfers=list(store.transfers.values()))


@bp.get("/refunds")
def list_refunds():
    store = get_store()
    with store.lock:
        return jsonify(refunds=list(store.refunds.values()))


# -- the cashier page: a browser stand-in for WeixinJSBridge's payment sheet ---------------------
@bp.get("/cashier/<out_trade_no>")
def cashier(out_trade_no: str):
    store = get_store()
    with store.lock:
        found = store.orders.get(out_trade_no)
        found = public_order(found) if found else None
    back = request.args.get("redirect", "")
    return render_template("cashier.html", order=found, redirect_url=back), 200 if found else 404


@bp.post("/cashier/<out_trade_no>")
def cashier_pay(out_trade_no: str):
    response = pay(out_trade_no)
    back = request.form.get("redirect", "")
    status = response[1] if isinstance(response, tuple) else 200
    if back and status == 200:
        return redirect(back)
    return response

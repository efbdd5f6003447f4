"""Driving WeChat Pay APIv3 from tests and pages: keys, paying, confirming bills, faults, notifies.

Under /sim/pay/v3/ (JSON unless a page). The two pages play what the WeChat client shows:
- `/sim/pay/v3/cashier?package=prepay_id%3D...` plays `WeixinJSBridge.invoke("getBrandWCPayRequest",
  {appId, timeStamp, nonceStr, package, signType: "RSA", paySign})`: give it those parameters (the
  paySign is checked with the merchant's public key when present) and `redirect`; 确认支付 pays the
  order (TRANSACTION.SUCCESS notify) and goes back to `redirect?err_msg=get_brand_wcpay_request:ok`,
  取消 goes back with `:cancel` and leaves the order NOTPAY.
- `/sim/pay/v3/transfer?package=<package_info>` plays `WeixinJSBridge.invoke(
  "requestMerchantTransfer", {mchId, appId, package, openId?})`: 确认收款 makes the bill
  SUCCESS (the wallet credited) or, with a BILL_FAIL fault, FAIL; 暂不收款 (decline) makes it
  FAIL; back to `redirect?err_msg=requestMerchantTransfer:ok` (or `:cancel`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, jsonify, redirect, render_template, request

from . import v3crypto
from .pay_v3 import (
    FAULT_KINDS,
    get_keys,
    mark_paid,
    payment_notify,
    refund_notify,
)
from .store import Store, get_store
from .transfer_bills import bill_notify, finish
from .v3faults import FAULT_MATCH_KEYS

bp = Blueprint("paydriver_v3", __name__, url_prefix="/sim/pay/v3")


def not_found(what: str):
    return jsonify(error=f"no such {what}"), 404


# -- keys -----------------------------------------------------------------------------------------
@bp.get("/keys")
def keys_view():
    """What the merchant configures: the platform public key and its id (public-key mode), the
    platform certificate and serial (certificate mode), the APIv3 key, the merchant's own key."""
    keys, cfg = get_keys(), get_store().config
    merchant = keys.merchant
    return jsonify(
        mode=keys.mode,
        mchid=cfg["WECHAT_PAY_MCH_ID"],
        appid=cfg["WECHAT_APPID"],
        apiv3_key=keys.apiv3_key(),
        public_key_id=keys.public_key_id,
        public_key=keys.platform_public_pem,
        certificate_serial=keys.certificate_serial,
        certificate=keys.certificate_pem,
        merchant=(
            {"serial_no": merchant.serial_no, "public_key": merchant.public_pem}
            if merchant
            else None
        ),
    )


@bp.post("/merchant")
def set_merchant():
    """{"public_key": PEM key or certificate, "serial_no"?} -> the merchant key requests are checked
    with; {"generate": true} makes a key pair and answers its private half (demo convenience)."""
    body = request.get_json(silent=True) or {}
    private = None
    try:
        if body.get("generate"):
            key = v3crypto.generate_key()
            private = v3crypto.private_pem(key)
            serial = body.get("serial_no") or v3crypto.nonce(40).upper()
            public = v3crypto.public_pem(key.public_key())
            merchant = get_keys().set_merchant(public, serial)
        else:
            merchant = get_keys().set_merchant(body.get("public_key") or "", body.get("serial_no"))
    except v3crypto.V3CryptoError as e:
        return jsonify(error=str(e)), 400
    answer = {"serial_no": merchant.serial_no, "public_key": merchant.public_pem}
    if private:
        answer["private_key"] = private
    return jsonify(answer), 201


# -- orders ---------------------------------------------------------------------------------------
def public_order(order: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in order.items() if k != "params"} | order["params"]


@bp.get("/orders")
def orders():
    store = get_store()
    with store.lock:
        return jsonify(orders=[public_order(o) for o in store.v3_orders.values()])


@bp.get("/orders/<out_trade_no>")
def order(out_trade_no: str):
    store = get_store()
    with store.lock:
        found = store.v3_orders.get(out_trade_no)
        return jsonify(public_order(found)) if found else not_found("order")


def pay_order(store: Store, out_trade_no: str):
    """(status, payload): the user pays; the TRANSACTION.SUCCESS notify goes out at once."""
    with store.lock:
        found = store.v3_orders.get(out_trade_no)
        if found is None:
            return 404, {"error": "no such order"}
        if found["state"] != "NOTPAY":
            return 409, {"error": f"the order is {found['state']}, not NOTPAY"}
        mark_paid(store, found)
    result = payment_notify(store, found)
    with store.lock:
        return 200, {"order": public_order(found), "notify": result}


@bp.post("/orders/<out_trade_no>/pay")
def pay(out_trade_no: str):
    status, payload = pay_order(get_store(), out_trade_no)
    return jsonify(payload), status


@bp.post("/orders/<out_trade_no>/notify")
def renotify_order(out_trade_no: str):
    """Send the paid order's notify again, as WeChat may: the receiver must de-duplicate."""
    store = get_store()
    with store.lock:
        found = store.v3_orders.get(out_trade_no)
        if found is None or not found["transaction_id"]:
            return not_found("paid order")
    return jsonify(notify=payment_notify(store, found, retry=False))


# -- refunds --------------------------------------------------------------------------------------
@bp.get("/refunds")
def refunds():
    store = get_store()
    with store.lock:
        return jsonify(refunds=list(store.v3_refunds.values()))


@bp.post("/refunds/<out_refund_no>/notify")
def renotify_refund(out_refund_no: str):
    store = get_store()
    with store.lock:
        found = store.v3_refunds.get(out_refund_no)
    if found is None:
        return not_found("refund")
    result = refund_notify(store, found, retry=False)
    return (jsonify(notify=result), 200) if result else (jsonify(error="nothing to notify"), 409)


# -- transfer bills -------------------------------------------------------------------------------
def public_bill(bill: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in bill.items() if k != "params"} | bill["params"]


@bp.get("/bills")
def bills():
    store = get_store()
    with store.lock:
        return jsonify(bills=[public_bill(b) for b in store.v3_bills.values()])


@bp.get("/bills/<out_bill_no>")
def bill(out_bill_no: str):
    store = get_store()
    with store.lock:
        found = store.v3_bills.get(out_bill_no)
        return jsonify(public_bill(found)) if found else not_found("bill")


def act_on_bill(
    store: Store,
    found: dict[str, Any] | None,
    action: str,
    openid: str | None,
    fail_reason: str | None = None,
):
    """(status, payload) for confirm / decline by the user, expire (time), fail (WeChat)."""
    if found is None:
        return 404, {"error": "no such bill"}
    with store.lock:
        state, never = found["state"], found["never_confirm"]
        wanted = found["params"]["openid"]
    if state != "WAIT_USER_CONFIRM":
        return 409, {"error": f"the bill is {state}, not WAIT_USER_CONFIRM"}
    if openid and openid != wanted:
        return 403, {"error": "你的微信号与商家指定的收款微信号不一致"}
    if action == "confirm":
        if never:
            return 409, {"error": "this user never confirms (NEVER_CONFIRM fault)"}
        reason = found["fail_on_confirm"]
        result = finish(store, found, "FAIL" if reason else "SUCCESS", reason)
    elif action == "decline":
        result = finish(store, found, "FAIL", "OTHER_FAIL_REASON_TYPE")
    elif action == "fail":  # WeChat fails the accepted bill (risk control, a closed account)
        result = finish(store, found, "FAIL", fail_reason or "PAYEE_ACCOUNT_ABNORMAL")
    else:  # expire: not confirmed in time (24 h on WeChat)
        result = finish(store, found, "FAIL", "OVERDUE_CLOSE")
    with store.lock:
        return 200, {"bill": public_bill(found), "notify": result}


@bp.post("/bills/<out_bill_no>/<any(confirm, decline, expire, fail):action>")
def bill_action(out_bill_no: str, action: str):
    store = get_store()
    with store.lock:
        found = store.v3_bills.get(out_bill_no)
    body = request.get_json(silent=True) or {}
    status, payload = act_on_bill(store, found, action, body.get("openid"), body.get("fail_reason"))
    return jsonify(payload), status


@bp.post("/bills/<out_bill_no>/notify")
def renotify_bill(out_bill_no: str):
    store = get_store()
    with store.lock:
        found = store.v3_bills.get(out_bill_no)
    if found is None:
        return not_found("bill")
    result = bill_notify(store, found, retry=False)
    return (jsonify(notify=result), 200) if result else (jsonify(error="nothing to notify"), 409)


# -- notifies and faults --------------------------------------------------------------------------
@bp.get("/notifies")
def notifies():
    since = request.args.get("since", 0, type=int)
    store = get_store()
    with store.lock:
        return jsonify(notifies=[n for n in store.v3_notifies if n["seq"] > since])


@bp.post("/faults")
def add_fault():
    """{"kind", "api"?: "jsapi"|"refund"|"transfer", "out_trade_no"?, "out_refund_no"?,
    "out_bill_no"?, "openid"?, "times"?: 1, "applied"?: false, "seconds"?: 10, "fail_reason"?}."""
    body = request.get_json(silent=True) or {}
    if body.get("kind") not in FAULT_KINDS:
        return jsonify(error=f"kind must be one of {', '.join(FAULT_KINDS)}"), 400
    if body.get("api") not in (None, "any", "jsapi", "refund", "transfer"):
        return jsonify(error="api must be jsapi, refund or transfer"), 400
    fault = {
        "kind": body["kind"],
        "api": body.get("api"),
        **{k: body.get(k) for k in FAULT_MATCH_KEYS},
        "times": int(body.get("times", 1)),
        "applied": bool(body.get("applied", False)),
        "seconds": float(body.get("seconds", 10)),
        "fail_reason": body.get("fail_reason"),
    }
    store = get_store()
    with store.lock:
        store.v3_faults.append(fault)
    return jsonify(fault), 201


@bp.get("/faults")
def list_faults():
    store = get_store()
    with store.lock:
        return jsonify(faults=list(store.v3_faults))


@bp.delete("/faults")
def clear_faults():
    store = get_store()
    with store.lock:
        store.v3_faults.clear()
    return jsonify(faults=[])


# -- the pages ------------------------------------------------------------------------------------
def back_to(url: str, err_msg: str):
    if not url:
        return None
    return redirect(url + ("&" if "?" in url else "?") + urlencode({"err_msg": err_msg}))


def cashier_check(store: Store, args) -> tuple[dict[str, Any] | None, str | None]:
    """(the order, None) or (the order or None, why the sheet refuses)."""
    package = args.get("package", "")
    prepay_id = package.removeprefix("prepay_id=")
    with store.lock:
        found = next((o for o in store.v3_orders.values() if o["prepay_id"] == prepay_id), None)
    if not package.startswith("prepay_id=") or found is None:
        return None, "package 参数错误（prepay_id 不存在）"
    if args.get("appId") and args["appId"] != store.config["WECHAT_APPID"]:
        return found, "appId 与下单的 appid 不一致"
    if args.get("paySign"):
        merchant = get_keys().merchant
        fields = [args.get(k, "") for k in ("appId", "timeStamp", "nonceStr", "package")]
        message = v3crypto.pay_sign_message(*fields)
        if (
            args.get("signType") != "RSA"
            or merchant is None
            or not v3crypto.verify(merchant.public_key, message, args["paySign"])
        ):
            return found, "支付验证签名失败"
    return found, None


@bp.get("/cashier")
def cashier():
    store = get_store()
    found, error = cashier_check(store, request.args)
    with store.lock:
        shown = public_order(found) if found else None
    fields = {k: request.args.get(k, "") for k in ("appId", "timeStamp", "nonceStr", "package")}
    fields |= {k: request.args.get(k, "") for k in ("signType", "paySign", "redirect")}
    status = 200 if found and not error else (400 if found else 404)
    return render_template("cashier_v3.html", order=shown, error=error, fields=fields), status


@bp.post("/cashier")
def cashier_submit():
    store = get_store()
    found, error = cashier_check(store, request.form)
    if error or found is None:
        return render_template("cashier_v3.html", order=None, error=error, fields={}), 400
    back = request.form.get("redirect", "")
    if request.form.get("action") == "cancel":
        return back_to(back, "get_brand_wcpay_request:cancel") or jsonify(cancelled=True)
    status, payload = pay_order(store, found["out_trade_no"])
    if status == 200 and back:
        return back_to(back, "get_brand_wcpay_request:ok")
    return jsonify(payload), status


def transfer_check(store: Store, args) -> tuple[dict[str, Any] | None, str | None]:
    package = args.get("package", "")
    with store.lock:
        found = next((b for b in store.v3_bills.values() if b["package_info"] == package), None)
    if found is None:
        return None, "package 参数有误"
    cfg = store.config
    if args.get("mchId") and args["mchId"] != cfg["WECHAT_PAY_MCH_ID"]:
        return found, "mchId 与转账单的商户号不一致"
    if args.get("appId") and args["appId"] != found["params"]["appid"]:
        return found, "appId 与转账单的 appid 不一致"
    return found, None


@bp.get("/transfer")
def transfer_page():
    store = get_store()
    found, error = transfer_check(store, request.args)
    with store.lock:
        shown = public_bill(found) if found else None
    fields = {
        k: request.args.get(k, "") for k in ("mchId", "appId", "package", "openId", "redirect")
    }
    status = 200 if found and not error else (400 if found else 404)
    return render_template("transfer_v3.html", bill=shown, error=error, fields=fields), status


@bp.post("/transfer")
def transfer_submit():
    store = get_store()
    found, error = transfer_check(store, request.form)
    if error or found is None:
        return render_template("transfer_v3.html", bill=None, error=error, fields={}), 400
    action = "decline" if request.form.get("action") == "decline" else "confirm"
    status, payload = act_on_bill(store, found, action, request.form.get("openId") or None)
    back = request.form.get("redirect", "")
    if status == 200 and back:
        suffix = "ok" if action == "confirm" else "cancel"
        return back_to(back, f"requestMerchantTransfer:{suffix}")
    return jsonify(payload), status


JSBRIDGE = """// The simulator's stand-in for the WeChat client's JS-SDK (jweixin) and its bridge.
(function () {
  var base = (document.currentScript && document.currentScript.src || "").split("/sim/")[0];
  var state = "none", granted = [], failure = null, onReady = [], onError = [];
  function go(page, params) {
    var query = new URLSearchParams(params);
    query.set("redirect", window.location.href.split("#")[0]);
    window.location.href = base + "/sim/pay/v3/" + page + "?" + query.toString();
  }
  function verified(answer, apis) {
    if (answer && answer.errMsg === "config:ok") {
      state = "ready"; granted = apis || [];
      onReady.splice(0).forEach(function (callback) { callback(); });
    } else {
      state = "error"; failure = answer || {errMsg: "config:fail"};
      onError.splice(0).forEach(function (callback) { callback(failure); });
    }
  }
  var wx = window.wx = window.wx || {};
  // wx.config: the signature is checked by the simulator, as WeChat's client checks it.
  wx.config = function (options) {
    state = "pending";
    var request = new XMLHttpRequest();
    request.open("POST", base + "/sim/jssdk/config");
    request.setRequestHeader("Content-Type", "application/json");
    request.onload = function () {
      var answer = null;
      try { answer = JSON.parse(request.responseText); } catch (e) { answer = null; }
      verified(answer, options.jsApiList);
    };
    request.onerror = function () { verified({errMsg: "config:fail, network"}); };
    request.send(JSON.stringify({
      appId: options.appId, timestamp: String(options.timestamp), nonceStr: options.nonceStr,
      signature: options.signature, jsApiList: options.jsApiList || [],
      url: window.location.href.split("#")[0]
    }));
  };
  wx.ready = function (callback) {
    if (state === "ready") { callback(); } else { onReady.push(callback); }
  };
  wx.error = function (callback) {
    if (state === "error") { callback(failure); } else { onError.push(callback); }
  };
  wx.checkJsApi = function (options) {
    var result = {};
    (options.jsApiList || []).forEach(function (name) {
      result[name] = name === "requestMerchantTransfer" || name === "chooseWXPay";
    });
    if (options.success) { options.success({checkResult: result, errMsg: "checkJsApi:ok"}); }
  };
  window.WeixinJSBridge = window.WeixinJSBridge || {
    invoke: function (name, params, callback) {
      if (name === "getBrandWCPayRequest") { go("cashier", params); return; }
      if (name === "requestMerchantTransfer") {
        if (state !== "ready" || granted.indexOf(name) < 0) {
          if (callback) { callback({err_msg: name + ":fail permission denied"}); }
          return;
        }
        go("transfer", {mchId: params.mchId, appId: params.appId, package: params.package,
                        openId: params.openId || ""});
        return;
      }
      if (callback) { callback({err_msg: name + ":fail not supported"}); }
    }
  };
})();
"""


@bp.get("/jsbridge.js")
def jsbridge():
    """`wx.config` (checked by /sim/jssdk/config), `wx.ready`, `wx.error`, `wx.checkJsApi`, and
    `WeixinJSBridge.invoke` for "getBrandWCPayRequest" and "requestMerchantTransfer" (the latter
    only after a verified config that lists it, as WeChat's client refuses it otherwise): each
    opens the matching page, which comes back with `?err_msg=...` (the page leaves, so the
    callback is not called)."""
    return JSBRIDGE, 200, {"Content-Type": "application/javascript; charset=utf-8"}

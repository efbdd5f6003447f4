"""商家转账 (transfer bills, the user-confirmation mode) under /v3/fund-app/mch-transfer/.

A bill is created WAIT_USER_CONFIRM with a `package_info`; the user confirms it on the page that
plays `wx.requestMerchantTransfer` (paydriver_v3), which makes it SUCCESS and credits the wallet,
or declines (FAIL). The merchant may cancel it before then (CANCELING, then CANCELLED after
SIM_PAYV3_CANCEL_SECONDS). Every final state (SUCCESS, FAIL, CANCELLED) sends the
MCHTRANSFER.BILL.FINISHED notify when the bill has a notify_url.

Checked as WeChat does: the scene must be one the merchant has (1000 现金营销 with 活动名称 and
奖励说明, 1005 佣金报酬 with 岗位类型 and 报酬说明); the amount at least SIM_TRANSFER_MIN_FEN;
`user_name` required from 200,000 fen (¥2,000), and when given it must be RSA-OAEP-encrypted with
the platform key, the request naming that key in Wechatpay-Serial. out_bill_no is idempotent:
the same parameters answer the same bill, different ones INVALID_REQUEST.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from typing import Any

from flask import Blueprint, Flask, current_app, request

from . import v3crypto, v3notify
from .pay_v3 import (
    DIGITS,
    V3Error,
    check_notify_url,
    get_keys,
    param_error,
    positive_fen,
    require,
    rfc3339,
    v3_endpoint,
)
from .store import Store, get_store, random_id
from .v3faults import take_fault

bp = Blueprint("transfer_bills", __name__, url_prefix="/v3/fund-app/mch-transfer")

# transfer_scene_id -> (name, the info_types its transfer_scene_report_infos must carry)
SCENES = {
    "1000": ("现金营销", ("活动名称", "奖励说明")),
    "1005": ("佣金报酬", ("岗位类型", "报酬说明")),
}
NAME_REQUIRED_FROM = 200_000  # fen: ¥2,000
FINAL = ("SUCCESS", "FAIL", "CANCELLED")
OUT_BILL_NO = re.compile(r"^[0-9A-Za-z]{5,32}$")
BILL_KEYS = ("appid", "openid", "transfer_amount", "transfer_scene_id", "transfer_remark")


@bp.post("/transfer-bills")
@v3_endpoint(api="transfer")
def create(store: Store, body: dict[str, Any]):
    cfg = store.config
    require(body, "appid", "out_bill_no", "transfer_scene_id", "openid", "transfer_amount")
    require(body, "transfer_remark")
    amount = positive_fen(body["transfer_amount"], "transfer_amount")
    if body["appid"] != cfg["WECHAT_APPID"]:
        raise V3Error(400, "INVALID_REQUEST", "appid与商户号不匹配")
    if not OUT_BILL_NO.match(str(body["out_bill_no"])):
        raise param_error("out_bill_no 只能由数字、大小写字母组成，长度5-32")
    existing = store.v3_bills.get(body["out_bill_no"])
    if existing is not None:
        if {k: body.get(k) for k in BILL_KEYS} != existing["params"]:
            raise V3Error(400, "INVALID_REQUEST", "商户单号重复，且与原单参数不一致")
        return 200, create_answer(existing)
    check_scene(body)
    if len(str(body["transfer_remark"])) > 32:
        raise param_error("transfer_remark 最多32个字符")
    if body.get("notify_url"):
        check_notify_url(body["notify_url"])
    if amount < cfg["SIM_TRANSFER_MIN_FEN"]:
        raise V3Error(400, "INVALID_REQUEST", "转账金额超过单笔转账上下限")
    user_name = decrypted_user_name(body)
    if amount >= NAME_REQUIRED_FROM and not user_name:
        raise param_error("转账金额>=2,000元时，收款用户姓名user_name必填")
    if store.user(body["openid"]) is None:
        raise V3Error(400, "INVALID_REQUEST", "收款用户OpenID与AppID不匹配（OPENID_INVALID）")
    bill = new_bill(store, body, amount, user_name)
    return 200, create_answer(bill)


def check_scene(body: dict[str, Any]) -> None:
    scene = SCENES.get(str(body["transfer_scene_id"]))
    if scene is None:
        raise V3Error(403, "NO_AUTH", "商户未开通该转账场景或场景ID不正确")
    infos = body.get("transfer_scene_report_infos") or []
    given = {
        i.get("info_type"): i.get("info_content")
        for i in infos
        if isinstance(i, dict) and i.get("info_content")
    }
    if any(not given.get(kind) for kind in scene[1]):
        raise param_error("未传入完整且对应的转账场景报备信息，请根据接口文档检查")


def decrypted_user_name(body: dict[str, Any]) -> str | None:
    if not body.get("user_name"):
        return None
    keys = get_keys()
    serial = request.headers.get("Wechatpay-Serial", "")
    if not keys.known_platform_serial(serial):
        raise param_error("Wechatpay-Serial 须为加密敏感信息所用的微信支付公钥ID或平台证书序列号")
    try:
        return v3crypto.oaep_decrypt(keys.platform_key, str(body["user_name"]))
    except v3crypto.V3CryptoError as e:
        raise param_error("user_name 解密失败，请使用微信支付公钥加密") from e


def new_bill(store: Store, body: dict[str, Any], amount: int, user_name: str | None):
    now = rfc3339(store)
    bill = {
        "out_bill_no": body["out_bill_no"],
        "transfer_bill_no": "1330" + store.china_now().strftime("%Y%m%d") + random_id(26, DIGITS),
        "params": {k: body.get(k) for k in BILL_KEYS},
        "transfer_amount": amount,
        "user_name": user_name,
        "user_recv_perception": body.get("user_recv_perception"),
        "report_infos": body.get("transfer_scene_report_infos") or [],
        "notify_url": body.get("notify_url"),
        "package_info": base64.b64encode(secrets.token_bytes(96)).decode(),
        "state": "WAIT_USER_CONFIRM",
        "fail_reason": None,
        "create_time": now,
        "update_time": now,
        "fail_on_confirm": None,
        "never_confirm": False,
    }
    fields = {"out_bill_no": bill["out_bill_no"], "openid": body["openid"]}
    fault = take_fault(store, ("BILL_FAIL", "NEVER_CONFIRM"), "transfer", fields)
    if fault and fault["kind"] == "BILL_FAIL":
        bill["fail_on_confirm"] = fault.get("fail_reason") or "PAYEE_ACCOUNT_ABNORMAL"
    elif fault:
        bill["never_confirm"] = True
    store.v3_bills[bill["out_bill_no"]] = bill
    return bill


def create_answer(bill: dict[str, Any]) -> dict[str, Any]:
    answer = {
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "create_time": bill["create_time"],
        "state": bill["state"],
    }
    if bill["state"] == "WAIT_USER_CONFIRM":
        answer["package_info"] = bill["package_info"]
    if bill["fail_reason"]:
        answer["fail_reason"] = bill["fail_reason"]
    return answer


def bill_view(store: Store, bill: dict[str, Any]) -> dict[str, Any]:
    view = {
        "mch_id": store.config["WECHAT_PAY_MCH_ID"],
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "appid": bill["params"]["appid"],
        "state": bill["state"],
        "transfer_amount": bill["transfer_amount"],
        "transfer_remark": bill["params"]["transfer_remark"],
        "openid": bill["params"]["openid"],
        "create_time": bill["create_time"],
        "update_time": bill["update_time"],
    }
    if bill["fail_reason"]:
        view["fail_reason"] = bill["fail_reason"]
    return view


@bp.get("/transfer-bills/out-bill-no/<out_bill_no>")
@v3_endpoint()
def query(store: Store, body: dict[str, Any], out_bill_no: str):
    bill = store.v3_bills.get(out_bill_no)
    if bill is None:
        raise V3Error(404, "NOT_FOUND", "记录不存在")
    return 200, bill_view(store, bill)


@bp.get("/transfer-bills/transfer-bill-no/<transfer_bill_no>")
@v3_endpoint()
def query_by_transfer_bill_no(store: Store, body: dict[str, Any], transfer_bill_no: str):
    found = [b for b in store.v3_bills.values() if b["transfer_bill_no"] == transfer_bill_no]
    if not found:
        raise V3Error(404, "NOT_FOUND", "记录不存在")
    return 200, bill_view(store, found[0])


@bp.post("/transfer-bills/out-bill-no/<out_bill_no>/cancel")
@v3_endpoint()
def cancel(store: Store, body: dict[str, Any], out_bill_no: str):
    bill = store.v3_bills.get(out_bill_no)
    if bill is None:
        raise V3Error(404, "NOT_FOUND", "记录不存在")
    if bill["state"] in ("SUCCESS", "FAIL"):
        raise V3Error(400, "INVALID_REQUEST", f"转账单已是终态（{bill['state']}），不可撤销")
    if bill["state"] not in ("CANCELING", "CANCELLED"):
        bill["state"], bill["update_time"] = "CANCELING", rfc3339(store)
        app = current_app._get_current_object()
        threading.Thread(target=finish_cancel, args=(app, bill), daemon=True).start()
    return 200, {
        "out_bill_no": bill["out_bill_no"],
        "transfer_bill_no": bill["transfer_bill_no"],
        "state": bill["state"],
        "update_time": bill["update_time"],
    }


def finish_cancel(app: Flask, bill: dict[str, Any]) -> None:
    store = get_store(app)
    time.sleep(store.config["SIM_PAYV3_CANCEL_SECONDS"])
    with app.app_context():
        finish(store, bill, "CANCELLED", "MCH_CANCEL", expect=("CANCELING",))


def finish(
    store: Store,
    bill: dict[str, Any],
    state: str,
    fail_reason: str | None = None,
    expect: tuple[str, ...] = ("WAIT_USER_CONFIRM",),
) -> dict[str, Any] | None:
    """Move the bill to a final state (crediting the wallet on SUCCESS) and notify.

    Needs an app context (the keys). Answers the first notify's result, None when there is no
    notify_url or the bill was not in an `expect`ed state (then nothing changes).
    """
    with store.lock:
        if store.v3_bills.get(bill["out_bill_no"]) is not bill or bill["state"] not in expect:
            return None
        bill["state"], bill["fail_reason"] = state, fail_reason
        bill["update_time"] = rfc3339(store)
        openid, amount = bill["params"]["openid"], bill["transfer_amount"]
        if state == "SUCCESS" and store.user(openid) is not None:
            remark = bill["params"]["transfer_remark"]
            store.record(
                openid,
                "wallet",
                msgtype="transfer",
                amount=amount,
                content=f"微信支付：你已收款 ¥{amount / 100:.2f}（{remark}）",
            )
    return bill_notify(store, bill)


def bill_notify(store: Store, bill: dict[str, Any], retry: bool = True) -> dict[str, Any] | None:
    with store.lock:
        if not bill["notify_url"] or bill["state"] not in FINAL:
            return None
        resource = {
            "mchid": store.config["WECHAT_PAY_MCH_ID"],
            "out_bill_no": bill["out_bill_no"],
            "transfer_bill_no": bill["transfer_bill_no"],
            "state": bill["state"],
            "transfer_amount": bill["transfer_amount"],
            "openid": bill["params"]["openid"],
            "create_time": bill["create_time"],
            "update_time": bill["update_time"],
        }
        if bill["fail_reason"]:
            resource["fail_reason"] = bill["fail_reason"]
    return v3notify.send(
        store,
        get_keys(),
        url=bill["notify_url"],
        event_type="MCHTRANSFER.BILL.FINISHED",
        summary="商家转账单据终态通知",
        original_type="mch_payment",
        resource=resource,
        subject={"out_bill_no": bill["out_bill_no"], "openid": bill["params"]["openid"]},
        alive=lambda: store.v3_bills.get(bill["out_bill_no"]) is bill,
        retry=retry,
    )

"""The JS-SDK's permission check: the jsapi_ticket (GET /cgi-bin/ticket/getticket) and what the
WeChat client does with a page's `wx.config` (「JS-SDK 使用权限签名算法」, 公众号 > 网页开发 >
JS-SDK 说明文档, 附录 1).

- `GET /cgi-bin/ticket/getticket?access_token=...&type=jsapi` answers
  `{errcode: 0, errmsg: "ok", ticket, expires_in: 7200}`. Each call issues a new ticket; earlier
  ones stay valid until they expire (WeChat asks servers to cache it, and limits the calls).
- `POST /sim/jssdk/config` is the client's side, called by the simulator's bridge script
  (`/sim/pay/v3/jsbridge.js`) from the merchant's page: the JSON `{appId, timestamp, nonceStr,
  signature, url, jsApiList}` is checked as WeChat checks it: the appId is the account's, the
  signature is the SHA-1 of `jsapi_ticket=..&noncestr=..&timestamp=..&url=..` (the page's URL
  without its `#` part) under a live ticket. Answers `{errMsg: "config:ok"}` or
  `{errMsg: "config:invalid signature"}` (and the other errors WeChat gives); the page is on
  the merchant's origin, and /sim/ answers carry CORS headers (inspection).
  `GET /sim/jssdk/configs` lists every config a page made, with its answer.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Blueprint, jsonify, request

from .store import get_store, random_id
from .tokens import ApiError, ok, requires_token

bp = Blueprint("jssdk", __name__)

TICKET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@bp.get("/cgi-bin/ticket/getticket")
@requires_token
def getticket():
    if request.args.get("type") != "jsapi":
        raise ApiError(40097, "invalid args")  # the card ticket (wx_card) is not played
    store = get_store()
    ttl = store.config["SIM_TOKEN_TTL"]
    with store.lock:
        ticket = random_id(86, TICKET_ALPHABET)
        store.jsapi_tickets[ticket] = store.now() + ttl
        store.count("jsapi_ticket:total")
    return ok(ticket=ticket, expires_in=ttl)


def signature(ticket: str, noncestr: str, timestamp: str, url: str) -> str:
    """The JS-SDK signature: the four fields sorted by name, joined as a query string, SHA-1."""
    plain = f"jsapi_ticket={ticket}&noncestr={noncestr}&timestamp={timestamp}&url={url}"
    return hashlib.sha1(plain.encode()).hexdigest()


def check_config(body: dict[str, Any]) -> str:
    """The errMsg WeChat's client gives a page's wx.config."""
    store = get_store()
    fields = {k: str(body.get(k) or "") for k in ("appId", "timestamp", "nonceStr", "signature")}
    url = str(body.get("url") or "").split("#")[0]
    if not all(fields.values()) or not url:
        return "config:fail, missing parameters"
    if fields["appId"] != store.config["WECHAT_APPID"]:
        return "config:invalid appId"
    if not fields["timestamp"].isdigit():
        return "config:invalid signature"
    with store.lock:
        now = store.now()
        live = [t for t, expires_at in store.jsapi_tickets.items() if expires_at > now]
    given = fields["signature"].lower()
    for ticket in live:
        if signature(ticket, fields["nonceStr"], fields["timestamp"], url) == given:
            return "config:ok"
    return "config:invalid signature"


@bp.route("/sim/jssdk/config", methods=["POST", "OPTIONS"])
def config():
    if request.method == "OPTIONS":
        return "", 204  # the CORS preflight; its headers are the driver API's (inspection)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(errMsg="config:fail, bad request"), 400
    answer = check_config(body)
    store = get_store()
    with store.lock:
        store.jssdk_configs.append({"url": str(body.get("url") or ""), "errMsg": answer})
    return jsonify(errMsg=answer)


@bp.get("/sim/jssdk/configs")
def configs():
    """Every wx.config a page made, with the answer it got (for tests and the curious)."""
    store = get_store()
    with store.lock:
        return jsonify(configs=list(store.jssdk_configs))

"""The access token (GET /cgi-bin/token) and the helpers every API view shares.

WeChat answers errors with HTTP 200 and JSON {"errcode", "errmsg"}; the errmsg carries a
" rid: ..." suffix that clients must not parse, so the simulator adds one too.
"""

from __future__ import annotations

import json
from functools import wraps
from typing import Any

from flask import Blueprint, jsonify, request

from .store import Store, Token, get_store, random_id

bp = Blueprint("tokens", __name__)


class ApiError(Exception):
    def __init__(self, errcode: int, errmsg: str):
        super().__init__(errcode, errmsg)
        self.errcode, self.errmsg = errcode, errmsg


@bp.app_errorhandler(ApiError)
def api_error(e: ApiError):
    return jsonify(errcode=e.errcode, errmsg=f"{e.errmsg} rid: {random_id(8, '0123456789abcdef')}")


def ok(**fields: Any):
    return jsonify(errcode=0, errmsg="ok", **fields)


def json_body() -> dict[str, Any]:
    """The request's JSON, whatever its Content-Type (wechatpy sends none); 47001 if unreadable."""
    try:
        data = json.loads(request.get_data(as_text=True) or "null")
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(47001, "data format error")
    return data


@bp.get("/cgi-bin/token")
def token():
    store, args = get_store(), request.args
    cfg = store.config
    if args.get("grant_type") != "client_credential":
        raise ApiError(40002, "invalid grant_type")
    if args.get("appid") != cfg["WECHAT_APPID"]:
        raise ApiError(40013, "invalid appid")
    if args.get("secret") != cfg["WECHAT_APPSECRET"]:
        raise ApiError(40125, "invalid appsecret")
    return jsonify(access_token=issue_token(store), expires_in=cfg["SIM_TOKEN_TTL"])


def issue_token(store: Store) -> str:
    """A new token; the previous one keeps working for SIM_TOKEN_GRACE seconds, as on WeChat."""
    with store.lock:
        day_key = "token:" + store.china_now().strftime("%Y-%m-%d")
        if store.counters.get(day_key, 0) >= store.config["SIM_TOKEN_DAILY_LIMIT"]:
            raise ApiError(45009, "reach max api daily quota limit")
        store.count(day_key)
        store.count("token:total")
        now = store.now()
        if store.current_token:
            store.tokens[store.current_token].replaced_at = now
        value = random_id(136, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
        store.tokens[value] = Token(value, now, now + store.config["SIM_TOKEN_TTL"])
        store.current_token = value
        return value


def check_token(store: Store, value: str | None) -> None:
    """Raise the error WeChat gives for a missing, unknown, expired or replaced token."""
    with store.lock:
        token = store.tokens.get(value or "")
        now = store.now()
        if token is None:
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
        if now >= token.expires_at:
            raise ApiError(42001, "access_token expired")
        grace = store.config["SIM_TOKEN_GRACE"]
        if token.replaced_at is not None and now > token.replaced_at + grace:
            raise ApiError(40001, "invalid credential, access_token is invalid or not latest")


def requires_token(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        store = get_store()
        check_token(store, request.args.get("access_token"))
        store.count("api:calls")
        return view(*args, **kwargs)

    return wrapper

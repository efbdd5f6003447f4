"""Web OAuth (网页授权): the authorize page where a person picks who they are, and code -> openid.

A code is good for one exchange within 5 minutes, as on WeChat (40029 when unknown or expired,
40163 when already used).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Blueprint, jsonify, redirect, render_template, request

from .store import Store, get_store, random_id
from .tokens import ApiError

bp = Blueprint("oauth", __name__)

CODE_TTL = 300
SCOPES = ("snsapi_base", "snsapi_userinfo")


@bp.get("/connect/oauth2/authorize")
def authorize():
    store, args = get_store(), request.args
    problem = authorize_problem(store, args)
    if problem:
        return render_template("authorize.html", error=problem, users=[]), 400
    if args.get("sim_new") is not None:  # the page's "I am someone new" form
        user = store.add_user(nickname=args["sim_new"].strip() or None)
        return redirect_with_code(store, user.openid)
    openid = args.get("sim_openid")
    if openid:
        if store.user(openid) is None:
            return render_template("authorize.html", error=f"没有用户 {openid}", users=[]), 404
        return redirect_with_code(store, openid)
    with store.lock:
        users = list(store.users.values())
    return render_template("authorize.html", error=None, users=users, query=args.to_dict())


def authorize_problem(store: Store, args) -> str | None:
    if args.get("appid") != store.config["WECHAT_APPID"]:
        return "appid 参数错误"
    if not urlsplit(args.get("redirect_uri", "")).scheme.startswith("http"):
        return "redirect_uri 参数错误"
    if args.get("response_type") != "code" or args.get("scope") not in SCOPES:
        return "scope 或 response_type 参数错误"
    return None


def redirect_with_code(store: Store, openid: str):
    args = request.args
    with store.lock:
        code = random_id(32)
        store.oauth_codes[code] = {
            "openid": openid,
            "scope": args["scope"],
            "created_at": store.now(),
            "used": False,
        }
    return redirect(add_query(args["redirect_uri"], code=code, state=args.get("state", "")))


def add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [*parse_qsl(parts.query, keep_blank_values=True), *params.items()]
    return urlunsplit(parts._replace(query=urlencode(query)))


@bp.get("/sns/oauth2/access_token")
def access_token():
    store, args = get_store(), request.args
    cfg = store.config
    if args.get("appid") != cfg["WECHAT_APPID"]:
        raise ApiError(40013, "invalid appid")
    if args.get("secret") != cfg["WECHAT_APPSECRET"]:
        raise ApiError(40125, "invalid appsecret")
    if args.get("grant_type") != "authorization_code":
        raise ApiError(40002, "invalid grant_type")
    grant = redeem(store, args.get("code", ""))
    with store.lock:
        token = random_id(88)
        store.sns_tokens[token] = {**grant, "expires_at": store.now() + 7200}
    return jsonify(
        access_token=token,
        expires_in=7200,
        refresh_token=random_id(88),
        openid=grant["openid"],
        scope=grant["scope"],
    )


def redeem(store: Store, code: str) -> dict[str, Any]:
    with store.lock:
        grant = store.oauth_codes.get(code)
        if grant is None or store.now() > grant["created_at"] + CODE_TTL:
            raise ApiError(40029, "invalid code")
        if grant["used"]:
            raise ApiError(40163, "code been used")
        grant["used"] = True
        return {"openid": grant["openid"], "scope": grant["scope"]}


@bp.get("/sns/userinfo")
def sns_userinfo():
    store = get_store()
    with store.lock:
        grant = live_sns_token(store, request.args.get("access_token", ""))
        if grant["scope"] != "snsapi_userinfo":
            raise ApiError(48001, "api unauthorized")
        user = store.user(grant["openid"])
        # Web OAuth shows the profile even to non-followers who agreed to snsapi_userinfo.
        return jsonify(
            openid=user.openid,
            nickname=user.nickname,
            sex=0,
            province="",
            city="",
            country="",
            headimgurl=f"{request.host_url.rstrip('/')}/sim/avatars/{user.openid}.png",
            privilege=[],
            unionid=user.unionid,
        )


@bp.get("/sns/auth")
def sns_auth():
    store = get_store()
    with store.lock:
        grant = live_sns_token(store, request.args.get("access_token", ""))
        if grant["openid"] != request.args.get("openid"):
            raise ApiError(40003, "invalid openid")
    return jsonify(errcode=0, errmsg="ok")


def live_sns_token(store: Store, token: str) -> dict[str, Any]:
    grant = store.sns_tokens.get(token)
    if grant is None:
        raise ApiError(40001, "invalid credential, access_token is invalid or not latest")
    if store.now() >= grant["expires_at"]:
        raise ApiError(42001, "access_token expired")
    return grant

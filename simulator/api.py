"""WeChat API endpoints: parametric QR codes, the custom menu, and user information."""

from __future__ import annotations

import string
from typing import Any

from flask import Blueprint, Response, abort, request

from .images import qr_png
from .store import QrCode, Store, User, get_store, random_id
from .tokens import ApiError, json_body, ok, requires_token

bp = Blueprint("api", __name__)

MAX_TEMP_EXPIRE = 2_592_000  # 30 days
DEFAULT_TEMP_EXPIRE = 60  # WeChat's default when expire_seconds is left out
SCENE_ID_MAX = {"QR_SCENE": 2**32 - 1, "QR_LIMIT_SCENE": 100_000}
ALNUM = string.ascii_letters + string.digits


# -- parametric QR codes ------------------------------------------------------------------------
@bp.post("/cgi-bin/qrcode/create")
@requires_token
def qrcode_create():
    store, body = get_store(), json_body()
    action = body.get("action_name")
    scene = scene_value(action, ((body.get("action_info") or {}).get("scene")) or {})
    permanent = action.startswith("QR_LIMIT")
    expire = None if permanent else expire_seconds(body.get("expire_seconds"))
    qr = create_qrcode(store, action, scene, expire)
    fields: dict[str, Any] = {"ticket": qr.ticket, "url": qr.url}
    if not permanent:
        fields["expire_seconds"] = expire
    return fields  # success answers carry no errcode


def scene_value(action: Any, scene: dict[str, Any]) -> str:
    if action in ("QR_STR_SCENE", "QR_LIMIT_STR_SCENE"):
        value = scene.get("scene_str")
        if not isinstance(value, str) or not 1 <= len(value) <= 64:
            raise ApiError(40097, "invalid args: scene_str must be 1-64 characters")
        return value
    if action in SCENE_ID_MAX:
        value = scene.get("scene_id")
        if not isinstance(value, int) or not 1 <= value <= SCENE_ID_MAX[action]:
            raise ApiError(40097, f"invalid args: scene_id must be 1-{SCENE_ID_MAX[action]}")
        return str(value)
    raise ApiError(40097, f"invalid args: unknown action_name {action!r}")


def expire_seconds(value: Any) -> int:
    if value is None:
        return DEFAULT_TEMP_EXPIRE
    if not isinstance(value, int) or not 1 <= value <= MAX_TEMP_EXPIRE:
        raise ApiError(40097, f"invalid args: expire_seconds must be 1-{MAX_TEMP_EXPIRE}")
    return value


def create_qrcode(store: Store, action: str, scene: str, expire: int | None) -> QrCode:
    with store.lock:
        if expire is None:
            permanent = sum(1 for q in store.qrcodes.values() if q.permanent)
            if permanent >= store.config["SIM_QR_PERMANENT_LIMIT"]:
                raise ApiError(45029, "qrcode count out of limit")
        now = store.now()
        qr = QrCode(
            ticket="gQ" + random_id(94, ALNUM) + "==",
            url="http://weixin.qq.com/q/" + random_id(22, ALNUM),
            scene=scene,
            action_name=action,
            created_at=now,
            expires_at=None if expire is None else now + expire,
        )
        store.qrcodes[qr.ticket] = qr
        store.qr_by_url[qr.url] = qr
        return qr


def live_qrcode(store: Store, qr: QrCode | None) -> QrCode | None:
    with store.lock:
        if qr is not None and (qr.permanent or store.now() < qr.expires_at):
            return qr
        return None


@bp.get("/cgi-bin/showqrcode")
def showqrcode():
    """No access token: the ticket is the secret (wechatpy calls this on mp.weixin.qq.com)."""
    store = get_store()
    qr = live_qrcode(store, store.qrcodes.get(request.args.get("ticket", "")))
    if qr is None:
        abort(404)
    return Response(qr_png(qr.url), mimetype="image/png")


# -- the custom menu ----------------------------------------------------------------------------
@bp.post("/cgi-bin/menu/create")
@requires_token
def menu_create():
    store, body = get_store(), json_body()
    check_menu(body.get("button"))
    with store.lock:
        store.menu = {"button": body["button"]}
    return ok()


def check_menu(buttons: Any) -> None:
    if not isinstance(buttons, list) or not 1 <= len(buttons) <= 3:
        raise ApiError(40016, "invalid button size")
    for button in buttons:
        if not isinstance(button, dict) or not 1 <= _bytes(button.get("name")) <= 16:
            raise ApiError(40018, "invalid button name size")
        subs = button.get("sub_button") or []
        if not subs:
            check_leaf(button)
            continue
        if not isinstance(subs, list) or len(subs) > 5:
            raise ApiError(40023, "invalid sub button size")
        for sub in subs:
            if not isinstance(sub, dict) or not 1 <= _bytes(sub.get("name")) <= 60:
                raise ApiError(40025, "invalid sub button name size")
            check_leaf(sub)


LEAF_TYPES = {
    "click",
    "view",
    "scancode_push",
    "scancode_waitmsg",
    "pic_sysphoto",
    "pic_photo_or_album",
    "pic_weixin",
    "location_select",
    "media_id",
    "view_limited",
    "article_id",
    "article_view_limited",
    "miniprogram",
}


KEYED_TYPES = ("click", "scancode_push", "scancode_waitmsg", "location_select")


def check_leaf(button: dict[str, Any]) -> None:
    kind = button.get("type")
    if kind not in LEAF_TYPES:
        raise ApiError(40017, "invalid button type")
    keyed = kind in KEYED_TYPES or kind.startswith("pic_")
    if keyed and not 1 <= _bytes(button.get("key")) <= 128:
        raise ApiError(40019, "invalid button key size")
    if kind in ("view", "miniprogram") and not 1 <= _bytes(button.get("url")) <= 1024:
        raise ApiError(40020, "invalid button url size")


def _bytes(value: Any) -> int:
    return len(value.encode()) if isinstance(value, str) else 0


@bp.get("/cgi-bin/menu/get")
@requires_token
def menu_get():
    store = get_store()
    with store.lock:
        if store.menu is None:
            raise ApiError(46003, "menu no exist")
        return {"menu": store.menu}


@bp.get("/cgi-bin/menu/delete")
@requires_token
def menu_delete():
    store = get_store()
    with store.lock:
        store.menu = None
    return ok()


# -- users --------------------------------------------------------------------------------------
def user_info(user: User, base_url: str) -> dict[str, Any]:
    """What user/info answers: only subscribe, openid (and unionid) for a non-follower."""
    if not user.subscribed:
        return {"subscribe": 0, "openid": user.openid, "unionid": user.unionid}
    return {
        "subscribe": 1,
        "openid": user.openid,
        "nickname": user.nickname,
        "sex": 0,
        "language": user.language,
        "city": "",
        "province": "",
        "country": "",
        "headimgurl": f"{base_url.rstrip('/')}/sim/avatars/{user.openid}.png",
        "subscribe_time": user.subscribe_time,
        "unionid": user.unionid,
        "remark": "",
        "groupid": 0,
        "tagid_list": [],
        "subscribe_scene": user.subscribe_scene,
        "qr_scene": int(user.qr_scene_str) if user.qr_scene_str.isdigit() else 0,
        "qr_scene_str": user.qr_scene_str,
    }


def known_user(store: Store, openid: Any) -> User:
    user = store.user(openid) if isinstance(openid, str) else None
    if user is None:
        raise ApiError(40003, "invalid openid")
    return user


@bp.get("/cgi-bin/user/info")
@requires_token
def user_info_view():
    store = get_store()
    with store.lock:
        return user_info(known_user(store, request.args.get("openid")), request.host_url)


@bp.post("/cgi-bin/user/info/batchget")
@requires_token
def user_info_batch():
    store, body = get_store(), json_body()
    wanted = body.get("user_list")
    if not isinstance(wanted, list) or not 1 <= len(wanted) <= 100:
        raise ApiError(40097, "invalid args: user_list must hold 1-100 users")
    with store.lock:
        users = [known_user(store, (item or {}).get("openid")) for item in wanted]
        return {"user_info_list": [user_info(u, request.host_url) for u in users]}


@bp.get("/cgi-bin/user/get")
@requires_token
def user_list():
    """Followers, 10000 a page, continuing after next_openid."""
    store, after = get_store(), request.args.get("next_openid", "")
    with store.lock:
        followers = [u.openid for u in store.users.values() if u.subscribed]
    start = followers.index(after) + 1 if after in followers else 0
    page = followers[start : start + 10000]
    next_openid = page[-1] if page and start + len(page) < len(followers) else ""
    return {
        "total": len(followers),
        "count": len(page),
        "data": {"openid": page},
        "next_openid": next_openid,
    }

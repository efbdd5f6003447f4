"""The driver API under /sim/users: act as a WeChat user, and read what the user received.

Every action answers {"sent": <the user's own entry>, "delivery": {...}, "reply": <entry>|null},
where delivery.status is reply | no_reply | error | timeout | unreachable.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from . import inbound
from .api import live_qrcode, user_info
from .images import decode_qr, sniff
from .media import save_media
from .store import Store, User, get_store

bp = Blueprint("driver", __name__, url_prefix="/sim/users")

TO_USER_KINDS = ("reply", "custom", "template", "mass", "system")  # what the account sent
DEFAULT_MENU_KEYS = ("JOIN", "POSTER", "EARNINGS", "WITHDRAW", "TEAM", "MATERIAL", "HELP")


class DriverError(Exception):
    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


@bp.errorhandler(DriverError)
def driver_error(e: DriverError):
    return jsonify(error=e.message, **e.extra), e.status


def body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def the_user(openid: str, following: bool | None = None) -> tuple[Store, User]:
    store = get_store()
    user = store.user(openid)
    if user is None:
        raise DriverError(404, f"no user {openid}")
    if following is True and not user.subscribed:
        raise DriverError(409, "the user does not follow the account")
    if following is False and user.subscribed:
        raise DriverError(409, "the user already follows the account")
    return store, user


def public_user(store: Store, user: User) -> dict[str, Any]:
    with store.lock:
        return {
            "openid": user.openid,
            "nickname": user.nickname,
            "language": user.language,
            "unionid": user.unionid,
            "subscribed": user.subscribed,
            "subscribe_time": user.subscribe_time,
            "avatar": f"/sim/avatars/{user.openid}.png",
            "last_interaction": user.last_interaction,
            "last_interaction_kind": user.last_interaction_kind,
            "info": user_info(user, request.host_url),
        }


# -- users --------------------------------------------------------------------------------------
@bp.post("")
def create_user():
    data, store = body(), get_store()
    language = data.get("language", "zh_CN")
    if language not in ("zh_CN", "zh_TW", "en"):
        raise DriverError(400, "language must be zh_CN, zh_TW or en")
    with store.lock:
        if data.get("openid") and store.user(data["openid"]):
            raise DriverError(409, f"user {data['openid']} already exists")
        user = store.add_user(
            data.get("openid"), data.get("nickname"), language, bool(data.get("subscribed", False))
        )
    return jsonify(public_user(store, user)), 201


@bp.get("")
def list_users():
    store = get_store()
    with store.lock:
        return jsonify(users=[public_user(store, u) for u in store.users.values()])


@bp.get("/<openid>")
def get_user(openid: str):
    store, user = the_user(openid)
    return jsonify(public_user(store, user))


@bp.get("/<openid>/messages")
def messages(openid: str):
    """What the account sent the user (replies, custom, template, mass, service-down notices)."""
    return jsonify(messages=entries(openid, TO_USER_KINDS))


@bp.get("/<openid>/conversation")
def conversation(openid: str):
    """Both sides, as the chat page shows them (plus WeChat Pay's wallet notices)."""
    return jsonify(entries=entries(openid, None))


def entries(openid: str, kinds: tuple[str, ...] | None) -> list[dict[str, Any]]:
    store, user = the_user(openid)
    since = request.args.get("since", type=int) or 0
    with store.lock:
        return [
            dict(e)
            for e in user.conversation
            if e["id"] > since and (kinds is None or e["kind"] in kinds)
        ]


# -- messages -----------------------------------------------------------------------------------
@bp.post("/<openid>/text")
def text(openid: str):
    store, user = the_user(openid, following=True)
    content = str(body().get("content", ""))
    if not content:
        raise DriverError(400, "content is required")
    return jsonify(
        inbound.send_message(store, user, "text", [("Content", content)], {"content": content})
    )


@bp.post("/<openid>/image")
def image(openid: str):
    """The user sends a picture: multipart `image`, or {"media_id"} of a stored picture."""
    store, user = the_user(openid, following=True)
    media = picture(store)
    pic_url = f"{request.host_url.rstrip('/')}/sim/media/{media.media_id}"
    fields = [("PicUrl", pic_url), ("MediaId", media.media_id)]
    return jsonify(
        inbound.send_message(
            store, user, "image", fields, {"media_id": media.media_id, "content": "[图片]"}
        )
    )


@bp.post("/<openid>/voice")
def voice(openid: str):
    store, user = the_user(openid, following=True)
    media = save_media(store, "voice", "audio/amr", b"#!AMR\n" + bytes(64))
    fields = [("MediaId", media.media_id), ("Format", "amr")]
    recognition = body().get("recognition")
    if recognition is not None:
        fields.append(("Recognition", str(recognition)))
    return jsonify(inbound.send_message(store, user, "voice", fields, {"content": "[语音]"}))


@bp.post("/<openid>/location")
def location(openid: str):
    store, user = the_user(openid, following=True)
    data = body()
    fields = [
        ("Location_X", str(data.get("latitude", 23.134521))),
        ("Location_Y", str(data.get("longitude", 113.358803))),
        ("Scale", int(data.get("scale", 20))),
        ("Label", str(data.get("label", "广州市天河区"))),
    ]
    return jsonify(
        inbound.send_message(store, user, "location", fields, {"content": f"[位置] {fields[3][1]}"})
    )


def picture(store: Store):
    upload = request.files.get("image") or request.files.get("media")
    if upload is not None:
        data = upload.read()
        kind = sniff(data)
        if kind not in ("jpeg", "png"):
            raise DriverError(400, "the picture must be JPEG or PNG")
        return save_media(store, "image", f"image/{kind}", data)
    media = store.media.get(str(body().get("media_id", "")))
    if media is None:
        raise DriverError(400, 'send multipart `image`, or {"media_id"} of a stored picture')
    return media


# -- events -------------------------------------------------------------------------------------
@bp.post("/<openid>/follow")
def follow(openid: str):
    store, user = the_user(openid, following=False)
    scene = body().get("scene")
    return jsonify(inbound.follow(store, user, str(scene) if scene else None))


@bp.post("/<openid>/unfollow")
def unfollow(openid: str):
    store, user = the_user(openid, following=True)
    return jsonify(inbound.unfollow(store, user))


@bp.post("/<openid>/click")
def click(openid: str):
    store, user = the_user(openid, following=True)
    key = str(body().get("key", ""))
    if key not in menu_keys(store):
        raise DriverError(400, f"the menu has no click button with key {key!r}")
    return jsonify(
        inbound.send_event(store, user, "CLICK", [("EventKey", key)], {"event_key": key})
    )


@bp.post("/<openid>/view")
def view(openid: str):
    """A tap on a menu link: VIEW with the URL (the page opens; no reply is shown)."""
    store, user = the_user(openid, following=True)
    url = str(body().get("url", ""))
    if not url:
        raise DriverError(400, "url is required")
    return jsonify(
        inbound.send_event(
            store,
            user,
            "VIEW",
            [("EventKey", url)],
            {"event_key": url},
            opens_window=False,
            visible=False,
        )
    )


def menu_keys(store: Store) -> set[str]:
    with store.lock:
        if store.menu is None:
            return set(DEFAULT_MENU_KEYS)
        buttons = [b for top in store.menu["button"] for b in (top.get("sub_button") or [top])]
        return {b.get("key") for b in buttons if b.get("type") == "click"}


@bp.post("/<openid>/scan")
def scan(openid: str):
    """{"scene"} (any scene), or {"ticket"} / {"url"} of a QR code the API created."""
    store, user = the_user(openid)
    data = body()
    if data.get("scene"):
        return jsonify(inbound.scan(store, user, str(data["scene"])))
    with store.lock:
        qr = store.qrcodes.get(data.get("ticket", "")) or store.qr_by_url.get(data.get("url", ""))
    return scan_qrcode(store, user, qr)


def scan_qrcode(store: Store, user: User, qr):
    if qr is None:
        raise DriverError(404, "no such QR code")
    if live_qrcode(store, qr) is None:
        raise DriverError(410, "二维码已过期")
    return jsonify(inbound.scan(store, user, qr.scene, qr.ticket))


@bp.post("/<openid>/scan-image")
def scan_image(openid: str):
    """Long-press a picture → 识别图中二维码: a WeChat QR follows/SCANs; a web link opens."""
    store, user = the_user(openid)
    text = decode_qr(picture(store).data)
    if text is None:
        raise DriverError(422, "no QR code found in the picture")
    with store.lock:
        qr = store.qr_by_url.get(text)
    if qr is not None:
        return scan_qrcode(store, user, qr)
    if text.startswith(("http://weixin.qq.com/q/", "https://weixin.qq.com/q/")):
        raise DriverError(404, "an unknown WeChat QR code", text=text)
    if text.startswith(("http://", "https://")):
        return jsonify(open=text)
    return jsonify(text=text)

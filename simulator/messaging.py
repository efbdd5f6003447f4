"""Outbound messages: customer-service (客服), template (模板) and mass (群发) messages, and the
account's templates (template_library).

Customer-service messages are only allowed within SIM_CS_WINDOW (48 h) of the user's last
interaction (45015 after it). The quota depends on what the user did last: after a message,
SIM_CS_QUOTA_MESSAGE (5) sends in all; after a click / subscribe / scan, SIM_CS_QUOTA_EVENT (3)
sends per minute. Over the quota: 45047.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from .api import known_user
from .delivery import deliver_later
from .media import live_media
from .store import Store, User, get_store, random_id
from .template_library import LIBRARY, MAX_PRIVATE, private_template, rendered
from .tokens import ApiError, json_body, ok, requires_token

bp = Blueprint("messaging", __name__)

MSGID_BASE = 2_000_000_000  # template and mass msgids are large numbers on WeChat
SUMMARIES = {"image": "[图片]", "voice": "[语音]", "video": "[视频]", "mpnews": "[图文消息]"}


# -- customer-service messages ------------------------------------------------------------------
@bp.post("/cgi-bin/message/custom/send")
@requires_token
def custom_send():
    store, body = get_store(), json_body()
    content = message_content(store, body, CUSTOM_TYPES)
    with store.lock:
        user = follower(store, body.get("touser"))
        check_window(store, user)
        user.cs_sends.append(store.now())
        store.count("custom:total")
        store.record(user.openid, "custom", **content)
    return ok()


CUSTOM_TYPES = ("text", "image", "voice", "video", "news", "mpnews", "link", "msgmenu")
MASS_TYPES = ("text", "image", "voice", "mpnews", "mpvideo")


def follower(store: Store, openid: Any) -> User:
    user = known_user(store, openid)
    if not user.subscribed:
        raise ApiError(43004, "require subscribe")
    return user


def check_window(store: Store, user: User) -> None:
    cfg, now = store.config, store.now()
    last = user.last_interaction
    if last is None or now - last > cfg["SIM_CS_WINDOW"]:
        raise ApiError(45015, "response out of time limit or subscription is canceled")
    if user.last_interaction_kind == "message":
        if len(user.cs_sends) >= cfg["SIM_CS_QUOTA_MESSAGE"]:
            raise ApiError(45047, "out of response count limit")
    elif sum(1 for t in user.cs_sends if now - t < 60) >= cfg["SIM_CS_QUOTA_EVENT"]:
        raise ApiError(45047, "out of response count limit")


def message_content(store: Store, body: dict[str, Any], allowed: tuple[str, ...]) -> dict:
    """The conversation fields for a message body, or WeChat's error for a bad one."""
    msgtype = body.get("msgtype")
    part = body.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in allowed or not isinstance(part, dict):
        raise ApiError(40008, "invalid message type")
    if msgtype == "text":
        if not str(part.get("content") or "").strip():
            raise ApiError(44004, "empty content")
        return {"msgtype": "text", "content": str(part["content"])}
    if msgtype == "news":
        return news_content(part)
    if msgtype == "link":
        return {"msgtype": "link", "content": part.get("title", ""), **part}
    if (
        msgtype in ("image", "voice", "video")
        and live_media(store, part.get("media_id", "")) is None
    ):
        raise ApiError(40007, "invalid media_id")
    return {"msgtype": msgtype, "content": SUMMARIES.get(msgtype, f"[{msgtype}]"), **part}


def news_content(part: dict[str, Any]) -> dict[str, Any]:
    articles = part.get("articles")
    if not isinstance(articles, list) or not articles:
        raise ApiError(44002, "empty news data")
    if len(articles) > 1:  # since 2018 a customer-service news message holds one article
        raise ApiError(45008, "article size out of limit")
    return {"msgtype": "news", "articles": articles, "content": articles[0].get("title", "")}


# -- template messages --------------------------------------------------------------------------
@bp.post("/cgi-bin/message/template/send")
@requires_token
def template_send():
    store, body = get_store(), json_body()
    if not isinstance(body.get("template_id"), str) or not body["template_id"]:
        raise ApiError(40037, "invalid template_id")
    data = body.get("data")
    if not isinstance(data, dict):
        raise ApiError(47001, "data format error")
    with store.lock:
        template = store.private_templates.get(body["template_id"])
        if template is None:  # WeChat sends only the account's own templates
            raise ApiError(40037, "invalid template_id")
        user = follower(store, body.get("touser"))  # templates need no 48 h window
        day_key = "template:" + store.china_now().strftime("%Y-%m-%d")
        if store.counters.get(day_key, 0) >= store.config["SIM_TEMPLATE_DAILY_LIMIT"]:
            raise ApiError(45009, "reach max api daily quota limit")
        store.count(day_key)
        store.count("template:total")
        msgid = MSGID_BASE + store.next_seq()
        record = template_record(body, data, msgid, template)
        store.templates.append({"touser": user.openid, "time": int(store.now()), **record})
        store.record(user.openid, "template", **record)
    deliver_later(
        store,
        user.openid,
        job_finished(store, user.openid, msgid),
        store.config["SIM_TEMPLATE_EVENT_DELAY"],
    )
    return ok(msgid=msgid)


def template_record(
    body: dict[str, Any], data: dict[str, Any], msgid: int, template: dict[str, Any]
) -> dict[str, Any]:
    """The card as the phone shows it: the template's title and its content's labelled lines
    ([label, value]). `title` is `first`, else the template's title; `data` is kept as sent."""
    values = {k: (v.get("value") if isinstance(v, dict) else v) for k, v in data.items()}
    values = {k: "" if v is None else str(v) for k, v in values.items()}
    template_title = template["title"]
    shows_remark = "{{remark.DATA}}" in template["content"]  # old-style templates
    title = values.get("first") or template_title
    lines, text = rendered(template, values)
    return {
        "msgtype": "template",
        "msgid": msgid,
        "template_id": body["template_id"],
        "url": body.get("url") or "",
        "data": data,
        "title": title,
        "template_title": template_title,
        "lines": lines,
        "remark": values.get("remark", "") if shows_remark else "",
        "content": text.strip(),
    }


# -- the account's templates (「模板消息接口」: api_add_template, get_all_private_template,
# del_private_template) ---------------------------------------------------------------------------
@bp.post("/cgi-bin/template/api_add_template")
@requires_token
def add_template():
    """Add a library template by its short id: a new template_id for the account."""
    store, body = get_store(), json_body()
    short_id = body.get("template_id_short")
    if not isinstance(short_id, str) or short_id not in LIBRARY:
        raise ApiError(40037, "invalid template_id")
    with store.lock:
        if len(store.private_templates) >= MAX_PRIVATE:
            raise ApiError(45026, "template size out of limit")
        template_id = random_id(43)
        store.private_templates[template_id] = private_template(template_id, short_id)
    return ok(template_id=template_id)


@bp.get("/cgi-bin/template/get_all_private_template")
@requires_token
def all_private_templates():
    store = get_store()
    with store.lock:
        return {"template_list": list(store.private_templates.values())}


@bp.post("/cgi-bin/template/del_private_template")
@requires_token
def delete_private_template():
    store, body = get_store(), json_body()
    with store.lock:
        if store.private_templates.pop(str(body.get("template_id") or ""), None) is None:
            raise ApiError(40037, "invalid template_id")
    return ok()


def job_finished(store: Store, openid: str, msgid: int) -> list[tuple[str, Any]]:
    return [
        ("ToUserName", store.config["SIM_ACCOUNT_ID"]),
        ("FromUserName", openid),
        ("CreateTime", int(store.now())),
        ("MsgType", "event"),
        ("Event", "TEMPLATESENDJOBFINISH"),
        ("MsgID", msgid),  # sic: "MsgID" in this event, "MsgId" in messages
        ("Status", "success"),
    ]


# -- mass messages ------------------------------------------------------------------------------
@bp.post("/cgi-bin/message/mass/send")
@requires_token
def mass_send():
    store, body = get_store(), json_body()
    openids = body.get("touser")
    if not isinstance(openids, list) or len(openids) < 2:
        raise ApiError(40130, "invalid openid list size, at least two openid")
    return mass(store, body, openids)


@bp.post("/cgi-bin/message/mass/sendall")
@requires_token
def mass_sendall():
    """Tags are not simulated: any filter reaches every follower."""
    store, body = get_store(), json_body()
    if not isinstance(body.get("filter"), dict):
        raise ApiError(47001, "data format error")
    with store.lock:
        openids = [u.openid for u in store.users.values() if u.subscribed]
    return mass(store, body, openids)


@bp.post("/cgi-bin/message/mass/preview")
@requires_token
def mass_preview():
    """A preview goes to one follower and uses no quota."""
    store, body = get_store(), json_body()
    content = message_content(store, body, MASS_TYPES)
    with store.lock:
        user = follower(store, body.get("touser"))
        store.record(user.openid, "mass", preview=True, **content)
    return ok(msg_id=MSGID_BASE + store.next_seq())


def mass(store: Store, body: dict[str, Any], openids: list[Any]):
    content = message_content(store, body, MASS_TYPES)
    with store.lock:
        month_key = "mass:" + store.china_now().strftime("%Y-%m")
        if store.counters.get(month_key, 0) >= store.config["SIM_MASS_MONTHLY_QUOTA"]:
            raise ApiError(45028, "has no masssend quota")
        store.count(month_key)
        store.count("mass:total")
        msg_id = MSGID_BASE + store.next_seq()
        reached = [o for o in openids if (u := store.user(str(o))) is not None and u.subscribed]
        for openid in reached:
            store.record(openid, "mass", msg_id=msg_id, **content)
        store.mass.append({"msg_id": msg_id, "time": int(store.now()), "to": reached, **content})
    return {
        "errcode": 0,
        "errmsg": "send job submission success",
        "msg_id": msg_id,
        "msg_data_id": msg_id % 1_000_000_000,
    }

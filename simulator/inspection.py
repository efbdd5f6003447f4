"""Inspection and control for tests and the chat page: quotas, clock, reset, logs; the page."""

from __future__ import annotations

from functools import lru_cache

from flask import Blueprint, Response, jsonify, render_template, request

from .driver import DEFAULT_MENU_KEYS
from .images import avatar_png
from .store import get_store

bp = Blueprint("inspection", __name__)

DEFAULT_MENU_NAMES = ("申请", "海报", "收益", "提现", "团队", "素材", "帮助")


@bp.get("/")
def chat_page():
    return render_template("chat.html")


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/sim/avatars/<openid>.png")
def avatar(openid: str):
    return Response(cached_avatar(openid), mimetype="image/png")


@lru_cache(maxsize=1024)
def cached_avatar(openid: str) -> bytes:
    return avatar_png(openid)


@bp.get("/sim/config")
def config():
    """The non-secret settings, for the page's header and for tests' sanity checks."""
    cfg = get_store().config
    names = (
        "WECHAT_APPID",
        "SIM_ACCOUNT_ID",
        "SIM_WEBHOOK_URL",
        "SIM_DELIVERY_TIMEOUT",
        "SIM_DELIVERY_TRIES",
        "SIM_TOKEN_TTL",
        "SIM_TOKEN_GRACE",
        "SIM_MEDIA_TTL",
        "SIM_MASS_MONTHLY_QUOTA",
        "WECHAT_PAY_MCH_ID",
        "FENXIAO_MODE",
    )
    return jsonify({n: cfg.get(n) for n in names} | {"safe_mode": bool(cfg.get("WECHAT_AES_KEY"))})


@bp.get("/sim/menu")
def menu():
    """The menu created through menu/create, else the default set the bot's commands use."""
    store = get_store()
    with store.lock:
        if store.menu is not None:
            return jsonify(menu=store.menu, default=False)
    buttons = [
        {"type": "click", "name": n, "key": k}
        for n, k in zip(DEFAULT_MENU_NAMES, DEFAULT_MENU_KEYS, strict=True)
    ]
    grouped = [buttons[0], buttons[1], {"name": "我的", "sub_button": buttons[2:]}]
    return jsonify(menu={"button": grouped}, default=True)


@bp.get("/sim/quotas")
def quotas():
    store = get_store()
    cfg, now = store.config, store.now()
    with store.lock:
        day, month = store.china_now().strftime("%Y-%m-%d"), store.china_now().strftime("%Y-%m")
        count = store.counters.get
        current = store.tokens.get(store.current_token or "")
        return jsonify(
            token={
                "fetches_today": count(f"token:{day}", 0),
                "fetches_total": count("token:total", 0),
                "daily_limit": cfg["SIM_TOKEN_DAILY_LIMIT"],
                "expires_in": round(current.expires_at - now) if current else None,
            },
            api_calls=count("api:calls", 0),
            jsapi_ticket={"fetches_total": count("jsapi_ticket:total", 0)},
            custom={
                "sent_total": count("custom:total", 0),
                "by_user": {u.openid: window(store, u, now) for u in store.users.values()},
            },
            template={
                "sent_today": count(f"template:{day}", 0),
                "sent_total": count("template:total", 0),
                "daily_limit": cfg["SIM_TEMPLATE_DAILY_LIMIT"],
            },
            mass={
                "sent_this_month": count(f"mass:{month}", 0),
                "sent_total": count("mass:total", 0),
                "monthly_quota": cfg["SIM_MASS_MONTHLY_QUOTA"],
            },
            qrcodes={
                "temporary": sum(1 for q in store.qrcodes.values() if not q.permanent),
                "permanent": sum(1 for q in store.qrcodes.values() if q.permanent),
                "permanent_limit": cfg["SIM_QR_PERMANENT_LIMIT"],
            },
            media={"count": len(store.media)},
        )


def window(store, user, now: float) -> dict:
    last = user.last_interaction
    return {
        "last_interaction": last,
        "last_interaction_kind": user.last_interaction_kind,
        "window_open": last is not None and now - last <= store.config["SIM_CS_WINDOW"],
        "sends_since_interaction": len(user.cs_sends),
    }


@bp.get("/sim/media")
def media():
    store = get_store()
    ttl, now = store.config["SIM_MEDIA_TTL"], store.now()
    with store.lock:
        items = [
            {
                "media_id": m.media_id,
                "type": m.type,
                "content_type": m.content_type,
                "size": len(m.data),
                "created_at": int(m.created_at),
                "expires_at": int(m.created_at + ttl),
                "expired": now >= m.created_at + ttl,
            }
            for m in store.media.values()
        ]
    return jsonify(media=items)


@bp.get("/sim/qrcodes")
def qrcodes():
    store = get_store()
    with store.lock:
        items = [
            {
                "ticket": q.ticket,
                "url": q.url,
                "scene": q.scene,
                "action_name": q.action_name,
                "created_at": int(q.created_at),
                "expires_at": q.expires_at and int(q.expires_at),
            }
            for q in store.qrcodes.values()
        ]
    return jsonify(qrcodes=items)


@bp.get("/sim/templates")
def templates():
    store = get_store()
    with store.lock:
        return jsonify(templates=list(store.templates))


@bp.get("/sim/mass")
def mass():
    store = get_store()
    with store.lock:
        return jsonify(mass=list(store.mass))


@bp.get("/sim/deliveries")
def deliveries():
    """Every push to the webhook: tries, status, the XML; ?openid= and ?since=<id> filter."""
    store = get_store()
    openid, since = request.args.get("openid"), request.args.get("since", type=int) or 0
    with store.lock:
        items = [
            dict(d)
            for d in store.deliveries
            if d["id"] > since and (openid is None or d["openid"] == openid)
        ]
    return jsonify(deliveries=items)


@bp.post("/sim/reset")
def reset():
    get_store().reset()
    return jsonify(ok=True)


@bp.get("/sim/clock")
def clock():
    store = get_store()
    return jsonify(now=store.now(), offset=store.offset)


@bp.post("/sim/clock")
def advance_clock():
    """{"advance_seconds": n}: move the simulator's clock (token, media, QR, 48 h window)."""
    data = request.get_json(silent=True) or {}
    try:
        seconds = float(data.get("advance_seconds", 0))
    except (TypeError, ValueError):
        return jsonify(error="advance_seconds must be a number"), 400
    store = get_store()
    with store.lock:
        store.offset += seconds
    return jsonify(now=store.now(), offset=store.offset)


@bp.after_app_request
def allow_cross_origin(response: Response) -> Response:
    """The shop (another origin) may call the driver, e.g. to pay an order from its page."""
    if request.path.startswith("/sim/"):
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Headers"] = "Content-Type"
        response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
    return response

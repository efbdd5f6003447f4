"""What a user does on the phone, turned into the XML WeChat pushes to the webhook.

The store is updated before the push (the user follows before the subscribe event arrives, the
48 h window opens before the message is delivered), because the bot may call the API back from
its handler: user/info must then already say subscribe=1.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from .delivery import deliver
from .store import QrCode, Store, User, random_id

MSGID_MIN = 10**18  # WeChat's MsgId is a 64-bit number


def base_fields(store: Store, user: User, msgtype: str, create_time: int) -> list[tuple[str, Any]]:
    return [
        ("ToUserName", store.config["SIM_ACCOUNT_ID"]),
        ("FromUserName", user.openid),
        ("CreateTime", create_time),
        ("MsgType", msgtype),
    ]


def create_time(store: Store, user: User) -> int:
    """The real time in seconds, but strictly increasing per user.

    Events are de-duplicated on FromUserName + CreateTime + Event, so two distinct taps within
    one second must not share a CreateTime (a retry, by contrast, repeats it exactly).
    """
    with store.lock:
        user.last_create_time = max(int(time.time()), user.last_create_time + 1)
        return user.last_create_time


def send_message(
    store: Store, user: User, msgtype: str, fields: list[tuple[str, Any]], shown: dict[str, Any]
) -> dict[str, Any]:
    """A user message (text, image, voice, location...): MsgId, the 48 h window, the push."""
    msg_id = MSGID_MIN + secrets.randbelow(8 * MSGID_MIN)
    xml_fields = [
        *base_fields(store, user, msgtype, create_time(store, user)),
        *fields,
        ("MsgId", msg_id),
    ]
    with store.lock:
        store.interact(user.openid, "message")
        sent = store.record(user.openid, "user", msgtype=msgtype, msg_id=str(msg_id), **shown)
    return push(store, user, xml_fields, sent)


def send_event(
    store: Store,
    user: User,
    event: str,
    fields: list[tuple[str, Any]] = (),
    shown: dict[str, Any] | None = None,
    opens_window: bool = True,
    visible: bool = True,
) -> dict[str, Any]:
    xml_fields = [
        *base_fields(store, user, "event", create_time(store, user)),
        ("Event", event),
        *fields,
    ]
    with store.lock:
        if opens_window:
            store.interact(user.openid, "event")
        sent = store.record(user.openid, "event", msgtype="event", event=event, **(shown or {}))
    return push(store, user, xml_fields, sent, visible)


def push(store: Store, user: User, fields, sent: dict[str, Any], visible: bool = True):
    log, reply = deliver(store, user.openid, fields, visible)
    summary = {
        k: log.get(k)
        for k in (
            "id",
            "status",
            "tries",
            "http_status",
            "error",
            "elapsed_ms",
            "msg_id",
            "create_time",
        )
    }
    return {"sent": sent, "delivery": summary, "reply": reply}


# -- follow, unfollow, scan ---------------------------------------------------------------------
def follow(store: Store, user: User, scene: str | None = None, ticket: str | None = None):
    with store.lock:
        user.subscribed, user.subscribe_time = True, int(store.now())
        user.subscribe_scene = "ADD_SCENE_QR_CODE" if scene else "ADD_SCENE_SEARCH"
        user.qr_scene_str = scene or ""
    fields: list[tuple[str, Any]] = [("EventKey", "")]  # present, empty: a plain follow
    if scene:
        fields = [("EventKey", f"qrscene_{scene}"), ("Ticket", ticket or ticket_for(store, scene))]
    return send_event(
        store, user, "subscribe", fields, {"event_key": f"qrscene_{scene}" if scene else ""}
    )


def unfollow(store: Store, user: User):
    with store.lock:
        user.subscribed = False
        user.last_interaction = None  # an unfollowed user can no longer be messaged
    return send_event(
        store, user, "unsubscribe", [("EventKey", "")], opens_window=False, visible=False
    )


def scan(store: Store, user: User, scene: str, ticket: str | None = None):
    """Scanning a parametric QR: SCAN for a follower, subscribe with qrscene_ for anyone else."""
    if not user.subscribed:
        return follow(store, user, scene, ticket)
    ticket = ticket or ticket_for(store, scene)
    return send_event(
        store, user, "SCAN", [("EventKey", scene), ("Ticket", ticket)], {"event_key": scene}
    )


def ticket_for(store: Store, scene: str) -> str:
    """The newest QR code's ticket for the scene, or a made-up one when none was created."""
    with store.lock:
        codes: list[QrCode] = [q for q in store.qrcodes.values() if q.scene == scene]
    return codes[-1].ticket if codes else "gQ" + random_id(94) + "=="

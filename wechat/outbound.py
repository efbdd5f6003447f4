"""Sending to a user: each send recorded once by its purpose, so a retried job never resends.

「模板消息接口」 and 「客服消息」 (developers.weixin.qq.com, 公众号 > 消息管理): customer-service
messages only reach users who interacted in the last 48 h (else 45015), so those fall back to a
template message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import current_app
from sqlalchemy.exc import IntegrityError
from wechatpy.exceptions import WeChatClientException

from infra.clock import CHINA, now
from models import OutboundMessage, User, db
from models.base import begin_write
from wechat.client import WeChatRateLimited
from wechat.gateway import official_account
from wechat.templates import NOTICE

log = logging.getLogger(__name__)
OUTSIDE_WINDOW = 45015


def _claim(dedup_key: str, user: User, channel: str, payload: dict) -> OutboundMessage | None:
    """Record the send before making it; None when it was already made (or attempted)."""
    user_id, openid = user.id, user.openid
    begin_write()
    message = OutboundMessage(
        dedup_key=dedup_key, user_id=user_id, openid=openid, channel=channel, payload=payload
    )
    db.session.add(message)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return message


def _send(message: OutboundMessage, call: Callable[[], dict]) -> OutboundMessage:
    try:
        result = call()
    except WeChatRateLimited:
        # Certainly not sent: forget the claim so the job's retry sends it later.
        begin_write()
        db.session.delete(message)
        db.session.commit()
        raise
    except WeChatClientException as e:
        begin_write()
        message.status, message.error = "failed", f"{e.errcode}: {e.errmsg}"[:200]
        db.session.commit()
        raise
    begin_write()
    message.status, message.sent_at = "sent", now()
    message.wechat_msgid = str(result.get("msgid") or "") or None
    db.session.commit()
    return message


def send_template(
    dedup_key: str,
    user: User,
    title: str,
    detail: str,
    url: str | None = None,
    at: datetime | None = None,
):
    """The notice template (wechat.templates.NOTICE): what happened, its details, and when
    (`at`, default now) in China time; `first` repeats the title for templates that show it."""
    template_id = current_app.config["WECHAT_TEMPLATE_ID"]
    data = NOTICE.data(title, detail, china_minute(at or now()), first=title)
    message = _claim(dedup_key, user, "template", {"template_id": template_id, "data": data})
    if message is None:
        return None
    account = official_account()
    return _send(message, lambda: account.send_template(user.openid, template_id, data, url))


def china_minute(at: datetime) -> str:
    """'2026-12-06 06:28 UTC' -> '2026-12-06 14:28': a moment as a person in China reads it."""
    return at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def send_text(dedup_key: str, user: User, text: str, fallback_title: str | None = None):
    """A customer-service text; outside the 48 h window, a template message instead."""
    message = _claim(dedup_key, user, "custom", {"text": text})
    if message is None:
        return None
    try:
        return _send(message, lambda: official_account().send_text(user.openid, text))
    except WeChatClientException as e:
        if e.errcode != OUTSIDE_WINDOW or fallback_title is None:
            raise
        log.info("%s is outside the 48 h window: sending a template message", user.openid)
        return send_template(f"{dedup_key}:template", user, fallback_title, text)


def send_image(dedup_key: str, user: User, media_id: str):
    """A customer-service image (a poster, a material picture), sent once per `dedup_key`."""
    message = _claim(dedup_key, user, "custom", {"image": media_id})
    if message is None:
        return None
    return _send(message, lambda: official_account().send_image(user.openid, media_id))

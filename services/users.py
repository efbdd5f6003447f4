"""Users as WeChat sees them: first contact, follow / unfollow, profile."""

from __future__ import annotations

from sqlalchemy import select

from models import OutboundMessage, User, db
from services.common import now, unit_of_work
from services.distributors import upsert_user
from workers.queues import enqueue_after_commit

PROFILE_JOB = "workers.wechat.refresh_profile"


def touch(openid: str) -> User:
    """The user behind an inbound message, created on first contact; records the interaction
    (customer-service messages may only be sent within 48 h of it)."""
    with unit_of_work():
        user = upsert_user(openid)
    return user


def follow(openid: str) -> User:
    with unit_of_work():
        user = upsert_user(openid, subscribed=True, subscribed_at=now())
        user.unsubscribed_at = None
        enqueue_after_commit(PROFILE_JOB, openid, job_id=f"profile-{openid}")
    return user


def unfollow(openid: str) -> None:
    with unit_of_work():
        user = upsert_user(openid, subscribed=False, unsubscribed_at=now())
        user.last_seen_at = None  # an unfollow opens no customer-service window


def update_profile(openid: str, info: dict) -> None:
    """Store what WeChat's user/info returned (nickname, avatar, language, unionid)."""
    with unit_of_work():
        user = db.session.scalar(select(User).where(User.openid == openid))
        if user is None:
            return
        user.nickname = (info.get("nickname") or user.nickname)[:64]
        user.avatar_url = info.get("headimgurl") or user.avatar_url
        user.unionid = info.get("unionid") or user.unionid
        if info.get("language"):
            user.language = "en" if str(info["language"]).startswith("en") else "zh_CN"


def record_template_delivery(msgid: str, status: str) -> None:
    """TEMPLATESENDJOBFINISH: WeChat's report of whether a template message arrived."""
    with unit_of_work():
        message = db.session.scalar(
            select(OutboundMessage).where(OutboundMessage.wechat_msgid == str(msgid))
        )
        if message is not None:
            message.delivery_status = (status or "")[:32]

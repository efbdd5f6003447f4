"""Users as WeChat sees them: first contact, follow / unfollow, profile."""

from __future__ import annotations

from sqlalchemy import select, update

from models import Distributor, OutboundMessage, User, db
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


SEEN_THROTTLE = 60  # seconds: last_seen_at only opens a 48 h window, a minute is precise enough


def sender(openid: str) -> tuple[User, Distributor | None]:
    """The sender of an inbound message and their distributor row, in one read; created on
    first contact. The interaction time is written at most once a minute (a Redis gate), so a
    chatty user costs no write per message."""
    row = db.session.execute(
        select(User, Distributor)
        .outerjoin(Distributor, Distributor.user_id == User.id)
        .where(User.openid == openid)
    ).first()
    if row is None:
        user = touch(openid)
        return user, None
    user, distributor = row
    if _first_sighting_this_minute(openid):
        with unit_of_work():
            db.session.execute(
                update(User).where(User.id == user.id).values(last_seen_at=now()),
                execution_options={"synchronize_session": False},
            )
    return user, distributor


def _first_sighting_this_minute(openid: str) -> bool:
    import redis

    from web.redis_client import get_redis

    try:
        return bool(get_redis().set(f"wechat:seen:{openid}", 1, nx=True, ex=SEEN_THROTTLE))
    except (redis.RedisError, OSError):
        return True


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

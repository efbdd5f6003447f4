"""Users as WeChat sees them: first contact, follow / unfollow, profile."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, date, datetime

import redis
from sqlalchemy import bindparam, or_, select, update

from infra.clock import now
from infra.db import unit_of_work
from infra.jobs import enqueue_after_commit
from infra.redis_client import get_redis
from models import OutboundMessage, User, db
from services.distributors import get_or_create_user, upsert_user
from services.hot_reads import SenderRow, sender_row
from services.lookups import Earnings

PROFILE_JOB = "workers.wechat.refresh_profile"


def touch(openid: str) -> User:
    """The user behind an inbound message, created on first contact; records the interaction
    (customer-service messages may only be sent within 48 h of it)."""
    with unit_of_work():
        user = upsert_user(openid)
    return user


SEEN_QUEUE = "wechat:last_seen"


@dataclass(frozen=True)
class SenderDistributor:
    id: int
    status: str
    code: str


@dataclass(frozen=True)
class Sender:
    """Who sent a message: the few fields a reply needs (plain data, not ORM objects), their
    distributor (None for a user who is not one) and, when read with them, its earnings."""

    id: int
    openid: str
    nickname: str
    language: str
    distributor: SenderDistributor | None = None
    earnings: Earnings | None = None


def sender(openid: str, today: date) -> tuple[Sender, SenderRow | None]:
    """The sender of an inbound message, with their distributor and its earnings, in one
    read; created on first contact. Second, the row they were read from (services.sender_cards
    keeps it as their card), None if just created."""
    row = sender_row(openid, today)
    if row is None:
        user = get_or_create_user(openid)  # two deliveries of a first message may race here
        return Sender(user.id, user.openid, user.nickname, user.language), None
    return from_row(row), row


def from_row(row: SenderRow) -> Sender:
    """A sender row (services.hot_reads) as the typed sender."""
    distributor = None
    if row.distributor_id is not None:
        distributor = SenderDistributor(row.distributor_id, row.status, row.code)
    return Sender(
        row.user_id,
        row.openid,
        row.nickname or "",
        row.language or "zh_CN",
        distributor,
        row.earnings,
    )


def seen_entry(openid: str) -> str:
    """An interaction time for the SEEN_QUEUE (customer-service messages may only be sent
    within 48 h of one). The webhook queues it with its answer, in the same Redis round trip;
    a periodic job writes the queue to the database, so answering costs no database write."""
    return f"{int(now().timestamp() * 1000)}:{openid}"


def note_seen(openid: str) -> None:
    # A missed interaction time only shortens the 48 h window we believe in.
    with contextlib.suppress(redis.RedisError, OSError):
        get_redis().rpush(SEEN_QUEUE, seen_entry(openid))


def flush_last_seen(limit: int = 10_000) -> int:
    """Write queued interaction times to users.last_seen_at (the newest per user)."""
    client = get_redis()
    with client.pipeline() as pipe:
        pipe.lrange(SEEN_QUEUE, 0, limit - 1)
        pipe.ltrim(SEEN_QUEUE, limit, -1)
        raw, _ = pipe.execute()
    newest: dict[str, int] = {}
    for item in raw:
        stamp, _, openid = item.decode().partition(":")
        newest[openid] = max(newest.get(openid, 0), int(stamp))
    if not newest:
        return 0
    with unit_of_work():
        users = User.__table__
        db.session.execute(
            update(users)
            .where(users.c.openid == bindparam("who"))
            # never backwards: a first contact may have written a later time directly
            .where(or_(users.c.last_seen_at.is_(None), users.c.last_seen_at < bindparam("seen")))
            .values(last_seen_at=bindparam("seen")),
            [
                {"who": o, "seen": datetime.fromtimestamp(ms / 1000, UTC)}
                for o, ms in newest.items()
            ],
        )
    return len(newest)


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

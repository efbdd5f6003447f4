"""The notification job: one domain event, one template message, sent at most once."""

from __future__ import annotations

from flask_babel import force_locale
from sqlalchemy import select

from models import Distributor, DomainEvent, Tier, User, db
from services import sender_cards
from texts import messages
from wechat.outbound import send_template


def notify(event_id: int) -> str:
    event = db.session.get(DomainEvent, event_id)
    if event is None or event.distributor_id is None:
        return "no recipient"
    user = db.session.scalar(
        select(User)
        .join(Distributor, Distributor.user_id == User.id)
        .where(Distributor.id == event.distributor_id)
    )
    payload = dict(event.payload or {})
    if event.kind == "tier_upgraded" and payload.get("tier_id"):
        payload["tier"] = db.session.scalar(select(Tier.name).where(Tier.id == payload["tier_id"]))
    with force_locale("en" if (user.language or "").startswith("en") else "zh_CN"):
        title, detail = messages.notification(event.kind, payload)
    openid = user.openid
    # A 商家转账 bill waiting for the user carries its confirm page: tapping the message opens it.
    url = payload.get("url") if isinstance(payload.get("url"), str) else None
    # The time it happened, not the time this job ran (a retry runs later).
    sent = send_template(f"event:{event.id}", user, title, detail, url=url, at=event.created_at)
    db.session.commit()  # end the job's transaction: the card is read from the latest commit
    sender_cards.warm(openid)  # their next message is likely `收益`
    return "sent" if sent is not None else "already sent"

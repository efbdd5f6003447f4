"""Messages sent to users through WeChat: each recorded once, so a retried job never resends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow


class OutboundMessage(Base):
    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_wechat_msgid", "wechat_msgid"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # What this send is for, e.g. "event:42": unique, so the same thing is never sent twice.
    dedup_key: Mapped[str] = mapped_column(String(96), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    openid: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))  # "template" | "custom"
    payload: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="sending")  # sending|sent|failed
    wechat_msgid: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(String(200))
    delivery_status: Mapped[str | None] = mapped_column(String(32))  # TEMPLATESENDJOBFINISH
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime)

"""Posters: merchant templates (versioned), the render-once poster cache, each distributor's
invite QR code, and share tracking (scans and link visits)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column

from models.base import Base, BigId, TZDateTime, utcnow


class PosterTemplate(Base):
    """One version of the merchant's poster template; the newest version is the active one.

    Rows are never edited: a change is a new version, so a cached poster always names the
    exact template it was drawn with."""

    __tablename__ = "poster_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    definition: Mapped[dict] = mapped_column(JSON)  # render.design.PosterDesign.to_dict()
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Poster(Base):
    """A rendered poster, unique on its cache key: the same key is never rendered twice.

    The JPEG is kept, so an expired media_id (3 days) is renewed by uploading it again."""

    __tablename__ = "posters"
    __table_args__ = (Index("ix_posters_distributor_product", "distributor_id", "product_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # sha256 of every key part (models.poster_rules.PosterKey): a NULL product is a plain value.
    cache_key: Mapped[str] = mapped_column(String(64), unique=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    template_version: Mapped[int] = mapped_column(Integer)
    qr_content: Mapped[str] = mapped_column(String(512))
    avatar_version: Mapped[str] = mapped_column(String(32))
    image: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    image_size: Mapped[int] = mapped_column(Integer, default=0)
    renders: Mapped[int] = mapped_column(Integer, default=0)
    media_id: Mapped[str | None] = mapped_column(String(128))
    media_expires_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    rendered_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class InviteQrCode(Base):
    """The distributor's temporary parametric QR code (scene d_<code>, 30 days), renewed early."""

    __tablename__ = "invite_qrcodes"

    distributor_id: Mapped[int] = mapped_column(
        ForeignKey("distributors.id"), primary_key=True, autoincrement=False
    )
    scene: Mapped[str] = mapped_column(String(64))
    ticket: Mapped[str] = mapped_column(String(256))
    url: Mapped[str] = mapped_column(String(256))  # the QR content, drawn locally
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


SHARE_KINDS = ("subscribe", "scan", "visit")


class ShareEvent(Base):
    """A scan of a distributor's QR code or a visit through their shop link, for statistics."""

    __tablename__ = "share_events"
    __table_args__ = (
        CheckConstraint("kind IN ('subscribe', 'scan', 'visit')", name="kind"),
        Index("ix_share_events_distributor_kind", "distributor_id", "kind", "product_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    distributor_id: Mapped[int] = mapped_column(ForeignKey("distributors.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

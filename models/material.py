"""Promo material (素材): copy text and up to 9 images, optionally about a product."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from models.base import Base, TZDateTime, utcnow

MAX_IMAGES = 9


class PromoMaterial(Base):
    __tablename__ = "promo_materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(2000))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    publish_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    images: Mapped[list[PromoImage]] = relationship(
        order_by="PromoImage.position", back_populates="material"
    )


class PromoImage(Base):
    """One image of a material item; its temporary media_id is cached until it expires."""

    __tablename__ = "promo_images"
    __table_args__ = (UniqueConstraint("material_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("promo_materials.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(32))
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    media_id: Mapped[str | None] = mapped_column(String(128))
    media_expires_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    material: Mapped[PromoMaterial] = relationship(back_populates="images")

"""Products, with an optional per-product commission."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TZDateTime, utcnow
from models.commission import ProductCommission


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price"),
        CheckConstraint("stock >= 0", name="stock"),
        CheckConstraint(
            "commission_kind IS NULL OR commission_kind IN ('percent', 'fixed')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    price_fen: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    images: Mapped[list] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(2000), default="")
    on_sale: Mapped[bool] = mapped_column(Boolean, default=True)
    commission_kind: Mapped[str | None] = mapped_column(String(8))
    commission_values: Mapped[list | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    @property
    def commission_override(self) -> ProductCommission | None:
        if not self.commission_kind:
            return None
        return ProductCommission(self.commission_kind, tuple(self.commission_values))

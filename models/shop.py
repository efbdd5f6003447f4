"""What a shopper keeps in the shop: addresses, the cart, claimed coupons, refund requests."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TZDateTime, utcnow
from models.catalog import Sku
from models.states import REFUND_REQUEST, USER_COUPON, StatusMixin

MAX_ADDRESSES = 20
MAX_CART_ITEMS = 50


class Address(Base):
    """A delivery address in the shopper's address book (as WeChat's own address picker gives
    it: name, phone, province / city / district, the rest)."""

    __tablename__ = "addresses"
    __table_args__ = (Index("ix_addresses_user", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(32))
    phone: Mapped[str] = mapped_column(String(20))
    province: Mapped[str] = mapped_column(String(16))
    city: Mapped[str] = mapped_column(String(32))
    district: Mapped[str] = mapped_column(String(32), default="")
    detail: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    def snapshot(self) -> dict:
        """What an order keeps of it: the address as it was when the order was placed."""
        return {
            "name": self.name,
            "phone": self.phone,
            "province": self.province,
            "city": self.city,
            "district": self.district,
            "detail": self.detail,
        }


class CartItem(Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        UniqueConstraint("user_id", "sku_id"),
        CheckConstraint("quantity > 0", name="quantity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    added_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    sku: Mapped[Sku] = relationship()


class Coupon(Base):
    """A coupon the merchant offers (models.pricing.CouponTerms holds its rules). `claimed` counts
    claims, raised by a conditional update so the total limit holds under concurrency."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("kind IN ('amount_off', 'percent_off', 'no_threshold')", name="kind"),
        CheckConstraint("claimed >= 0", name="claimed"),
        CheckConstraint("total_limit IS NULL OR claimed <= total_limit", name="total_limit"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    off_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    discount_bps: Mapped[int] = mapped_column(Integer, default=0)
    cap_fen: Mapped[int | None] = mapped_column(BigInteger)
    min_goods_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)  # empty: every product
    starts_at: Mapped[datetime] = mapped_column(TZDateTime)
    ends_at: Mapped[datetime] = mapped_column(TZDateTime)
    total_limit: Mapped[int | None] = mapped_column(Integer)
    per_user_limit: Mapped[int | None] = mapped_column(Integer, default=1)
    claimed: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class UserCoupon(StatusMixin, Base):
    """A coupon a shopper claimed: available, locked by an unpaid order, used once it is paid
    (released back to available when that order is cancelled)."""

    __tablename__ = "user_coupons"
    __table_args__ = (Index("ix_user_coupons_user_status", "user_id", "status"),)
    TRANSITIONS = USER_COUPON

    id: Mapped[int] = mapped_column(primary_key=True)
    coupon_id: Mapped[int] = mapped_column(ForeignKey("coupons.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="available")
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    claimed_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    coupon: Mapped[Coupon] = relationship()


class RefundRequest(StatusMixin, Base):
    """A shopper's request to refund one order line (refund only, or return and refund),
    decided by the merchant. Approved, it is sent to WeChat Pay after the commit under its
    stable refund number; the refund notify completes it through the engine."""

    __tablename__ = "refund_requests"
    __table_args__ = (
        CheckConstraint("kind IN ('refund_only', 'return_refund')", name="kind"),
        CheckConstraint("amount_fen > 0", name="amount"),
        Index("ix_refund_requests_order", "order_id"),
        Index("ix_refund_requests_status", "status", "id"),  # the console's queue by state
    )
    TRANSITIONS = REFUND_REQUEST

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_no: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    kind: Mapped[str] = mapped_column(String(16))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="requested")
    refuse_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    refunded_at: Mapped[datetime | None] = mapped_column(TZDateTime)

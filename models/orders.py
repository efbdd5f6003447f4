"""Orders, their lines, payment notifications and refunds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TZDateTime, utcnow
from models.states import ORDER, StatusMixin


class Order(StatusMixin, Base):
    """A shopper's order. The upline chain is snapshotted when the order is created."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("goods_fen >= 0 AND discount_fen >= 0 AND shipping_fen >= 0", name="fen"),
        CheckConstraint("discount_fen <= goods_fen", name="discount"),
        CheckConstraint("refunded_fen >= 0", name="refunded"),
        Index("ix_orders_user_status", "user_id", "status"),
        Index("ix_orders_status_shipped", "status", "shipped_at"),
        Index("ix_orders_created", "created_at", "id"),  # the console's list, newest first
        Index("ix_orders_paid", "paid_at"),  # the rules' what-if: the last 30 days' payments
    )
    TRANSITIONS = ORDER

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending_payment")
    goods_fen: Mapped[int] = mapped_column(BigInteger)  # sum of price x quantity
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    shipping_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    # [level-1 distributor id, level-2, level-3], as bound when the order was created.
    chain: Mapped[list] = mapped_column(JSON, default=list)
    distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"), index=True)
    buyer_distributor_id: Mapped[int | None] = mapped_column(ForeignKey("distributors.id"))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    shipped_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    # The shop's checkout: where it goes, the buyer's note, the WeChat Pay prepay (valid 2 h,
    # reused while it lasts), and the parcel once shipped. A coupon it uses points at it
    # (user_coupons.order_id).
    address: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200), default="")
    prepay_id: Mapped[str | None] = mapped_column(String(64))
    prepay_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    carrier: Mapped[str | None] = mapped_column(String(32))
    tracking_no: Mapped[str | None] = mapped_column(String(40))

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", order_by="OrderLine.id", cascade="all, delete-orphan"
    )

    @property
    def payable_fen(self) -> int:
        return self.goods_fen - self.discount_fen + self.shipping_fen


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("paid_fen = unit_price_fen * quantity - discount_fen", name="paid"),
        CheckConstraint("refunded_fen BETWEEN 0 AND paid_fen", name="refunded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku_id: Mapped[int | None] = mapped_column(ForeignKey("skus.id"))  # None: before SKUs
    title: Mapped[str] = mapped_column(String(128))
    spec_text: Mapped[str] = mapped_column(String(64), default="")  # the SKU's, as bought
    unit_price_fen: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_fen: Mapped[int] = mapped_column(BigInteger)  # the commission base
    refunded_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    order: Mapped[Order] = relationship(back_populates="lines")


class Payment(Base):
    """A payment notification, unique on the provider's transaction id (exactly once)."""

    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    provider_txn_id: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Refund(Base):
    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount_fen > 0", name="amount"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    refund_no: Mapped[str] = mapped_column(String(64), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    lines: Mapped[dict] = mapped_column(JSON)  # {order_line_id: fen refunded on that line}
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

"""The catalogue: categories, products with their photos, and SKUs (规格) that hold the price and
the stock a shopper buys. A product's own price is what lists and posters show ("from"): the
lowest price of its SKUs on sale, kept by the service that edits them."""

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
    LargeBinary,
    String,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, TZDateTime, utcnow
from models.commission import ProductCommission

COMMISSION_KINDS = "commission_kind IS NULL OR commission_kind IN ('percent', 'fixed')"
LOW_STOCK = 5  # a SKU at or under this is flagged for the merchant

# The shop lists only products on sale: each sort's keyset (value, id) is indexed over those
# alone, with and without the category first (services.catalog.list_products reads a page as a
# range of one of these). The predicate is written as the queries render it on each backend.
ON_SALE = {"postgresql_where": text("on_sale IS true"), "sqlite_where": text("on_sale IS 1")}
LIST_KEYS = {"newest": "created_at", "sales": "sales_count", "price": "price_fen"}


def _list_indexes() -> list[Index]:
    indexes = []
    for name, column in LIST_KEYS.items():
        indexes.append(Index(f"ix_products_list_{name}", column, "id", **ON_SALE))
        indexes.append(
            Index(f"ix_products_list_category_{name}", "category_id", column, "id", **ON_SALE)
        )
    return indexes


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    shown: Mapped[bool] = mapped_column(Boolean, default=True)


class Product(Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price"),
        CheckConstraint(COMMISSION_KINDS, name="kind"),
        Index("ix_products_sale_category", "on_sale", "category_id"),
        Index("ix_products_created", "created_at", "id"),  # the console's list: on sale or not
        *_list_indexes(),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(128))
    price_fen: Mapped[int] = mapped_column(BigInteger)  # the lowest SKU price: what lists show
    images: Mapped[list] = mapped_column(JSON, default=list)  # legacy image URLs (posters)
    description: Mapped[str] = mapped_column(String(2000), default="")
    on_sale: Mapped[bool] = mapped_column(Boolean, default=True)
    commission_kind: Mapped[str | None] = mapped_column(String(8))
    commission_values: Mapped[list | None] = mapped_column(JSON)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    sales_count: Mapped[int] = mapped_column(Integer, default=0)  # units paid for, for sorting
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    skus: Mapped[list[Sku]] = relationship(
        back_populates="product", order_by="Sku.sort, Sku.id", cascade="all, delete-orphan"
    )
    photos: Mapped[list[ProductPhoto]] = relationship(
        order_by="ProductPhoto.sort, ProductPhoto.id", cascade="all, delete-orphan"
    )
    category: Mapped[Category | None] = relationship()

    @property
    def commission_override(self) -> ProductCommission | None:
        if not self.commission_kind:
            return None
        return ProductCommission(self.commission_kind, tuple(self.commission_values))

    @property
    def stock(self) -> int:
        """Units left over every SKU on sale."""
        return sum(s.stock for s in self.skus if s.on_sale)

    @property
    def sold_out(self) -> bool:
        return self.stock == 0


class Sku(Base):
    """One buyable spec of a product (颜色: 红, 尺码: M), with its price, its stock and, when it
    differs from the product's, its own commission."""

    __tablename__ = "skus"
    __table_args__ = (
        CheckConstraint("price_fen >= 0", name="price"),
        CheckConstraint("stock >= 0", name="stock"),  # the last guard against overselling
        CheckConstraint(COMMISSION_KINDS, name="kind"),
        Index("ix_skus_product", "product_id", "sort"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    spec: Mapped[dict] = mapped_column(JSON, default=dict)  # {"颜色": "红", "尺码": "M"}
    spec_text: Mapped[str] = mapped_column(String(64), default="")  # "红 / M", "" for the default
    price_fen: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    on_sale: Mapped[bool] = mapped_column(Boolean, default=True)
    sort: Mapped[int] = mapped_column(Integer, default=0)
    commission_kind: Mapped[str | None] = mapped_column(String(8))
    commission_values: Mapped[list | None] = mapped_column(JSON)

    product: Mapped[Product] = relationship(back_populates="skus")

    @property
    def commission_override(self) -> ProductCommission | None:
        """The SKU's own commission, else the product's."""
        if self.commission_kind:
            return ProductCommission(self.commission_kind, tuple(self.commission_values))
        return self.product.commission_override


class ProductPhoto(Base):
    """A product photo, stored once resized (JPEG), served by the shop."""

    __tablename__ = "product_photos"
    __table_args__ = (Index("ix_product_photos_product", "product_id", "sort"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sort: Mapped[int] = mapped_column(Integer, default=0)
    content_type: Mapped[str] = mapped_column(String(32), default="image/jpeg")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)

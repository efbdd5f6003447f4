"""A shopper's cart: one line per SKU, at most MAX_CART_ITEMS lines, never more of a SKU than its
stock when added. Writes lock the shopper's user row first, so that two taps at once add up (the
unique (user, SKU) line is also written by an upsert) and the limits hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select

from infra.clock import now
from infra.db import for_update, unit_of_work, upsert
from models import CartItem, Product, Sku, User, db
from models.errors import NotFound, OrderError
from models.identifiers import INT_ID_MAX
from models.pricing import MAX_QUANTITY
from models.shop import MAX_CART_ITEMS
from services.catalog import first_photo_ids


@dataclass(frozen=True)
class CartLine:
    """A cart line as the cart page shows it, with the SKU's price and stock now."""

    sku_id: int
    product_id: int
    title: str
    spec_text: str
    price_fen: int
    quantity: int
    stock: int
    available: bool  # on sale (product and SKU) and stock >= quantity
    photo_id: int | None


def cart(user_id: int) -> list[CartLine]:
    """The shopper's cart lines, the newest first."""
    rows = db.session.execute(
        select(CartItem.quantity, Sku, Product)
        .join(Sku, Sku.id == CartItem.sku_id)
        .join(Product, Product.id == Sku.product_id)
        .where(CartItem.user_id == user_id)
        .order_by(CartItem.added_at.desc(), CartItem.id.desc())
    ).all()
    photos = first_photo_ids(product.id for _q, _s, product in rows)
    return [
        CartLine(
            sku_id=sku.id,
            product_id=product.id,
            title=product.title,
            spec_text=sku.spec_text,
            price_fen=sku.price_fen,
            quantity=quantity,
            stock=sku.stock,
            available=sku.on_sale and product.on_sale and sku.stock >= quantity,
            photo_id=photos.get(product.id),
        )
        for quantity, sku, product in rows
    ]


def cart_count(user_id: int) -> int:
    """How many units the cart holds (the tab bar's badge)."""
    total = db.session.scalar(
        select(func.sum(CartItem.quantity)).where(CartItem.user_id == user_id)
    )
    return int(total or 0)


def add_to_cart(user_id: int, sku_id: int, quantity: int = 1) -> int:
    """Add `quantity` of a SKU to the cart; returns the line's quantity now. OrderError with
    reason not_on_sale, quantity (1..999, also for the line's total), out_of_stock or
    cart_full; a refusal changes nothing."""
    _check_quantity(quantity, minimum=1)
    with unit_of_work():
        _lock_user(user_id)
        sku = _sku_on_sale(sku_id)
        line = _line(user_id, sku_id)
        total = (line.quantity if line else 0) + quantity
        _check_line(user_id, sku, total, new=line is None)
        db.session.execute(
            upsert(
                CartItem.__table__,
                [{"user_id": user_id, "sku_id": sku_id, "quantity": quantity, "added_at": now()}],
                ["user_id", "sku_id"],
                ["quantity"],
            )
        )
    db.session.expire_all()
    return total


def set_cart_quantity(user_id: int, sku_id: int, quantity: int) -> None:
    """Set a cart line's quantity (adding the line if it is not there); 0 removes it."""
    _check_quantity(quantity, minimum=0)
    if quantity == 0:
        remove_from_cart(user_id, [sku_id])
        return
    with unit_of_work():
        _lock_user(user_id)
        sku = _sku_on_sale(sku_id)
        line = _line(user_id, sku_id)
        _check_line(user_id, sku, quantity, new=line is None)
        if line is None:
            db.session.add(CartItem(user_id=user_id, sku_id=sku_id, quantity=quantity))
        else:
            line.quantity = quantity


def remove_from_cart(user_id: int, sku_ids: Sequence[int]) -> None:
    """Take SKUs out of the cart; ids not in it are ignored."""
    with unit_of_work():
        _lock_user(user_id)
        # Matched against the cart's own lines, so a long or odd list never reaches the SQL.
        held = set(db.session.scalars(select(CartItem.sku_id).where(CartItem.user_id == user_id)))
        wanted = {i for i in sku_ids if isinstance(i, int) and not isinstance(i, bool)} & held
        if wanted:
            db.session.execute(
                delete(CartItem).where(CartItem.user_id == user_id, CartItem.sku_id.in_(wanted)),
                execution_options={"synchronize_session": False},
            )
    db.session.expire_all()


def _check_quantity(quantity: object, minimum: int) -> None:
    # bool is an int in Python; True is a bug in the caller, not one unit.
    if (
        not isinstance(quantity, int)
        or isinstance(quantity, bool)
        or not minimum <= quantity <= MAX_QUANTITY
    ):
        raise OrderError(f"quantity must be {minimum} to {MAX_QUANTITY}", reason="quantity")


def _lock_user(user_id: int) -> None:
    if db.session.scalar(for_update(select(User.id).where(User.id == user_id))) is None:
        raise NotFound("no such user", what="user")


def _sku_on_sale(sku_id: object) -> Sku:
    is_id = isinstance(sku_id, int) and not isinstance(sku_id, bool) and 1 <= sku_id <= INT_ID_MAX
    sku = db.session.get(Sku, sku_id) if is_id else None
    if sku is None or not sku.on_sale or not sku.product.on_sale:
        raise OrderError("this product is not on sale", reason="not_on_sale", sku_id=sku_id)
    return sku


def _line(user_id: int, sku_id: int) -> CartItem | None:
    return db.session.scalar(
        select(CartItem).where(CartItem.user_id == user_id, CartItem.sku_id == sku_id)
    )


def _check_line(user_id: int, sku: Sku, total: int, new: bool) -> None:
    """Refuse a line of `total` units of the SKU: too many, more than its stock, or one line
    more than the cart holds."""
    if total > MAX_QUANTITY:
        raise OrderError(f"a cart line holds at most {MAX_QUANTITY}", reason="quantity")
    if total > sku.stock:
        raise OrderError("not enough stock", reason="out_of_stock", sku_id=sku.id, stock=sku.stock)
    if new:
        lines = db.session.scalar(
            select(func.count()).select_from(CartItem).where(CartItem.user_id == user_id)
        )
        if lines >= MAX_CART_ITEMS:
            raise OrderError(f"a cart holds at most {MAX_CART_ITEMS} lines", reason="cart_full")

"""The cart: what adding, setting and removing do, what is refused (and then nothing changes),
and that taps at once add up."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select, update

from models import CartItem, Product, ProductPhoto, Sku, db
from models.base import begin_write
from models.errors import OrderError
from models.shop import MAX_CART_ITEMS
from services.cart import add_to_cart, cart, cart_count, remove_from_cart, set_cart_quantity
from tests.factories import make_product, make_user
from tests.integration.test_concurrency import run_concurrently, threaded_app, unexpected

__all__ = ["threaded_app"]  # the fixture, shared with the engine's concurrency tests
_seq = itertools.count(1)


def sku_of(price_fen: int = 1_000, stock: int = 10, **fields) -> Sku:
    return make_product(price_fen=price_fen, stock=stock, **fields).skus[0]


def product_of(count: int, stock: int = 10) -> Product:
    """A product with `count` SKUs on sale."""
    begin_write()
    product = Product(
        title=f"多规格{next(_seq)}",
        price_fen=100,
        skus=[
            Sku(price_fen=100 + i, stock=stock, sort=i, spec_text=f"规格{i}") for i in range(count)
        ],
    )
    db.session.add(product)
    db.session.commit()
    return product


def set_row(model, row_id: int, **values) -> None:
    db.session.execute(update(model).where(model.id == row_id).values(**values))
    db.session.commit()


def refused(call, *args) -> str:
    with pytest.raises(OrderError) as caught:
        call(*args)
    return caught.value.params["reason"]


def lines(user_id: int) -> dict[int, int]:
    return {line.sku_id: line.quantity for line in cart(user_id)}


def test_adding_a_sku_again_adds_to_its_line(ctx):
    user, sku = make_user(), sku_of()
    assert add_to_cart(user.id, sku.id) == 1
    assert add_to_cart(user.id, sku.id, 3) == 4
    assert lines(user.id) == {sku.id: 4}


def test_the_badge_counts_units_over_every_line(ctx):
    user = make_user()
    add_to_cart(user.id, sku_of().id, 2)
    add_to_cart(user.id, sku_of().id, 5)
    add_to_cart(make_user().id, sku_of().id, 7)  # someone else's cart
    assert cart_count(user.id) == 7
    assert cart_count(make_user().id) == 0


def test_the_cart_lists_the_newest_line_first_with_price_and_stock_now(ctx):
    user = make_user()
    older = sku_of(title="旧", price_fen=1_000, stock=10)
    begin_write()
    photo = ProductPhoto(product_id=older.product_id, width=1, height=1, data=b"x")
    db.session.add(photo)
    db.session.commit()
    newer = product_of(2).skus[1]
    add_to_cart(user.id, older.id, 2)
    add_to_cart(user.id, newer.id)
    set_row(Sku, older.id, price_fen=900)

    first, second = cart(user.id)

    assert (first.sku_id, first.spec_text, first.photo_id) == (newer.id, "规格1", None)
    assert (second.sku_id, second.product_id, second.title) == (older.id, older.product_id, "旧")
    assert (second.price_fen, second.quantity, second.stock) == (900, 2, 10)
    assert second.photo_id == photo.id
    assert first.available and second.available


@pytest.mark.parametrize(
    "change",
    [
        (Sku, "sku", {"on_sale": False}),
        (Product, "product", {"on_sale": False}),
        (Sku, "sku", {"stock": 2}),
    ],
)
def test_a_line_is_unavailable_once_off_sale_or_short_of_stock(ctx, change):
    user, sku = make_user(), sku_of(stock=10)
    add_to_cart(user.id, sku.id, 3)
    model, which, values = change
    set_row(model, sku.id if which == "sku" else sku.product_id, **values)
    [line] = cart(user.id)
    assert line.available is False


def test_what_is_not_on_sale_cannot_be_added(ctx):
    user = make_user()
    off_sku, off_product = sku_of(), sku_of(on_sale=False)
    set_row(Sku, off_sku.id, on_sale=False)
    for sku_id in (off_sku.id, off_product.id, off_sku.id + 1000, 2**31, 0, True, "1", None):
        assert refused(add_to_cart, user.id, sku_id) == "not_on_sale", sku_id
    assert lines(user.id) == {}


@pytest.mark.parametrize("quantity", [0, -1, 1_000, True, False, 1.0, "1", None])
def test_a_quantity_is_a_whole_number_from_1_to_999(ctx, quantity):
    user, sku = make_user(), sku_of()
    assert refused(add_to_cart, user.id, sku.id, quantity) == "quantity"
    assert lines(user.id) == {}


def test_a_line_never_holds_more_than_999(ctx):
    user, sku = make_user(), sku_of(stock=5_000)
    add_to_cart(user.id, sku.id, 999)
    assert refused(add_to_cart, user.id, sku.id, 1) == "quantity"
    assert lines(user.id) == {sku.id: 999}


def test_a_line_never_holds_more_than_the_stock(ctx):
    user, sku = make_user(), sku_of(stock=5)
    assert refused(add_to_cart, user.id, sku.id, 6) == "out_of_stock"
    add_to_cart(user.id, sku.id, 4)
    assert refused(add_to_cart, user.id, sku.id, 2) == "out_of_stock"
    assert add_to_cart(user.id, sku.id, 1) == 5
    assert lines(user.id) == {sku.id: 5}


def test_a_cart_holds_at_most_its_limit_of_lines(ctx):
    user = make_user()
    skus = product_of(MAX_CART_ITEMS + 1).skus
    for sku in skus[:MAX_CART_ITEMS]:
        add_to_cart(user.id, sku.id)
    assert refused(add_to_cart, user.id, skus[-1].id) == "cart_full"
    assert refused(set_cart_quantity, user.id, skus[-1].id, 1) == "cart_full"
    assert add_to_cart(user.id, skus[0].id) == 2  # a line already there still grows
    assert len(lines(user.id)) == MAX_CART_ITEMS


def test_setting_a_quantity_replaces_it_and_zero_removes_the_line(ctx):
    user, sku, other = make_user(), sku_of(stock=8), sku_of()
    add_to_cart(user.id, sku.id, 2)
    add_to_cart(user.id, other.id)
    set_cart_quantity(user.id, sku.id, 8)
    assert lines(user.id) == {sku.id: 8, other.id: 1}
    set_cart_quantity(user.id, sku.id, 0)
    assert lines(user.id) == {other.id: 1}


def test_setting_a_quantity_is_refused_past_the_stock_or_off_sale_but_zero_still_removes(ctx):
    user, sku = make_user(), sku_of(stock=8)
    add_to_cart(user.id, sku.id, 2)
    assert refused(set_cart_quantity, user.id, sku.id, 9) == "out_of_stock"
    assert refused(set_cart_quantity, user.id, sku.id, -1) == "quantity"
    assert refused(set_cart_quantity, user.id, sku.id, True) == "quantity"
    set_row(Sku, sku.id, on_sale=False)
    assert refused(set_cart_quantity, user.id, sku.id, 1) == "not_on_sale"
    assert lines(user.id) == {sku.id: 2}
    set_cart_quantity(user.id, sku.id, 0)
    assert lines(user.id) == {}


def test_setting_a_quantity_adds_a_line_that_is_not_there(ctx):
    user, sku = make_user(), sku_of()
    set_cart_quantity(user.id, sku.id, 3)
    assert lines(user.id) == {sku.id: 3}


def test_removing_takes_out_only_the_shoppers_own_listed_lines(ctx):
    user, neighbour = make_user(), make_user()
    a, b, c = sku_of(), sku_of(), sku_of()
    for sku in (a, b, c):
        add_to_cart(user.id, sku.id)
    add_to_cart(neighbour.id, a.id)

    remove_from_cart(user.id, [a.id, b.id, b.id, 10**12, -1, True, "x"])

    assert lines(user.id) == {c.id: 1}
    assert lines(neighbour.id) == {a.id: 1}
    remove_from_cart(user.id, [])
    assert lines(user.id) == {c.id: 1}


def test_concurrent_adds_of_one_sku_by_one_shopper_add_up(threaded_app):
    user, sku = make_user(), sku_of(stock=1_000)

    results = run_concurrently(threaded_app, add_to_cart, [(user.id, sku.id, 2)] * 20, threads=20)

    assert unexpected(results) == []
    assert sorted(results) == list(range(2, 41, 2))  # each saw the line as the last one left it
    assert lines(user.id) == {sku.id: 40}
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 1

"""The shop's catalogue reads: what is listed, in which order, page by page, and what a product's
page and its share promise show."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from infra.clock import now
from models import (
    Category,
    Commission,
    CommissionCampaign,
    Distributor,
    Product,
    ProductPhoto,
    Sku,
    db,
)
from models.base import begin_write
from models.errors import InvalidCursor, InvalidQuery
from services import catalog, orders
from services.catalog import SORTS, Page
from services.paging import encode_cursor
from services.rules import publish_rule_set
from tests.factories import make_distributor, make_product, make_shopper, make_tier, pay, set_tier

_seq = itertools.count(1)
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def add(*rows):
    begin_write()
    db.session.add_all(rows)
    db.session.commit()
    return rows[0] if len(rows) == 1 else rows


def product_with(skus: list[Sku], photos: int = 0, **fields) -> Product:
    """A product on sale with the given SKUs (its price: the lowest on sale) and photos."""
    on_sale = [s.price_fen for s in skus if s.on_sale is not False] or [0]
    return add(
        Product(
            title=fields.pop("title", f"商品{next(_seq)}"),
            price_fen=min(on_sale),
            skus=skus,
            photos=[
                ProductPhoto(sort=photos - i, width=1, height=1, data=bytes([i]) * 3)
                for i in range(photos)
            ],
            **fields,
        )
    )


def sku(price_fen: int = 1_000, stock: int = 10, sort: int = 0, **fields) -> Sku:
    return Sku(price_fen=price_fen, stock=stock, sort=sort, **fields)


def titles(page: Page) -> list[str]:
    return [card.title for card in page.items]


# --- categories and filters ------------------------------------------------------------------


def test_categories_are_the_shown_ones_in_the_merchants_order(ctx):
    add(
        Category(name="鞋", sort=2),
        Category(name="帽", sort=1),
        Category(name="包", sort=1),
        Category(name="藏", sort=0, shown=False),
    )
    assert [name for _id, name in catalog.categories()] == ["帽", "包", "鞋"]


def test_only_products_on_sale_are_listed_and_a_category_narrows_them(ctx):
    shoes, hats = add(Category(name="鞋"), Category(name="帽"))
    make_product(title="跑鞋", category_id=shoes.id)
    make_product(title="帽子", category_id=hats.id)
    make_product(title="下架的鞋", category_id=shoes.id, on_sale=False)

    assert sorted(titles(catalog.list_products())) == ["帽子", "跑鞋"]
    assert titles(catalog.list_products(category_id=shoes.id)) == ["跑鞋"]


@pytest.mark.parametrize(
    "keyword, found",
    [
        ("鞋", ["跑鞋 Pro", "篮球鞋"]),
        ("pro", ["跑鞋 Pro"]),  # case-insensitive
        ("  PRO ", ["跑鞋 Pro"]),
        ("%", ["五折50%"]),  # a LIKE wildcard matches only itself
        ("_", ["a_b"]),
        ("A_B", ["a_b"]),
        ("\\", ["back\\slash"]),
        ("", ["a_b", "axb", "back\\slash", "五折50%", "篮球鞋", "跑鞋 Pro"]),
        ("袜子", []),
    ],
)
def test_a_keyword_matches_titles_literally_and_ignoring_case(ctx, keyword, found):
    for title in ["跑鞋 Pro", "篮球鞋", "五折50%", "a_b", "axb", "back\\slash"]:
        make_product(title=title)
    assert sorted(titles(catalog.list_products(keyword=keyword, limit=50))) == sorted(found)


@pytest.mark.parametrize(
    "arguments",
    [
        {"keyword": "鞋" * 33},
        {"keyword": "跑\x00鞋"},
        {"keyword": "跑\n鞋"},
        {"keyword": "\u202e鞋"},
        {"keyword": 42},
        {"sort": "price"},
        {"sort": ""},
        {"category_id": "1"},
        {"category_id": True},
        {"category_id": 2**31},
    ],
)
def test_a_query_that_cannot_be_one_is_refused_by_name(ctx, arguments):
    with pytest.raises(InvalidQuery) as refused:
        catalog.list_products(**arguments)
    assert refused.value.code == "invalid_query"


def test_a_keyword_of_32_characters_is_accepted(ctx):
    make_product(title="鞋" * 40)
    assert len(catalog.list_products(keyword="鞋" * 32).items) == 1


@pytest.mark.parametrize("limit", [0, 51, -1, True, "20"])
def test_page_sizes_outside_1_to_50_are_refused(ctx, limit):
    with pytest.raises(InvalidCursor):
        catalog.list_products(limit=limit)


# --- sorting and paging ----------------------------------------------------------------------

EXPECTED = {
    "default": lambda p: (-p.created_at.timestamp(), -p.id),
    "newest": lambda p: (-p.created_at.timestamp(), -p.id),
    "sales": lambda p: (-p.sales_count, -p.id),
    "price_asc": lambda p: (p.price_fen, p.id),
    "price_desc": lambda p: (-p.price_fen, -p.id),
}


def make_ties(count: int) -> list[Product]:
    """Products whose prices, sales and creation times repeat, so every sort has ties."""
    return [
        make_product(
            price_fen=100 * (i % 3 + 1),
            sales_count=i % 4,
            created_at=T0 + timedelta(seconds=i % 5),
        )
        for i in range(count)
    ]


def walk(sort: str, limit: int) -> list[int]:
    ids, cursor, pages = [], None, 0
    while True:
        page = catalog.list_products(sort=sort, cursor=cursor, limit=limit)
        ids += [card.id for card in page.items]
        pages += 1
        assert pages < 100, "the pages never end"
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


def test_walking_every_page_of_every_sort_gives_each_product_once_in_order(ctx):
    make_ties(17)
    make_product(on_sale=False)
    products = db.session.scalars(select(Product).where(Product.on_sale.is_(True))).all()
    for sort in SORTS:
        expected = [p.id for p in sorted(products, key=EXPECTED[sort])]
        for limit in (1, 3, 5, 17, 50):
            assert walk(sort, limit) == expected, (sort, limit)


def test_a_product_added_while_paging_neither_repeats_nor_shifts_the_rest(ctx):
    make_ties(6)
    first = catalog.list_products(sort="price_asc", limit=3)
    make_product(price_fen=50)  # sorts before the first page
    rest = catalog.list_products(sort="price_asc", limit=50, cursor=first.next_cursor)
    seen = [c.id for c in first.items + rest.items]
    assert len(seen) == len(set(seen)) == 6


def test_the_last_page_has_no_cursor(ctx):
    make_ties(3)
    assert catalog.list_products(limit=3).next_cursor is None
    assert catalog.list_products(limit=2).next_cursor is not None


@pytest.mark.parametrize("sort, other", [("sales", "price_asc"), ("default", "newest")])
def test_a_cursor_of_another_sort_is_refused(ctx, sort, other):
    make_ties(4)
    cursor = catalog.list_products(sort=sort, limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        catalog.list_products(sort=other, cursor=cursor)


@pytest.mark.parametrize(
    "kind, key",
    [
        ("products:sales", ["1", 1]),
        ("products:sales", [1]),
        ("products:sales", [1, 0]),
        ("products:sales", [True, 1]),
        ("products:default", [5, 1]),
        ("products:default", ["2026-11-01T12:00:00", 1]),  # no time zone
        ("products:default", ["yesterday", 1]),
    ],
)
def test_a_signed_cursor_of_the_wrong_shape_is_refused_not_queried(ctx, kind, key):
    with pytest.raises(InvalidCursor):
        catalog.list_products(sort=kind.split(":")[1], cursor=encode_cursor(kind, key))


def test_a_made_up_cursor_is_refused(ctx):
    with pytest.raises(InvalidCursor):
        catalog.list_products(cursor="eyJhIjoxfQ.AAAA")


# --- cards and the product page --------------------------------------------------------------


def test_a_card_shows_the_first_photo_and_is_sold_out_without_stock_on_sale(ctx):
    in_stock = product_with([sku(stock=0), sku(stock=2, sort=1)], photos=3, title="有货")
    product_with([sku(stock=0), sku(stock=5, on_sale=False)], title="无货")
    product_with([sku(stock=1)], title="无图")
    cards = {c.title: c for c in catalog.list_products().items}

    assert cards["有货"].photo_id == in_stock.photos[0].id  # the lowest sort
    assert cards["有货"].sold_out is False
    assert cards["无货"].sold_out is True
    assert cards["无货"].photo_id is None and cards["无图"].photo_id is None
    assert cards["无图"].sold_out is False


def test_a_product_page_shows_its_skus_on_sale_and_their_spec_options(ctx):
    hats = add(Category(name="帽"))
    product = product_with(
        [
            sku(2_000, 0, 2, spec={"颜色": "蓝", "尺码": "S"}, spec_text="蓝 / S"),
            sku(1_500, 3, 1, spec={"颜色": "红", "尺码": "M"}, spec_text="红 / M"),
            sku(1_000, 9, 0, spec={"颜色": "红", "尺码": "S"}, spec_text="红 / S"),
            sku(500, 9, 3, spec={"颜色": "绿", "尺码": "L"}, on_sale=False),
        ],
        photos=2,
        category_id=hats.id,
        description="好帽子",
    )
    view = catalog.product_view(product.id)

    assert [s.spec_text for s in view.skus] == ["红 / S", "红 / M", "蓝 / S"]
    assert view.spec_options == {"颜色": ["红", "蓝"], "尺码": ["S", "M"]}
    assert [(s.sold_out, s.low_stock) for s in view.skus] == [
        (False, False),
        (False, True),
        (True, False),
    ]
    assert view.price_fen == 1_000
    assert view.photo_ids == [p.id for p in product.photos]
    assert view.photo_ids == sorted(view.photo_ids, reverse=True)  # the merchant's order
    assert (view.category_id, view.category_name, view.description) == (hats.id, "帽", "好帽子")
    assert view.sold_out is False


def test_a_product_page_is_none_when_missing_or_off_sale(ctx):
    off = make_product(on_sale=False)
    assert catalog.product_view(off.id) is None
    assert catalog.product_view(off.id + 1000) is None
    assert catalog.product_view(2**31) is None


def test_a_product_whose_skus_are_all_empty_is_sold_out(ctx):
    product = product_with([sku(stock=0), sku(stock=0, sort=1)])
    view = catalog.product_view(product.id)
    assert view.sold_out is True
    assert all(s.sold_out for s in view.skus)


def test_a_photo_comes_back_as_stored(ctx):
    product = product_with([sku()], photos=1)
    assert catalog.photo(product.photos[0].id) == ("image/jpeg", b"\x00\x00\x00")
    assert catalog.photo(product.photos[0].id + 1) is None
    assert catalog.photo(0) is None


# --- what sharing earns ----------------------------------------------------------------------


def level_1_commission_of_one_unit(distributor, product) -> int:
    """The level-1 commission the engine books when a bound shopper pays for one unit."""
    order = orders.create_order(make_shopper(bound_to=distributor).id, [(product.id, 1)])
    pay(order)
    return db.session.scalar(
        select(Commission.amount_fen).where(Commission.order_id == order.id, Commission.level == 1)
    )


def campaign(multiplier_bps: int, product_ids=()) -> None:
    at = now()
    add(
        CommissionCampaign(
            name="双倍",
            multiplier_bps=multiplier_bps,
            starts_at=at - timedelta(days=1),
            ends_at=at + timedelta(days=1),
            product_ids=list(product_ids),
        )
    )


def cheapest_first(**override) -> Product:
    """A product whose cheapest SKU is also its default (the one a plain order buys)."""
    return product_with([sku(12_345, sort=0, **override), sku(50_000, sort=1)])


@pytest.mark.parametrize(
    "setting",
    ["global", "rule", "tier", "sku_fixed", "sku_percent", "product", "campaign", "capped"],
)
def test_the_share_promise_equals_what_the_engine_books_for_one_unit(ctx, setting):
    distributor = make_distributor()
    product = cheapest_first()
    if setting == "rule":
        publish_rule_set(2, (1_234, 500, 0))
    elif setting == "tier":
        set_tier(distributor, make_tier("银牌", 1, l1_bps=1_777))
    elif setting == "sku_fixed":
        product = cheapest_first(commission_kind="fixed", commission_values=[321, 0, 0])
    elif setting == "sku_percent":
        product = cheapest_first(commission_kind="percent", commission_values=[2_345, 0, 0])
    elif setting == "product":
        product = product_with(
            [sku(9_999), sku(20_000, sort=1)],
            commission_kind="percent",
            commission_values=[1_111, 0, 0],
        )
    elif setting == "campaign":
        campaign(15_000, [product.id])
    elif setting == "capped":  # a fixed amount above the max share is cut to it
        product = cheapest_first(commission_kind="fixed", commission_values=[99_999, 0, 0])

    promised = catalog.share_commission_fen(distributor.id, product.id)

    assert promised > 0
    assert promised == level_1_commission_of_one_unit(distributor, product)


def test_the_share_promise_uses_the_cheapest_sku_on_sale(ctx):
    distributor = make_distributor()
    product = product_with(
        [sku(30_000, sort=0), sku(10_000, sort=1), sku(1_000, sort=2, on_sale=False)]
    )
    assert catalog.share_commission_fen(distributor.id, product.id) == 1_000  # 10 % of ¥100


def test_nothing_is_promised_to_a_distributor_not_active_or_for_a_product_off_sale(ctx):
    distributor = make_distributor()
    product = make_product()
    off_sale = make_product(on_sale=False)
    assert catalog.share_commission_fen(distributor.id, off_sale.id) == 0
    assert catalog.share_commission_fen(distributor.id, product.id + 1000) == 0
    db.session.execute(
        update(Distributor).where(Distributor.id == distributor.id).values(status="frozen")
    )
    db.session.commit()
    assert catalog.share_commission_fen(distributor.id, product.id) == 0


def test_low_stock_lists_sold_out_and_nearly_sold_out_skus_on_sale_emptiest_first(ctx, app):
    from web.shop_cli import shop_group

    plenty = make_product(1_000, stock=50, title="充足")
    low = make_product(1_000, stock=3, title="快没了")
    gone = make_product(1_000, stock=0, title="卖光了")
    hidden = make_product(1_000, stock=0, title="下架的", on_sale=False)
    alerts = catalog.low_stock()
    assert [(a.product_id, a.stock) for a in alerts] == [(gone.id, 0), (low.id, 3)]
    assert {plenty.id, hidden.id}.isdisjoint(a.product_id for a in alerts)
    out = app.test_cli_runner().invoke(shop_group, ["low-stock"])
    assert out.exit_code == 0, out.output
    assert f"product {gone.id} sku {gone.skus[0].id}: 卖光了: sold out" in out.output
    assert "快没了: 3 left" in out.output and out.output.rstrip().endswith("2 SKU(s) at or under 5")

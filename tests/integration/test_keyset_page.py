"""services.paging.keyset_page, on both databases: pages by (sort key, id) neither repeat nor
skip a row, ties on the sort key included, in either direction; a cursor made up, altered or
made by another list is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from infra.clock import now
from models import Product, db
from models.errors import InvalidCursor
from services.paging import encode_cursor, keyset_page
from tests.factories import make_product


@pytest.fixture
def products(ctx):
    at = now().replace(microsecond=0)
    made = []
    for k, minutes in enumerate((0, 0, 0, 5, 5, 9, 12)):  # ties on created_at
        made.append(make_product(price_fen=100 + k % 3, created_at=at - timedelta(minutes=minutes)))
    return [p.id for p in made]


def walk(limit: int, **options) -> list[int]:
    seen, cursor = [], None
    while True:
        page = keyset_page(select(Product), Product.id, cursor, limit, **options)
        seen.extend(p.id for p in page.items)
        if page.next_cursor is None:
            return seen
        cursor = page.next_cursor


@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("column", ["created_at", "price_fen", None])
def test_pages_cover_every_row_once_in_order(products, descending, column):
    sort = getattr(Product, column) if column else None
    expected_rows = db.session.execute(select(Product.id, Product.created_at, Product.price_fen))
    key = {"created_at": 1, "price_fen": 2}.get(column)
    rows = sorted(
        expected_rows, key=lambda r: (r[key], r[0]) if key else (r[0],), reverse=descending
    )
    expected = [r[0] for r in rows]
    for limit in (1, 2, 3, 7, 50):
        assert walk(limit, sort_column=sort, descending=descending) == expected


def test_a_made_up_or_foreign_cursor_is_refused(products):
    page = keyset_page(select(Product), Product.id, None, 2, sort_column=Product.created_at)
    good = page.next_cursor
    for bad in ("x", good[:-2] + "AA", good.replace(".", "..", 1), encode_cursor("other", [1])):
        with pytest.raises(InvalidCursor):
            keyset_page(select(Product), Product.id, bad, 2, sort_column=Product.created_at)
    with pytest.raises(InvalidCursor):  # a cursor of the newest-first list, for price order
        keyset_page(select(Product), Product.id, good, 2, sort_column=Product.price_fen)

"""The catalogue's cache (services.catalog): a product page and a list page are read once per
CACHE_TTL, and whatever this process commits to products, SKUs, photos or categories (an order
taking stock, an edit) is shown at once."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from infra.db import unit_of_work
from models import Product, ProductPhoto, Sku, db
from services import catalog, orders
from tests.factories import make_product
from tests.support.postgres import end_hot_read_connections


def statements(run) -> int:
    """How many SQL statements `run()` sends."""
    seen = []
    engine = db.engine

    def count(*_args):
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_a_page_is_read_once_and_an_order_taking_stock_is_shown_at_once(ctx):
    tea = make_product(16_800, stock=20, title="普洱")
    [sku_id] = [s.id for s in tea.skus]
    db.session.rollback()
    assert catalog.product_view(tea.id).skus[0].stock == 20
    assert statements(lambda: catalog.product_view(tea.id)) == 0
    assert statements(lambda: catalog.list_products()) > 0
    assert statements(lambda: catalog.list_products()) == 0
    with unit_of_work():
        orders.take_stock(sku_id, 20)  # update(Sku) through the session
    view = catalog.product_view(tea.id)
    assert view.skus[0].stock == 0 and view.sold_out
    assert catalog.list_products().items[0].sold_out


def test_edits_to_products_skus_and_photos_are_shown_at_once(ctx):
    tea = make_product(16_800, title="普洱")
    assert catalog.product_view(tea.id).title == "普洱"
    with unit_of_work():
        db.session.get(Product, tea.id).title = "熟普洱"
    assert catalog.product_view(tea.id).title == "熟普洱"
    with unit_of_work():
        db.session.add(Sku(product_id=tea.id, price_fen=20_000, stock=3, sort=1, spec_text="大"))
        db.session.add(ProductPhoto(product_id=tea.id, sort=0, width=1, height=1, data=b"x"))
    view = catalog.product_view(tea.id)
    assert [s.spec_text for s in view.skus] == ["", "大"] and len(view.photo_ids) == 1
    assert view.skus[1].low_stock
    with unit_of_work():
        db.session.get(Product, tea.id).on_sale = False
    assert catalog.product_view(tea.id) is None
    assert catalog.list_products().items == []


def test_the_api_list_answer_is_kept_with_its_page_and_renewed_with_it(ctx, app):
    tea = make_product(16_800, stock=20, title="普洱")
    [sku_id] = [s.id for s in tea.skus]
    db.session.rollback()
    client = app.test_client()

    def first_card(path: str = "/api/v1/products?limit=20") -> dict:
        answer = client.get(path)
        assert answer.status_code == 200 and answer.mimetype == "application/json"
        return answer.get_json()["items"][0]

    assert first_card() == {
        "id": tea.id,
        "title": "普洱",
        "price_fen": 16_800,
        "photo_id": None,
        "sold_out": False,
        "sales_count": 0,
    }
    kept = client.get("/api/v1/products?limit=20").get_data()
    assert statements(lambda: client.get("/api/v1/products?limit=20")) == 0
    assert client.get("/api/v1/products?limit=20").get_data() == kept
    with unit_of_work():
        orders.take_stock(sku_id, 20)
    assert first_card()["sold_out"] is True
    # A keyword search is never kept, and answers the same shape.
    assert first_card("/api/v1/products?q=普洱")["sold_out"] is True
    assert statements(lambda: client.get("/api/v1/products?q=普洱")) > 0


def test_on_postgresql_the_product_page_is_one_prepared_read_that_survives_a_dropped_connection(
    ctx, app
):
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite reads through the app's session")
    page_path = f"/shop/products/{make_product(16_800, stock=3, title='普洱').id}"
    db.session.rollback()
    client = app.test_client()
    # Nothing goes through the app's engine (no pool check-out, BEGIN or ROLLBACK).
    assert statements(lambda: client.get(page_path)) == 0
    catalog.clear_cache()
    assert end_hot_read_connections(app.config["DATABASE_URL"]) >= 1
    page = client.get(page_path)
    assert page.status_code == 200 and "普洱" in page.text and "仅剩3件" in page.text

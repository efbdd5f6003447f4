"""The console's product pages (issue 16), through HTTP on both databases: a product made with
two SKUs and a photo is in the shop at once; price and stock edits leave audit rows with their
before and after; uploads are checked by content (not an image, SVG, too large: refused and
nothing written); SKUs that orders point at are taken off sale, never deleted; commission
overrides the engine would refuse are refused in words; bad ids are 404; the role check; the
list's filters, sorts, pages and CSV; titles shown as text; the poster preview reads only."""

from __future__ import annotations

import csv
import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from models import (
    AuditEntry,
    Category,
    Poster,
    PosterTemplate,
    Product,
    ProductPhoto,
    Sku,
    db,
)
from services import catalog_admin
from services.catalog_admin import Filters
from tests.factories import make_paid_order, make_product, make_user
from tests.support.console import csrf_token, signed_in_as


def picture(width: int = 64, height: int = 48, fmt: str = "PNG", colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, (width, height), colour).save(out, fmt)
    return out.getvalue()


def product_form(**overrides) -> dict:
    """The new-product form with two SKU rows (颜色:红 ¥12.50 x 7, 颜色:蓝 ¥9.90 x 3)."""
    data = {
        "title": "纯棉T恤",
        "description": "夏季新款",
        "category_id": "",
        "on_sale": "1",
        "commission_kind": "",
        "commission": ["", "", ""],
        "sku-a-spec": "颜色:红",
        "sku-a-price": "12.50",
        "sku-a-stock": "7",
        "sku-a-on_sale": "1",
        "sku-a-commission_kind": "",
        "sku-b-spec": "颜色:蓝",
        "sku-b-price": "9.9",
        "sku-b-stock": "3",
        "sku-b-on_sale": "1",
        "sku-b-commission_kind": "",
    }
    data.update(overrides)
    return data


def post(client, path: str, data: dict, files: dict | None = None, page: str = "/console/"):
    body = {**data, "csrf_token": csrf_token(client, page)}
    if files:
        body.update(files)
        return client.post(path, data=body, content_type="multipart/form-data")
    return client.post(path, data=body)


def create(client, files: dict | None = None, **overrides):
    return post(client, "/console/products/new", product_form(**overrides), files)


def edit_form(product: Product, **overrides) -> dict:
    """The edit form as the page shows it for `product` (its SKUs as rows s<id>)."""
    data = {
        "title": product.title,
        "description": product.description or "",
        "category_id": str(product.category_id or ""),
        "on_sale": "1" if product.on_sale else "",
        "commission_kind": "",
        "commission": ["", "", ""],
    }
    for sku in product.skus:
        key = f"sku-s{sku.id}-"
        data.update(
            {
                key + "id": str(sku.id),
                key + "spec": " / ".join(f"{k}:{v}" for k, v in (sku.spec or {}).items()),
                key + "price": f"{sku.price_fen / 100:.2f}",
                key + "stock": str(sku.stock),
                key + "stock_seen": str(sku.stock),
                key + "on_sale": "1" if sku.on_sale else "",
                key + "commission_kind": "",
            }
        )
    data.update(overrides)
    return data


def audit_rows(action: str | None = None, entity: str | None = None) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    return list(db.session.scalars(query))


def counts() -> tuple[int, int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(m))
        for m in (Product, Sku, ProductPhoto, AuditEntry)
    )


@pytest.fixture
def operator(app, client):
    return signed_in_as(client, app, "operator")


# -- creating and the shop ------------------------------------------------------------------------
def test_a_product_made_with_two_skus_and_a_photo_is_in_the_shop_with_both(app, operator):
    answer = create(operator, {"photos": (io.BytesIO(picture(2400, 1600)), "shirt.png")})
    assert answer.status_code == 302, answer.text
    product_id = int(answer.location.rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product.price_fen == 990  # the lowest SKU price on sale
        assert [(s.spec, s.spec_text, s.price_fen, s.stock) for s in product.skus] == [
            ({"颜色": "红"}, "红", 1250, 7),
            ({"颜色": "蓝"}, "蓝", 990, 3),
        ]
        [photo] = product.photos
        assert (photo.width, photo.height, photo.content_type) == (1200, 800, "image/jpeg")
        assert Image.open(io.BytesIO(photo.data)).size == (1200, 800)  # resized once, stored
        # A new row's id is in its `after` (services.audit leaves entity_id empty for inserts).
        made = {(e.entity, e.after["id"]) for e in audit_rows("product.create")}
        assert made == {
            ("products", product_id),
            *(("skus", s.id) for s in product.skus),
            ("product_photos", photo.id),
        }
        photo_id = photo.id
    page = operator.get(f"/shop/products/{product_id}")
    assert page.status_code == 200
    assert "纯棉T恤" in page.text and "红 · ¥12.50" in page.text and "蓝 · ¥9.90" in page.text
    served = operator.get(f"/shop/photos/{photo_id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"


def test_the_edit_page_shows_the_skus_photos_and_a_poster_preview(app, operator):
    answer = create(operator, {"photos": (io.BytesIO(picture()), "a.png")})
    page = operator.get(answer.location)
    assert page.status_code == 200
    assert 'value="颜色:红"' in page.text and 'value="12.50"' in page.text
    assert re.search(r'<img class="px-poster" src="/console/products/\d+/poster.jpg"', page.text)
    assert " style=" not in page.text and "<script>" not in page.text


def test_the_poster_preview_is_drawn_without_writing_anything(app, operator):
    answer = create(operator, {"photos": (io.BytesIO(picture()), "a.png")})
    with app.app_context():
        before = counts()
    preview = operator.get(answer.location + "/poster.jpg")
    assert preview.status_code == 200 and preview.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(preview.data)).size == (750, 1334)
    with app.app_context():
        assert counts() == before
        assert db.session.scalar(select(func.count()).select_from(PosterTemplate)) == 0
        assert db.session.scalar(select(func.count()).select_from(Poster)) == 0


# -- editing: audit rows, the shop's cache --------------------------------------------------------
def test_a_price_and_stock_edit_is_audited_with_before_and_after_and_the_shop_shows_it(
    app, operator
):
    with app.app_context():
        product = make_product(price_fen=10_000, stock=20, title="茶叶")
        product_id, sku_id = product.id, product.skus[0].id
        form = edit_form(product)
    assert "¥100.00" in operator.get(f"/shop/products/{product_id}").text  # now in the cache
    form.update({f"sku-s{sku_id}-price": "88.80", f"sku-s{sku_id}-stock": "25"})
    answer = post(operator, f"/console/products/{product_id}", form)
    assert answer.status_code == 302, answer.text
    with app.app_context():
        [sku_row] = audit_rows("product.edit", "skus")
        assert sku_row.entity_id == sku_id
        assert sku_row.before == {"price_fen": 10_000, "stock": 20}
        assert sku_row.after == {"price_fen": 8_880, "stock": 25}
        [product_row] = audit_rows("product.edit", "products")
        assert product_row.before == {"price_fen": 10_000} and product_row.after == {
            "price_fen": 8_880
        }
        assert product_row.staff_name == "operator"
    assert "¥88.80" in operator.get(f"/shop/products/{product_id}").text


def test_a_stock_edit_keeps_the_units_sold_while_the_form_was_open(app, operator):
    with app.app_context():
        product = make_product(price_fen=1_000, stock=10)
        product_id, sku_id = product.id, product.skus[0].id
        make_paid_order(make_user(), [(product_id, 2)])  # 10 -> 8 after the page was read
    answer = post(
        operator,
        f"/console/products/{product_id}/skus/{sku_id}/stock",
        {"stock_seen": "10", "stock": "15"},
    )
    assert answer.status_code == 302
    with app.app_context():
        assert db.session.get(Sku, sku_id).stock == 13
        [row] = audit_rows("sku.stock")
        assert (row.entity, row.entity_id, row.before, row.after) == (
            "skus",
            sku_id,
            {"stock": 8},
            {"stock": 13},
        )


def test_a_sku_an_order_points_at_is_taken_off_sale_and_an_unused_one_is_deleted(app, operator):
    answer = create(operator)
    product_id = int(answer.location.rsplit("/", 1)[1])
    with app.app_context():
        product = db.session.get(Product, product_id)
        red, blue = product.skus
        make_paid_order(make_user(), [(product_id, 1)])  # the default SKU: red, the first
        form = edit_form(product)
        red_id, blue_id = red.id, blue.id
    form.update({f"sku-s{red_id}-remove": "1", f"sku-s{blue_id}-remove": "1"})
    form.update({"sku-c-spec": "颜色:绿", "sku-c-price": "5", "sku-c-stock": "1"})
    form["sku-c-on_sale"] = "1"
    answer = post(operator, f"/console/products/{product_id}", form)
    assert answer.status_code == 302, answer.text
    with app.app_context():
        kept = db.session.get(Sku, red_id)
        assert kept is not None and kept.on_sale is False
        assert db.session.get(Sku, blue_id) is None
        assert db.session.get(Product, product_id).price_fen == 500
        deleted = audit_rows("product.edit", "skus")
        assert any(e.entity_id == blue_id and e.after is None for e in deleted)
        assert any(e.entity_id == red_id and e.after == {"on_sale": False} for e in deleted)
    page = operator.get(f"/console/products/{product_id}")
    assert "不能删除，已改为下架" in page.text


def test_removing_a_product_with_orders_takes_it_off_sale_and_one_without_is_deleted(app, operator):
    with app.app_context():
        sold = make_product(price_fen=1_000)
        make_paid_order(make_user(), [(sold.id, 1)])
        unsold = make_product(price_fen=1_000)
        sold_id, unsold_id = sold.id, unsold.id
    assert post(operator, f"/console/products/{sold_id}/remove", {}).status_code == 302
    assert post(operator, f"/console/products/{unsold_id}/remove", {}).status_code == 302
    with app.app_context():
        assert db.session.get(Product, sold_id).on_sale is False
        assert db.session.get(Product, unsold_id) is None
        removed = audit_rows("product.remove", "products")
        assert {(e.entity_id, e.after is None) for e in removed} == {
            (sold_id, False),
            (unsold_id, True),
        }


# -- photos ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("notes.png", b"this is only text, not a picture", "不是 JPEG、PNG 或 WebP"),
        (
            "logo.svg",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)'
            b"</script></svg>",
            "不支持 SVG",
        ),
        ("anim.gif", picture(fmt="GIF"), "不是 JPEG、PNG 或 WebP"),
        ("huge.png", picture() + b"\0" * (5 * 1024 * 1024), "每张最多 5 MB"),
    ],
)
def test_an_upload_that_is_not_an_accepted_image_is_refused_and_nothing_is_written(
    app, operator, name, data, words
):
    with app.app_context():
        before = counts()
    answer = create(operator, {"photos": (io.BytesIO(data), name)})
    assert answer.status_code == 400 and words in answer.text
    assert 'value="纯棉T恤"' in answer.text  # what was typed is kept
    with app.app_context():
        assert counts() == before


def test_a_request_past_the_upload_limit_gets_a_413_page_and_nothing_is_written(app, operator):
    with app.app_context():
        before = counts()
    files = {"photos": [(io.BytesIO(b"\0" * (4 * 1024 * 1024)), f"{i}.png") for i in range(8)]}
    answer = create(operator, files)
    assert answer.status_code == 413 and "提交的内容太大" in answer.text and "30 MB" in answer.text
    with app.app_context():
        assert counts() == before


def test_photos_are_ordered_and_removed_with_audit_rows(app, operator):
    files = {
        "photos": [
            (io.BytesIO(picture(colour=c)), f"{i}.png")
            for i, c in enumerate([(255, 0, 0), (0, 255, 0)])
        ]
    }
    answer = create(operator, files)
    product_id = int(answer.location.rsplit("/", 1)[1])
    with app.app_context():
        first, second = (p.id for p in db.session.get(Product, product_id).photos)
    path = f"/console/products/{product_id}/photos"
    assert post(operator, f"{path}/{second}/move", {"direction": "up"}).status_code == 302
    with app.app_context():
        assert [p.id for p in db.session.get(Product, product_id).photos] == [second, first]
        assert audit_rows("photo.move")
    assert post(operator, f"{path}/{first}/remove", {}).status_code == 302
    with app.app_context():
        assert [p.id for p in db.session.get(Product, product_id).photos] == [second]
        [row] = audit_rows("photo.remove")
        assert (row.entity, row.entity_id, row.after) == ("product_photos", first, None)


# -- commission overrides -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "values", "words"),
    [
        ("percent", ["60", "50", ""], "超过了 100%"),
        ("percent", ["10", "5", "5", "5"], "最多 3 级"),
        ("percent", ["-5", "", ""], "不能是负数"),
        ("fixed", ["abc", "", ""], "固定佣金请填金额"),
        ("percent", ["", "", ""], "至少填写一级"),
    ],
)
def test_a_commission_the_engine_would_refuse_is_refused_in_words(
    app, operator, kind, values, words
):
    with app.app_context():
        before = counts()
    answer = create(operator, commission_kind=kind, commission=values)
    assert answer.status_code == 400 and words in answer.text
    with app.app_context():
        assert counts() == before


def test_commission_overrides_are_stored_as_the_engine_reads_them(app, operator):
    answer = create(
        operator,
        commission_kind="percent",
        commission=["12.5", "5", ""],
        **{"sku-b-commission_kind": "fixed", "sku-b-commission": ["1.5", "0.5", ""]},
    )
    assert answer.status_code == 302, answer.text
    with app.app_context():
        product = db.session.get(Product, int(answer.location.rsplit("/", 1)[1]))
        red, blue = product.skus
        assert red.commission_override.kind == "percent"
        assert red.commission_override.values == (1250, 500, 0)
        assert (blue.commission_kind, blue.commission_values) == ("fixed", [150, 50, 0])


def test_two_skus_on_sale_with_the_same_spec_are_refused(app, operator):
    answer = create(operator, **{"sku-b-spec": "颜色:红"})
    assert answer.status_code == 400 and "完全相同" in answer.text
    bad = create(operator, **{"sku-b-price": "0"})
    assert bad.status_code == 400 and "大于 0 的金额" in bad.text


# -- ids, roles, anonymous ------------------------------------------------------------------------
def test_bad_ids_are_404(app, operator):
    with app.app_context():
        one, other = make_product(), make_product()
        one_id, other_sku = one.id, other.skus[0].id
    assert operator.get("/console/products/999999").status_code == 404
    assert operator.get("/console/products/abc").status_code == 404
    assert operator.get("/console/products/99999999999999").status_code == 404
    assert operator.get("/console/products/999999/poster.jpg").status_code == 404
    assert post(operator, "/console/products/999999", product_form()).status_code == 404
    assert post(operator, "/console/products/999999/remove", {}).status_code == 404
    stock = {"stock_seen": "1", "stock": "2"}
    assert (
        post(operator, f"/console/products/{one_id}/skus/{other_sku}/stock", stock).status_code
        == 404
    )
    assert post(operator, f"/console/products/{one_id}/photos/1/remove", {}).status_code == 404
    assert post(operator, "/console/products/categories/999/remove", {}).status_code == 404
    assert operator.get("/console/products?category=x").status_code == 404
    assert operator.get("/console/products?cursor=made-up").status_code == 400
    assert operator.get("/console/products?sort=cheapest").status_code == 400


def test_owner_and_operator_may_use_the_products_pages_and_finance_may_not(app, client):
    signed_in_as(client, app, "finance")
    for path in ("/console/products", "/console/products/new", "/console/products/categories"):
        refused = client.get(path)
        assert refused.status_code == 403 and "运营" in refused.text
    answer = post(client, "/console/products/new", product_form())
    assert answer.status_code == 403
    with app.app_context():
        assert counts()[0] == 0
    other = app.test_client()
    signed_in_as(other, app, "owner")
    assert other.get("/console/products").status_code == 200


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for path in ("/console/products", "/console/products/new", "/console/products/1"):
        answer = client.get(path)
        assert answer.status_code == 302 and "/console/login" in answer.location


# -- the list -------------------------------------------------------------------------------------
def test_the_list_filters_sorts_and_pages(app, operator):
    with app.app_context():
        tea = make_product(price_fen=3_000, stock=2, title="龙井茶")
        cup = make_product(price_fen=1_000, stock=50, title="茶杯")
        off = make_product(price_fen=2_000, stock=9, title="旧款", on_sale=False)
        ids = tea.id, cup.id, off.id
        by_stock = catalog_admin.product_rows(Filters(), "stock")
        assert [r.id for r in by_stock.items] == [ids[0], ids[2], ids[1]]
        first = catalog_admin.product_rows(Filters(), "price_asc", limit=2)
        second = catalog_admin.product_rows(Filters(), "price_asc", first.next_cursor, limit=2)
        assert [r.id for r in first.items + second.items] == [ids[1], ids[2], ids[0]]
        assert second.next_cursor is None
    page = operator.get("/console/products?low=1")
    assert "龙井茶" in page.text and "茶杯" not in page.text and "库存不足" in page.text
    assert "旧款" in operator.get("/console/products?status=off").text
    assert "龙井茶" not in operator.get("/console/products?status=off").text
    found = operator.get("/console/products?q=茶杯")
    assert "茶杯" in found.text and "龙井茶" not in found.text


def test_the_csv_neutralises_formulas_and_the_pages_show_titles_as_text(app, operator):
    with app.app_context():
        formula = make_product(title='=HYPERLINK("x")')
        script = make_product(title="<script>alert(1)</script>")
        script_id = formula.id and script.id
    answer = operator.get("/console/products?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    titles = {row[1] for row in rows[1:]}
    assert '\'=HYPERLINK("x")' in titles and '=HYPERLINK("x")' not in titles
    for path in ("/console/products", f"/console/products/{script_id}"):
        page = operator.get(path)
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


# -- htmx partials and categories -----------------------------------------------------------------
def test_a_sku_row_comes_from_the_server_for_htmx(operator):
    row = operator.get("/console/products/sku-row")
    assert row.status_code == 200
    assert re.search(r'name="sku-n[a-z0-9]{8}-spec"', row.text) and "<tr" in row.text


def test_a_category_is_added_from_the_form_and_a_used_one_cannot_be_removed(app, operator):
    token = csrf_token(operator, "/console/products/new")
    answer = operator.post(
        "/console/products/categories",
        data={"new_category": "茶具", "category_id": ""},
        headers={"HX-Request": "true", "X-CSRFToken": token},
    )
    assert answer.status_code == 200 and 'id="category-field"' in answer.text
    with app.app_context():
        category_id = db.session.scalar(select(Category.id).where(Category.name == "茶具"))
        [row] = audit_rows("category.create")
        assert row.after["id"] == category_id and row.after["name"] == "茶具"
    assert f'<option value="{category_id}" selected>' in answer.text
    again = post(operator, "/console/products/categories", {"new_category": "茶具"})
    assert "已有同名的分类" in operator.get(again.location).text
    created = create(operator, category_id=str(category_id))
    assert created.status_code == 302
    post(operator, f"/console/products/categories/{category_id}/remove", {})
    with app.app_context():
        assert db.session.get(Category, category_id) is not None
        assert not audit_rows("category.remove")


@pytest.mark.parametrize("sort", catalog_admin.SORTS)
def test_every_sort_pages_through_every_product_once(ctx, sort):
    ids = {make_product(price_fen=1_000 * (i % 2 + 1), stock=i % 2).id for i in range(5)}
    seen, cursor = [], None
    while True:
        page = catalog_admin.product_rows(Filters(), sort, cursor, limit=2)
        seen += [row.id for row in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert sorted(seen) == sorted(ids) and len(seen) == len(ids)


@pytest.mark.parametrize("forged", ["٣", "-1", "9" * 12, "abc", "1\x00"])
def test_a_forged_stock_seen_is_refused_in_words_and_changes_nothing(app, operator, forged):
    answer = create(operator)
    product_id = int(answer.location.rsplit("/", 1)[1])
    with app.app_context():
        product = db.session.get(Product, product_id)
        form = edit_form(product)
        red_id = product.skus[0].id
        stocks = {s.id: s.stock for s in product.skus}
    removed = {**form, f"sku-s{red_id}-remove": "1", f"sku-s{red_id}-stock_seen": forged}
    kept = {**form, f"sku-s{red_id}-stock_seen": forged, f"sku-s{red_id}-stock": "7"}
    for fields in (removed, kept):
        answer = post(operator, f"/console/products/{product_id}", fields)
        assert answer.status_code in (200, 302, 400), answer.status_code
    single = post(
        operator,
        f"/console/products/{product_id}/skus/{red_id}/stock",
        {"stock_seen": forged, "stock": "7"},
    )
    assert single.status_code in (302, 400), single.status_code
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert {s.id: s.stock for s in product.skus} == stocks
        assert all(s.on_sale for s in product.skus)

"""The demo shop looks real: dozens of products in several categories, each with drawn photos and
SKUs, one sold out and one running low, coupons valid now, a shipping template; seeding twice
duplicates nothing, and an older demo's bare products are completed rather than doubled."""

from __future__ import annotations

import io
from datetime import timedelta
from functools import cache

import pytest
from PIL import Image
from sqlalchemy import func, select

from demo_identity import DEMO_MERCHANT_SLUG
from infra.clock import now
from models import Category, Coupon, Merchant, Product, ProductPhoto, Sku, db
from models.catalog import LOW_STOCK
from models.pricing import CouponTerms
from services import demo_seed
from services.demo_seed import CATALOGUE, seed_demo


@pytest.fixture(autouse=True)
def photos_drawn_once(monkeypatch):
    """Each photo drawn once per test run: drawing is tested in tests/unit/test_product_photos."""
    monkeypatch.setattr(demo_seed, "draw_product_photo", _drawn)


_drawn = cache(demo_seed.draw_product_photo)


def products() -> list[Product]:
    return db.session.scalars(select(Product).order_by(Product.id)).all()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_the_demo_shop_has_dozens_of_products_in_categories_with_photos_and_specs(ctx):
    seed_demo()
    on_sale = [p for p in products() if p.on_sale]
    assert len(on_sale) >= 25
    assert len({p.category_id for p in on_sale if p.category_id}) >= 5
    for product in on_sale:
        assert product.description and product.category is not None, product.title
        assert len(product.photos) >= 2 and len(product.skus) >= 1, product.title
        assert product.price_fen == min(s.price_fen for s in product.skus if s.on_sale)
        for sku in product.skus:
            assert sku.spec_text == " / ".join(sku.spec.values()), product.title
    tee = next(p for p in on_sale if p.title.startswith("纯棉基础款"))
    assert {tuple(s.spec) for s in tee.skus} == {("颜色", "尺码")}
    assert {s.spec_text for s in tee.skus} >= {"白 / M", "黑 / XL"}
    photo = db.session.scalars(select(ProductPhoto)).first()
    image = Image.open(io.BytesIO(photo.data))
    assert (image.format, image.size) == ("JPEG", (photo.width, photo.height))


def test_exactly_one_demo_product_is_sold_out_and_one_runs_low(ctx):
    seed_demo()
    sold_out = [p.title for p in products() if p.sold_out]
    low = [
        (p.title, s.stock)
        for p in products()
        for s in p.skus
        if s.on_sale and 0 < s.stock <= LOW_STOCK
    ]
    assert sold_out == ["东北黑木耳 250g"]
    assert low == [("丝绒哑光口红", 3)]


def test_one_demo_sku_earns_its_own_commission(ctx):
    seed_demo()
    own = db.session.scalars(select(Sku).where(Sku.commission_kind.is_not(None))).all()
    assert [(s.product.title, s.spec_text) for s in own] == [("主动降噪头戴式耳机", "云雾白")]
    assert own[0].commission_override.values == (5_000, 2_000, 0)


def test_sorting_by_sales_and_by_newest_tells_products_apart(ctx):
    seed_demo()
    shown = products()
    assert len({p.sales_count for p in shown}) == len(shown)
    assert len({p.created_at for p in shown}) == len(shown)
    newest, oldest = max(p.created_at for p in shown), min(p.created_at for p in shown)
    assert newest - oldest > timedelta(weeks=4)


def test_the_demo_coupons_are_valid_now_and_shipping_is_free_from_99_yuan(ctx):
    seed_demo()
    coupons = db.session.scalars(select(Coupon).order_by(Coupon.id)).all()
    assert [c.kind for c in coupons] == ["amount_off", "percent_off", "no_threshold"]
    at = now()
    for c in coupons:
        CouponTerms(
            kind=c.kind,
            starts_at=c.starts_at,
            ends_at=c.ends_at,
            off_fen=c.off_fen,
            discount_bps=c.discount_bps,
            cap_fen=c.cap_fen,
            min_goods_fen=c.min_goods_fen,
        )
        assert c.active and c.starts_at <= at < c.ends_at
        assert c.ends_at - at > timedelta(days=89)
    full, percent, free = coupons
    assert (full.min_goods_fen, full.off_fen) == (9_900, 1_000)
    assert (percent.discount_bps, percent.cap_fen) == (1_000, 2_000)
    assert (free.off_fen, free.total_limit) == (500, 200)
    merchant = db.session.scalar(select(Merchant).where(Merchant.slug == DEMO_MERCHANT_SLUG))
    assert (merchant.shipping_flat_fen, merchant.shipping_free_over_fen) == (800, 9_900)
    assert merchant.shipping_excluded_regions == ["新疆", "西藏"]


def test_seeding_the_demo_twice_duplicates_nothing(ctx):
    seed_demo()
    first = [count(m) for m in (Product, Sku, ProductPhoto, Category, Coupon)]
    seed_demo()
    assert [count(m) for m in (Product, Sku, ProductPhoto, Category, Coupon)] == first
    assert first[0] == len(CATALOGUE) == len({d.title for d in CATALOGUE})


def test_an_older_demos_bare_products_get_photos_and_keep_their_skus(ctx):
    old = [Product(title=d.title, price_fen=d.skus[0].price_fen) for d in CATALOGUE[:6]]
    for product, demo in zip(old, CATALOGUE, strict=False):
        product.skus = [Sku(price_fen=demo.skus[0].price_fen, stock=100)]
    db.session.add_all(old)
    db.session.commit()
    sku_ids = [p.skus[0].id for p in old]
    seed_demo()
    shown = products()
    assert [p.title for p in shown] == [d.title for d in CATALOGUE]
    assert [[s.id for s in p.skus] for p in shown[:6]] == [[i] for i in sku_ids]
    assert all(len(p.photos) >= 2 and p.category is not None for p in shown)

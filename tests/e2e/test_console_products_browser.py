"""The console's product form in Chromium over real HTTP (issue 16's acceptance): an operator
signs in, makes a product with two SKUs (the second row added through htmx) and an uploaded
photo, sees its poster preview, then opens the product's shop page and finds both SKUs with
their prices and the photo. Screenshots of every step are kept in the test's folder."""

from __future__ import annotations

import pytest
from PIL import Image
from playwright.sync_api import expect

from models import Product, db
from tests.support.browser import Shots, browser_page, sign_in
from tests.support.console import make_staff
from tests.support.serving import serve

pytestmark = pytest.mark.slow


def test_an_operator_makes_a_product_with_two_skus_and_a_photo_and_the_shop_shows_it(
    app, chromium, tmp_path
):
    with app.app_context():
        make_staff("operator", "yunying")
    photo = tmp_path / "shirt.png"
    Image.new("RGB", (1600, 1200), (30, 110, 200)).save(photo)
    shot = Shots(tmp_path)
    with serve(app) as base, browser_page(chromium) as page:
        page.goto(f"{base}/console/products")
        sign_in(page, "yunying", shot=shot)
        expect(page.locator("h1")).to_contain_text("商品")
        page.get_by_role("link", name="新建商品").click()

        page.fill("#title", "夏季纯棉T恤")
        page.fill("#description", "透气、不起球")
        specs = page.locator("input[name$='-spec']")
        specs.nth(0).fill("颜色:红")
        page.locator("input[name$='-price']").nth(0).fill("59.90")
        page.locator("input[name$='-stock']").nth(0).fill("20")
        page.get_by_role("button", name="添加规格").click()  # htmx brings the second row
        expect(specs).to_have_count(2)
        specs.nth(1).fill("颜色:蓝")
        page.locator("input[name$='-price']").nth(1).fill("49.90")
        page.locator("input[name$='-stock']").nth(1).fill("3")
        page.set_input_files("#photos", str(photo))
        shot(page, "form")
        page.get_by_role("button", name="保存", exact=True).click()

        expect(page.locator(".cx-note")).to_contain_text("商品已创建")
        product_id = int(page.url.rstrip("/").rsplit("/", 1)[1])
        poster = page.locator("img.px-poster")
        expect(poster).to_be_visible()
        page.wait_for_function(
            "() => { const i = document.querySelector('img.px-poster');"
            " return i && i.complete && i.naturalWidth === 750; }",
            timeout=30_000,
        )
        shot(page, "saved-with-poster")

        page.goto(f"{base}/shop/products/{product_id}")
        expect(page.locator("h1")).to_have_text("夏季纯棉T恤")
        expect(page.locator("label.shop-spec", has_text="红")).to_contain_text("¥59.90")
        expect(page.locator("label.shop-spec", has_text="蓝")).to_contain_text("¥49.90")
        shop_photo = page.locator("img[src*='/shop/photos/']").first
        expect(shop_photo).to_be_visible()
        shot(page, "shop")

        page.goto(f"{base}/console/products?low=1")
        expect(page.locator("table.cx-table")).to_contain_text("夏季纯棉T恤")  # 蓝: 3 left
        shot(page, "list-low-stock")

    assert not [e for e in page.errors if "Content Security Policy" in e]
    with app.app_context():
        product = db.session.get(Product, product_id)
        assert product.price_fen == 4_990 and len(product.skus) == 2
        assert (product.photos[0].width, product.photos[0].height) == (1200, 900)

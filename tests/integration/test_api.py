"""The shop's JSON API over HTTP (the test client), on both databases: the whole way from the
catalogue to a refund the merchant approves, and bad input answered with a clear 4xx in the
one error shape, never a 500 and never a half-write."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from models import CartItem, Category, Order, ProductPhoto, RefundRequest, Sku, db
from models.base import begin_write
from services import catalog as catalog_service
from services.catalog import SORTS
from tests.factories import make_distributor, make_product, make_shopper, pay
from tests.support.checkout import FakePay, add_sku, make_address, make_coupon
from web.signin import SESSION_OPENID
from wechat.pay_v3 import use_pay_gateway

API = "/api/v1"
WRITE = {"X-Requested-With": "fenxiao"}


@pytest.fixture
def gateway(ctx):
    fake = FakePay()
    use_pay_gateway(ctx, fake)
    return fake


@pytest.fixture
def shop(ctx):
    """A category with two products (one of two SKUs), a third product elsewhere, a coupon."""
    begin_write()
    cups = Category(name="杯子", sort=1)
    db.session.add(cups)
    db.session.commit()
    mug = make_product(price_fen=5_000, stock=10, title="保温杯", category_id=cups.id)
    red = db.session.scalars(select(Sku).where(Sku.product_id == mug.id)).one()
    blue = add_sku(mug, 8_000, 5, "蓝")
    begin_write()
    db.session.add(ProductPhoto(product_id=mug.id, sort=0, width=1, height=1, data=b"x"))
    db.session.commit()
    glass = make_product(price_fen=3_000, stock=3, title="玻璃杯", category_id=cups.id)
    glass_sku = db.session.scalars(select(Sku).where(Sku.product_id == glass.id)).one()
    towel = make_product(price_fen=2_000, stock=50, title="毛巾")
    coupon = make_coupon(off_fen=1_000, title="立减10元")
    return {
        "cups": cups,
        "mug": mug,
        "red": red,
        "blue": blue,
        "glass": glass_sku,
        "towel": towel,
        "coupon": coupon,
    }


def sign_in(client, user) -> None:
    with client.session_transaction() as session:
        session[SESSION_OPENID] = user.openid


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) <= {"code", "message", "details"} and body["message"]
    return body


def every_page(client, url: str, limit: int, **query) -> list[dict]:
    """All items of a list, following next_cursor until it is null."""
    found, cursor = [], None
    for _ in range(100):
        args = {**query, "limit": limit, **({"cursor": cursor} if cursor else {})}
        page = client.get(url, query_string=args)
        assert page.status_code == 200, page.get_data(as_text=True)
        body = page.get_json()
        assert len(body["items"]) <= limit
        found += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return found
    raise AssertionError("the pages never ended")


def test_the_whole_way_from_the_catalogue_to_an_approved_refund(ctx, client, shop, gateway):
    shopper = make_shopper()
    sign_in(client, shopper)

    categories = client.get(f"{API}/categories").get_json()
    assert categories == {"items": [{"id": shop["cups"].id, "name": "杯子"}], "next_cursor": None}
    in_cups = client.get(f"{API}/products", query_string={"category_id": shop["cups"].id})
    assert {p["title"] for p in in_cups.get_json()["items"]} == {"保温杯", "玻璃杯"}
    found = client.get(f"{API}/products", query_string={"q": "毛巾"}).get_json()["items"]
    assert [p["id"] for p in found] == [shop["towel"].id]

    detail = client.get(f"{API}/products/{shop['mug'].id}").get_json()
    assert detail["price_fen"] == 5_000 and len(detail["photo_ids"]) == 1
    assert [s["price_fen"] for s in detail["skus"]] == [5_000, 8_000]
    assert detail["share_commission_fen"] is None  # a shopper, not a distributor

    red, blue = shop["red"].id, shop["blue"].id
    added = client.post(f"{API}/cart/items", json={"sku_id": red, "quantity": 2}, headers=WRITE)
    assert added.status_code == 201 and added.get_json() == {"sku_id": red, "quantity": 2}
    again = client.post(f"{API}/cart/items", json={"sku_id": red}, headers=WRITE)
    assert again.get_json()["quantity"] == 3
    client.post(f"{API}/cart/items", json={"sku_id": blue, "quantity": 1}, headers=WRITE)
    put = client.put(f"{API}/cart/items/{blue}", json={"quantity": 2}, headers=WRITE)
    assert put.status_code == 200
    assert client.get(f"{API}/cart/count").get_json() == {"count": 5}
    gone = client.delete(f"{API}/cart/items/{blue}", headers=WRITE)
    assert gone.status_code == 204
    lines = client.get(f"{API}/cart").get_json()["items"]
    assert [(line["sku_id"], line["quantity"], line["price_fen"]) for line in lines] == [
        (red, 3, 5_000)
    ]

    address = client.post(
        f"{API}/addresses",
        json={
            "name": "张三",
            "phone": "13800000000",
            "province": "浙江省",
            "city": "杭州市",
            "district": "西湖区",
            "detail": "文三路 1 号",
        },
        headers=WRITE,
    )
    assert address.status_code == 201, address.get_data(as_text=True)
    address_id = address.get_json()["id"]
    assert address.get_json()["is_default"] is True

    offers = client.get(f"{API}/coupons").get_json()["items"]
    assert [o["coupon_id"] for o in offers] == [shop["coupon"].id]
    claimed = client.post(f"{API}/coupons/{shop['coupon'].id}/claim", headers=WRITE)
    assert claimed.status_code == 201, claimed.get_data(as_text=True)
    user_coupon_id = claimed.get_json()["user_coupon_id"]
    assert claimed.get_json()["terms"]["starts_at"].endswith("+08:00")
    twice = client.post(f"{API}/coupons/{shop['coupon'].id}/claim", headers=WRITE)
    assert error_of(twice, 409)["code"] == "user_limit_reached"

    basket = {"items": [{"sku_id": red, "quantity": 3}], "user_coupon_id": user_coupon_id}
    quote = client.post(f"{API}/checkout/quote", json=basket, headers=WRITE).get_json()
    assert (quote["goods_fen"], quote["discount_fen"]) == (15_000, 1_000)
    assert quote["payable_fen"] == 14_000 + quote["shipping_fen"]
    assert quote["refusal"] is None and quote["address_id"] == address_id

    placed = client.post(
        f"{API}/orders",
        json={**basket, "address_id": address_id, "note": "请尽快发货", "from_cart": True},
        headers=WRITE,
    )
    assert placed.status_code == 201, placed.get_data(as_text=True)
    order = placed.get_json()
    assert order["status"] == "pending_payment" and order["payable_fen"] == quote["payable_fen"]
    assert order["created_at"].endswith("+08:00") and order["address"]["city"] == "杭州市"
    assert client.get(f"{API}/cart").get_json()["items"] == []  # from_cart: the line is gone

    params = client.post(f"{API}/orders/{order['order_no']}/pay", headers=WRITE)
    assert params.status_code == 200, params.get_data(as_text=True)
    assert set(params.get_json()) == {
        "appId",
        "timeStamp",
        "nonceStr",
        "package",
        "signType",
        "paySign",
    }
    assert gateway.prepays[0][2] == quote["payable_fen"]

    # A second order, cancelled while unpaid.
    second = client.post(
        f"{API}/orders",
        json={"items": [{"sku_id": blue, "quantity": 1}], "address_id": address_id},
        headers=WRITE,
    ).get_json()
    cancelled = client.post(f"{API}/orders/{second['order_no']}/cancel", headers=WRITE)
    assert cancelled.get_json()["status"] == "cancelled"
    again = client.post(f"{API}/orders/{second['order_no']}/cancel", headers=WRITE)
    assert error_of(again, 409)["code"] == "not_cancellable"

    mine = every_page(client, f"{API}/orders", limit=1)
    assert [o["order_no"] for o in mine] == [second["order_no"], order["order_no"]]
    unpaid = client.get(f"{API}/orders", query_string={"status": "pending_payment"})
    assert [o["order_no"] for o in unpaid.get_json()["items"]] == [order["order_no"]]

    # Paid (WeChat's notify, as the engine books it), then a refund of one line requested.
    pay(db.session.scalars(select(Order).where(Order.order_no == order["order_no"])).one())
    paid = client.get(f"{API}/orders/{order['order_no']}").get_json()
    assert paid["status"] == "paid" and paid["paid_at"].endswith("+08:00")
    line = paid["lines"][0]
    asked = client.post(
        f"{API}/orders/{order['order_no']}/refund-requests",
        json={"order_line_id": line["id"], "kind": "refund_only", "reason": "不想要了"},
        headers=WRITE,
    )
    assert asked.status_code == 201, asked.get_data(as_text=True)
    request = asked.get_json()
    assert request["amount_fen"] == line["paid_fen"] and request["status"] == "requested"
    listed = client.get(f"{API}/orders/{order['order_no']}/refund-requests").get_json()
    assert [r["id"] for r in listed["items"]] == [request["id"]]

    token = ctx.config["MERCHANT_API_TOKEN"]
    merchant = ctx.test_client()  # no session: the token is the merchant's only credential
    url = f"{API}/merchant/refund-requests/{request['id']}/approve"
    assert error_of(merchant.post(url), 401)["code"] == "unauthorized"
    wrong = merchant.post(url, headers={"Authorization": "Bearer " + "x" * len(token)})
    assert error_of(wrong, 401)["code"] == "unauthorized"
    assert error_of(client.post(url, headers=WRITE), 401)["code"] == "unauthorized"
    bearer = {"Authorization": f"Bearer {token}"}
    waiting = merchant.get(f"{API}/merchant/refund-requests", headers=bearer).get_json()
    assert [(r["id"], r["order_no"]) for r in waiting["items"]] == [
        (request["id"], order["order_no"])
    ]
    approved = merchant.post(url, headers=bearer)
    assert approved.status_code == 200 and approved.get_json()["status"] == "approved"
    assert error_of(merchant.post(url, headers=bearer), 409)["code"] == "invalid_transition"
    assert merchant.get(f"{API}/merchant/refund-requests", headers=bearer).get_json() == {
        "items": [],
        "next_cursor": None,
    }


def test_paging_through_every_sort_gives_each_product_once(ctx, client, shop):
    for n in range(4):
        make_product(price_fen=1_000 + 500 * (n % 2), stock=1, title=f"同价{n}")
    expected = {p["id"] for p in every_page(client, f"{API}/products", limit=50)}
    assert len(expected) == 7
    for sort in SORTS:
        found = every_page(client, f"{API}/products", limit=2, sort=sort)
        ids = [p["id"] for p in found]
        assert len(ids) == len(set(ids)) and set(ids) == expected, sort


def test_a_signed_in_distributor_sees_what_sharing_earns(ctx, client, shop):
    distributor = make_distributor()
    sign_in(client, distributor.user)
    detail = client.get(f"{API}/products/{shop['mug'].id}").get_json()
    assert isinstance(detail["share_commission_fen"], int)
    me = client.get(f"{API}/me").get_json()
    assert me["distributor"]["code"] == distributor.code
    earnings = client.get(f"{API}/me/earnings").get_json()
    assert earnings["available_fen"] == 0 and set(earnings) >= {"pending_fen", "month_fen"}
    team = client.get(f"{API}/me/team").get_json()
    assert team["level_counts"] == [0, 0, 0]


def test_a_shopper_is_not_a_distributor(ctx, client, shop):
    sign_in(client, make_shopper())
    assert client.get(f"{API}/me").get_json()["distributor"] is None
    assert error_of(client.get(f"{API}/me/earnings"), 403)["code"] == "not_a_distributor"


@pytest.mark.parametrize(
    "quantity",
    [-1, 0, 1_000, 10**30, True, "2", 2.0, None, [1]],
    ids=["negative", "zero", "over-999", "huge", "bool", "string", "float", "null", "list"],
)
def test_a_quantity_that_is_not_1_to_999_is_refused_and_nothing_is_added(
    ctx, client, shop, quantity
):
    shopper = make_shopper()
    sign_in(client, shopper)
    body = {"sku_id": shop["red"].id, "quantity": quantity}
    refused = client.post(f"{API}/cart/items", json=body, headers=WRITE)
    assert error_of(refused, 400)["code"] == "invalid_request"
    assert "quantity" in refused.get_json()["details"]["json"]
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0


def test_bad_requests_get_a_clear_4xx_in_the_one_shape(ctx, client, shop):
    shopper = make_shopper()
    sign_in(client, shopper)
    huge = 2**31
    cases = [
        (client.get(f"{API}/products/{huge}"), 404, "not_found"),
        (client.get(f"{API}/products/0"), 404, "not_found"),
        (client.get(f"{API}/products/999999"), 404, "not_found"),
        (client.put(f"{API}/cart/items/{huge}", json={"quantity": 1}, headers=WRITE), 404, None),
        (client.get(f"{API}/products?sort=cheapest"), 400, "invalid_request"),
        (client.get(f"{API}/products?limit=51"), 400, "invalid_request"),
        (client.get(f"{API}/products?limit=true"), 400, "invalid_request"),
        (client.get(f"{API}/products?category_id=%EF%BC%97"), 400, "invalid_request"),
        (client.get(f"{API}/products?cursor=abc.def"), 400, "invalid_cursor"),
        (client.get(f"{API}/products?q=%01"), 400, "invalid_query"),
        (client.get(f"{API}/orders?status=lost"), 400, "invalid_request"),
        (client.get(f"{API}/nothing-here"), 404, "not_found"),
        (client.delete(f"{API}/products"), 405, "method_not_allowed"),
        (
            client.post(
                f"{API}/cart/items",
                data="sku_id=1",
                headers={**WRITE, "Content-Type": "application/json"},
            ),
            400,
            "invalid_request",
        ),
        (
            client.post(f"{API}/cart/items", data="{", headers=WRITE, content_type="text/plain"),
            400,
            "invalid_request",
        ),
        (client.post(f"{API}/cart/items", json=[1, 2], headers=WRITE), 400, "invalid_request"),
        (
            client.post(f"{API}/cart/items", json={"sku_id": huge}, headers=WRITE),
            400,
            "invalid_request",
        ),
        (
            client.post(f"{API}/cart/items", json={"sku_id": 999_999}, headers=WRITE),
            409,
            "not_on_sale",
        ),
        (
            client.post(
                f"{API}/cart/items", json={"sku_id": shop["glass"].id, "quantity": 4}, headers=WRITE
            ),
            409,
            "out_of_stock",
        ),
        (
            client.post(f"{API}/addresses", json={"name": "张三"}, headers=WRITE),
            400,
            "invalid_request",
        ),
        (
            client.post(
                f"{API}/addresses",
                json={
                    "name": "张三",
                    "phone": "12",
                    "province": "浙江省",
                    "city": "杭州市",
                    "detail": "文三路",
                },
                headers=WRITE,
            ),
            400,
            "invalid_address",
        ),
        (client.post(f"{API}/coupons/999999/claim", headers=WRITE), 404, "not_found"),
        (
            client.post(f"{API}/checkout/quote", json={"items": []}, headers=WRITE),
            400,
            "invalid_request",
        ),
    ]
    for response, status, code in cases:
        body = error_of(response, status)
        if code is not None:
            assert body["code"] == code, (response.request.url, body)
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0


def test_an_unknown_sort_names_the_field(ctx, client, shop):
    refused = client.get(f"{API}/products?sort=cheapest")
    assert "sort" in error_of(refused, 400)["details"]["query"]


def test_a_tampered_cursor_is_refused(ctx, client, shop):
    make_product(title="又一个")
    first = client.get(f"{API}/products?limit=1").get_json()
    cursor = first["next_cursor"]
    assert cursor
    body, mac = cursor.split(".")
    tampered = body[:-1] + ("A" if body[-1] != "A" else "B") + "." + mac
    assert error_of(client.get(f"{API}/products?limit=1&cursor={tampered}"), 400)["code"] == (
        "invalid_cursor"
    )
    # a cursor of one sort is not a cursor of another
    other = client.get(f"{API}/products?limit=1&sort=sales&cursor={cursor}")
    assert error_of(other, 400)["code"] == "invalid_cursor"


def test_no_session_is_401_and_a_cookie_alone_never_writes(ctx, client, shop):
    for response in (
        client.get(f"{API}/cart"),
        client.get(f"{API}/orders"),
        client.get(f"{API}/me"),
        client.post(f"{API}/cart/items", json={"sku_id": shop["red"].id}, headers=WRITE),
    ):
        assert error_of(response, 401)["code"] == "unauthorized"
    assert client.get(f"{API}/products").status_code == 200  # the catalogue is public

    sign_in(client, make_shopper())
    no_header = client.post(f"{API}/cart/items", json={"sku_id": shop["red"].id})
    assert error_of(no_header, 400)["code"] == "csrf_header_required"
    wrong = client.post(
        f"{API}/cart/items",
        json={"sku_id": shop["red"].id},
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert error_of(wrong, 400)["code"] == "csrf_header_required"
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CartItem)) == 0


def test_someone_elses_order_is_not_found(ctx, client, shop, gateway):
    owner, other = make_shopper(), make_shopper()
    address = make_address(owner)
    sign_in(client, owner)
    placed = client.post(
        f"{API}/orders",
        json={"items": [{"sku_id": shop["red"].id, "quantity": 1}], "address_id": address.id},
        headers=WRITE,
    ).get_json()
    order_no = placed["order_no"]

    sign_in(client, other)
    for response in (
        client.get(f"{API}/orders/{order_no}"),
        client.post(f"{API}/orders/{order_no}/pay", headers=WRITE),
        client.post(f"{API}/orders/{order_no}/cancel", headers=WRITE),
        client.get(f"{API}/orders/{order_no}/refund-requests"),
        client.post(
            f"{API}/orders",
            json={"items": [{"sku_id": shop["red"].id, "quantity": 1}], "address_id": address.id},
            headers=WRITE,
        ),
    ):
        assert error_of(response, 404)["code"] == "not_found"
    assert client.get(f"{API}/orders").get_json()["items"] == []
    assert gateway.prepays == []
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_price_in_the_request_changes_nothing(ctx, client, shop, gateway):
    shopper = make_shopper()
    address = make_address(shopper)
    sign_in(client, shopper)
    cheap = {"sku_id": shop["red"].id, "quantity": 1, "price_fen": 1, "unit_price_fen": 1}
    quote = client.post(
        f"{API}/checkout/quote", json={"items": [cheap], "payable_fen": 1}, headers=WRITE
    ).get_json()
    assert quote["goods_fen"] == 5_000
    placed = client.post(
        f"{API}/orders",
        json={"items": [cheap], "address_id": address.id, "goods_fen": 1, "price_fen": 1},
        headers=WRITE,
    ).get_json()
    assert placed["goods_fen"] == 5_000 and placed["lines"][0]["unit_price_fen"] == 5_000
    added = client.post(f"{API}/cart/items", json=cheap, headers=WRITE)
    assert added.status_code == 201
    assert client.get(f"{API}/cart").get_json()["items"][0]["price_fen"] == 5_000


def test_merchant_endpoints_are_off_without_a_configured_token(ctx, client, shop):
    ctx.config["MERCHANT_API_TOKEN"] = None
    refused = client.get(
        f"{API}/merchant/refund-requests", headers={"Authorization": "Bearer anything"}
    )
    assert error_of(refused, 403)["code"] == "merchant_api_disabled"
    assert db.session.scalar(select(func.count()).select_from(RefundRequest)) == 0


def test_the_openapi_document_describes_ids_order_numbers_and_errors(ctx, client):
    doc = client.get(f"{API}/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    product = doc["paths"][f"{API}/products/{{product_id}}"]
    (param,) = product["parameters"]
    assert param["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
    order = doc["paths"][f"{API}/orders/{{order_no}}"]
    assert order["parameters"][0]["schema"]["pattern"] == "^[0-9A-Z]{8,32}$"
    assert set(order["get"]["responses"]) == {"200", "401", "404"}
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message"]
    limit = next(
        p for p in doc["paths"][f"{API}/products"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 50)


def test_a_crash_is_a_json_500_without_the_exception(ctx, client, shop, monkeypatch):
    def boom():
        raise RuntimeError("secret-detail")

    monkeypatch.setattr(catalog_service, "categories", boom)
    ctx.config["PROPAGATE_EXCEPTIONS"] = False  # TESTING would re-raise instead of answering
    response = client.get(f"{API}/categories")
    assert error_of(response, 500)["code"] == "internal_server_error"
    assert response.mimetype == "application/json" and b"secret-detail" not in response.data
    # and the shop's pages keep their own error pages (HTML), not the API's JSON
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"

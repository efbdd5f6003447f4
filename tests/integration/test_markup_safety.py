"""Text that people type (a product title, a WeChat nickname) is shown as text on every page
that shows it, in the shop, the distributor centre and the console, and never runs: the
markup arrives escaped. CSV exports hold it as a cell a spreadsheet will not run."""

from __future__ import annotations

import csv
import io

import pytest

from models import db
from services.binding import bind_shopper
from tests.factories import make_distributor, make_paid_order, make_product, make_user
from tests.support.console import signed_in_as
from web.signin import SESSION_OPENID

SCRIPT = '<script>alert("fx")</script>'
ESCAPED = "&lt;script&gt;alert("
IMAGE = '<img src=x onerror=alert("fx")>'


@pytest.fixture
def marked_up(ctx):
    """A product titled with a script, bought by a shopper whose nickname is an image tag, bound
    to a distributor whose own nickname is a script."""
    product = make_product(title=f"茶叶{SCRIPT}", description=f"说明{IMAGE}")
    distributor = make_distributor(nickname=f"小美{SCRIPT}")
    shopper = make_user(nickname=f"顾客{IMAGE}")
    assert bind_shopper(shopper.id, distributor.code, "scan").bound
    order = make_paid_order(shopper, [(product.skus[0].id, 1)])
    ids = {
        "product": product.id,
        "order": order.id,
        "distributor": distributor.id,
        "distributor_openid": distributor.user.openid,
        "shopper_openid": shopper.openid,
        "order_no": order.order_no,
    }
    db.session.rollback()
    return ids


def assert_escaped(answer, what: str) -> None:
    assert answer.status_code == 200, (what, answer.status_code)
    text = answer.get_data(as_text=True)
    assert SCRIPT not in text and IMAGE not in text, what
    assert ESCAPED in text or "&lt;img src=x" in text, f"{what}: the text is not shown at all"


def as_wechat_user(client, openid: str):
    with client.session_transaction() as session:
        session[SESSION_OPENID] = openid
    return client


def test_shop_pages_show_a_marked_up_title_as_text(marked_up, client):
    for path in ("/shop", f"/shop/products/{marked_up['product']}", "/shop?q=茶叶"):
        assert_escaped(client.get(path), path)


def test_a_shoppers_order_pages_show_the_title_as_text(marked_up, client):
    as_wechat_user(client, marked_up["shopper_openid"])
    for path in ("/shop/orders", f"/shop/orders/{marked_up['order_no']}"):
        assert_escaped(client.get(path), path)


def test_the_distributor_centre_shows_nicknames_and_titles_as_text(marked_up, client):
    as_wechat_user(client, marked_up["distributor_openid"])
    assert_escaped(client.get("/me/commissions"), "/me/commissions")
    customers = client.get("/me/team?view=customers")  # nicknames masked there: 顾**
    assert customers.status_code == 200 and IMAGE not in customers.text
    assert "<img src=x" not in customers.text


def test_the_json_api_returns_the_title_as_data(marked_up, client):
    answer = client.get(f"/api/v1/products/{marked_up['product']}")
    assert answer.status_code == 200 and answer.json["title"].endswith(SCRIPT)
    assert answer.mimetype == "application/json"


def test_the_console_shows_titles_and_nicknames_as_text(marked_up, app, client):
    signed_in_as(client, app, "owner")
    pages = [
        "/console/products",
        f"/console/products/{marked_up['product']}",
        "/console/orders",
        f"/console/orders/{marked_up['order']}",
        "/console/distributors",
        f"/console/distributors/{marked_up['distributor']}",
    ]
    for path in pages:
        assert_escaped(client.get(path), path)


@pytest.mark.parametrize(
    "path",
    [
        "/console/products?format=csv",
        "/console/orders?format=csv",
        "/console/distributors?format=csv",
    ],
)
def test_console_csv_holds_markup_as_plain_cells(marked_up, app, client, path):
    signed_in_as(client, app, "owner")
    answer = client.get(path)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    cells = [cell for row in rows for cell in row]
    assert any("<script>" in cell or "<img" in cell for cell in cells)  # as typed, not escaped
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)

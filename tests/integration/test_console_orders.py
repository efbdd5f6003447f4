"""The console's orders and refunds through HTTP on both databases: the list (filters, sorts,
keyset pages, CSV), one order whole, shipping with a carrier and a tracking number, a refund
shown before it is confirmed with the commission it takes back per level, and the figures the
engine then books equal to those shown; every change audited; finance and the owner only."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select, update

from infra.clock import now
from models import AuditEntry, Commission, Order, OrderLine, RefundRequest, User, db
from services import checkout, orders, payments, refund_requests
from services.ledger import balances, reconcile
from services.settlement import settle_matured
from tests.factories import make_chain, make_product, make_shopper, make_user
from tests.support.checkout import FakePay, add_sku, items, make_address
from tests.support.console import post_form, signed_in_as
from web.console import orders as order_views
from web.signin import SESSION_OPENID
from wechat.pay_v3 import use_pay_gateway
from workers import shop as shop_jobs


@dataclass(frozen=True)
class Paid:
    order_id: int
    order_no: str
    lines: list[int]  # [the ¥100 cup, the 2 x ¥30 pen]
    shopper_id: int
    top_id: int
    middle_id: int
    middle_code: str
    shopper_openid: str = ""


@pytest.fixture
def gateway(app):
    fake = FakePay()
    use_pay_gateway(app, fake)
    return fake


def place_paid(nickname: str | None = None, cup_price: int = 10_000) -> Paid:
    """A paid order of two lines (¥100 and 2 x ¥30) under a two-level chain (10 % and 5 %)."""
    top, middle = make_chain(2)
    shopper = make_shopper(bound_to=middle)
    if nickname:
        db.session.execute(update(User).where(User.id == shopper.id).values(nickname=nickname))
        db.session.commit()
    cup = make_product(price_fen=cup_price, stock=10, title="保温杯")
    pen = add_sku(cup, 3_000, 10, "笔")
    order = checkout.place_order(
        shopper.id,
        items((cup.skus[0].id, 1), (pen.id, 2)),
        address_id=make_address(shopper).id,
    )
    payments.book_transaction(f"4200-{order.order_no}", order.order_no, order.payable_fen)
    lines = list(
        db.session.scalars(
            select(OrderLine.id).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
        )
    )
    paid = Paid(
        order.id, order.order_no, lines, shopper.id, top.id, middle.id, middle.code, shopper.openid
    )
    db.session.rollback()
    return paid


@pytest.fixture
def paid(app, gateway) -> Paid:
    with app.app_context():
        return place_paid()


@pytest.fixture
def finance(app, client):
    return signed_in_as(client, app, "finance")


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        return rows


def levels_shown(html: str) -> dict[int, int]:
    """{level: fen to reverse} as the preview shows it."""
    rows = re.findall(r'data-testid="reversal-level" data-level="(\d)" [^>]*data-fen="(\d+)"', html)
    return {int(level): int(fen) for level, fen in rows}


def booked_shown(html: str) -> dict[int, int]:
    rows = re.findall(r'data-testid="booked-reversal" data-level="(\d)" data-fen="(\d+)"', html)
    out: dict[int, int] = {}
    for level, fen in rows:
        out[int(level)] = out.get(int(level), 0) + int(fen)
    return out


def reversed_by_level(app, order_id: int) -> dict[int, int]:
    with app.app_context():
        found: dict[int, int] = {}
        for c in db.session.scalars(select(Commission).where(Commission.order_id == order_id)):
            found[c.level] = found.get(c.level, 0) + c.reversed_fen
        db.session.rollback()
        return {k: v for k, v in found.items() if v}


def complete_refund(app, gateway, request_id: int, state: str = "SUCCESS") -> str:
    """What the worker and WeChat's notify do: send the refund, WeChat finishes it, the
    notify books it through the engine."""
    with app.app_context():
        assert shop_jobs.send_refund(request_id) == "processing"
        request = db.session.get(RefundRequest, request_id)
        refund_no, amount = request.refund_no, request.amount_fen
        order_no = db.session.get(Order, request.order_id).order_no
        db.session.rollback()
        gateway.settle_refund(refund_no, state)
        return payments.book_refund(refund_no, order_no, state, amount)


# -- the list ---------------------------------------------------------------------------------


def test_the_list_filters_by_status_number_buyer_code_and_china_day(app, client, gateway):
    with app.app_context():
        first = place_paid(nickname="阿花")
        second = place_paid(nickname="小明")
        orders.ship_order(second.order_id)
    signed_in_as(client, app, "finance")
    page = client.get("/console/orders")
    assert page.status_code == 200
    assert first.order_no in page.text and second.order_no in page.text

    def shown(query: str) -> set[str]:
        text = client.get("/console/orders?" + query).text
        return {no for no in (first.order_no, second.order_no) if no in text}

    assert shown("status=shipped") == {second.order_no}
    assert shown("status=paid") == {first.order_no}
    assert shown(f"order_no={first.order_no.lower()}") == {first.order_no}
    assert shown("buyer=花") == {first.order_no}
    assert shown(f"code={second.middle_code}") == {second.order_no}
    today = now().astimezone(order_views.CHINA).date().isoformat()
    assert shown(f"from={today}&to={today}") == {first.order_no, second.order_no}
    assert shown("from=2000-01-01&to=2000-01-02") == set()
    for bad in ("status=lost", "sort=cheapest", "from=yesterday", "cursor=forged.cursor"):
        assert client.get("/console/orders?" + bad).status_code == 400


def test_the_list_pages_by_keyset_newest_or_largest_first(app, client, gateway, monkeypatch):
    with app.app_context():
        made = [place_paid(cup_price=price) for price in (20_000, 10_000, 30_000)]
    signed_in_as(client, app, "owner")
    monkeypatch.setattr(order_views, "LIST_LIMIT", 2)

    def order_nos(html: str) -> list[str]:
        return re.findall(r'data-testid="order-row">\s*<td><a href="[^"]+">(\w+)</a>', html)

    first = client.get("/console/orders?sort=amount")
    assert order_nos(first.text) == [made[2].order_no, made[0].order_no]
    next_url = re.search(r'href="([^"]+)" rel="next"|rel="next" href="([^"]+)"', first.text)
    assert next_url
    url = (next_url.group(1) or next_url.group(2)).replace("&amp;", "&")
    assert order_nos(client.get(url).text) == [made[1].order_no]
    newest = client.get("/console/orders")
    assert order_nos(newest.text) == [made[2].order_no, made[1].order_no]


def test_the_csv_export_has_every_filtered_order_and_neutralises_formulas(app, client, gateway):
    with app.app_context():
        place_paid(nickname="-cmd|calc")
        place_paid(nickname="=1+1")
    signed_in_as(client, app, "finance")
    answer = client.get("/console/orders?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][0] == "订单号" and len(rows) == 3
    buyers = {row[3] for row in rows[1:]}
    assert buyers == {"'-cmd|calc", "'=1+1"}
    assert {row[7] for row in rows[1:]} == {"160.00"}


# -- one order and shipping ---------------------------------------------------------------------


def test_the_order_page_shows_lines_chain_commissions_and_history(app, finance, paid):
    page = finance.get(f"/console/orders/{paid.order_id}")
    assert page.status_code == 200
    text = page.text
    assert "保温杯" in text and "笔" in text and "¥160.00" in text
    assert 'data-status="paid"' in text and paid.middle_code in text
    levels = re.findall(r'data-testid="commission-level" data-level="(\d)"', text)
    assert levels == ["1", "2"]
    assert "¥16.00" in text and "¥8.00" in text  # 10 % and 5 % of ¥160
    assert "张三" in text  # the address


def test_shipping_records_the_carrier_and_tracking_number_and_is_audited(app, finance, paid):
    answer = post_form(
        finance,
        f"/console/orders/{paid.order_id}/ship",
        {"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
    )
    assert answer.status_code == 302
    with app.app_context():
        order = db.session.get(Order, paid.order_id)
        assert (order.status, order.carrier, order.tracking_no) == (
            "shipped",
            "顺丰速运",
            "SF1234567890",
        )
        db.session.rollback()
    [row] = audit_rows(app, "order.ship")
    assert (row.entity, row.entity_id, row.staff_name) == ("orders", paid.order_id, "finance")
    assert row.before["status"] == "paid" and row.before["tracking_no"] is None
    assert row.after["status"] == "shipped" and row.after["tracking_no"] == "SF1234567890"
    page = finance.get(f"/console/orders/{paid.order_id}")
    assert "已发货" in page.text and "SF1234567890" in page.text
    shopper = app.test_client()  # the buyer's own order page shows the parcel
    with shopper.session_transaction() as session:
        session[SESSION_OPENID] = paid.shopper_openid
    mine = shopper.get(f"/shop/orders/{paid.order_no}")
    assert mine.status_code == 200 and "顺丰速运 SF1234567890" in mine.text


@pytest.mark.parametrize(
    ("carrier", "tracking_no", "said"),
    [
        ("顺丰速运", "ab", "运单号为 4-40 位"),
        ("顺丰速运", "SF 123 456", "运单号为 4-40 位"),
        ("顺丰速运", "x" * 41, "运单号为 4-40 位"),
        ("", "SF1234567890", "请填写快递公司"),
        ("快" * 33, "SF1234567890", "请填写快递公司"),
    ],
)
def test_a_bad_carrier_or_tracking_number_is_refused_in_words(
    app, finance, paid, carrier, tracking_no, said
):
    path = f"/console/orders/{paid.order_id}/ship"
    answer = post_form(finance, path, {"carrier": carrier, "tracking_no": tracking_no})
    assert answer.status_code == 302
    assert said in finance.get(answer.location).text
    with app.app_context():
        assert db.session.get(Order, paid.order_id).status == "paid"
        db.session.rollback()
    assert audit_rows(app, "order.ship") == []


def test_an_unpaid_order_cannot_be_shipped(app, finance, gateway):
    with app.app_context():
        shopper = make_user()
        product = make_product()
        order_id = orders.create_order(shopper.id, [(product.id, 1)]).id
    answer = post_form(
        finance, f"/console/orders/{order_id}/ship", {"carrier": "中通快递", "tracking_no": "7788"}
    )
    assert "只有已付款、未发货的订单可以发货" in finance.get(answer.location).text
    assert audit_rows(app, "order.ship") == []


# -- refunds ----------------------------------------------------------------------------------


def test_approving_a_partial_request_shows_the_reversal_the_engine_then_books(
    app, finance, paid, gateway
):
    with app.app_context():
        request = refund_requests.request_refund(
            paid.shopper_id, paid.order_no, paid.lines[1], "refund_only", amount_fen=4_001
        )
        request_id = request.id
        pending_before = balances(paid.middle_id)["pending"]
    listed = finance.get("/console/refunds")
    assert request.refund_no in listed.text and "¥40.01" in listed.text
    shown = finance.get(f"/console/refunds/{request_id}")
    assert shown.status_code == 200
    preview = levels_shown(shown.text)
    assert set(preview) == {1, 2} and all(preview.values())

    answer = post_form(finance, f"/console/refunds/{request_id}/approve", page="/console/refunds")
    assert answer.status_code == 302
    [row] = audit_rows(app, "refund.approve")
    assert (row.entity, row.entity_id) == ("refund_requests", request_id)
    assert (row.before["status"], row.after["status"]) == ("requested", "approved")

    assert complete_refund(app, gateway, request_id) == "request_refunded"
    assert reversed_by_level(app, paid.order_id) == preview
    page = finance.get(f"/console/orders/{paid.order_id}")
    assert booked_shown(page.text) == preview
    with app.app_context():
        assert balances(paid.middle_id)["pending"] == pending_before - preview[1]
        assert reconcile().ok


def test_a_refund_of_settled_commission_shows_and_books_it_from_the_available_balance(
    app, finance, paid, gateway
):
    with app.app_context():
        orders.complete_order(paid.order_id, at=now().replace(year=now().year - 1))
        assert settle_matured() > 0
    preview = finance.get(
        f"/console/orders/{paid.order_id}/refund?line_{paid.lines[0]}=33.33&reason=破损"
    )
    assert preview.status_code == 200 and "已结算" in preview.text
    shown = levels_shown(preview.text)
    # 10 % and 5 % of ¥100 on a third of the line: what is left is rounded down, so the
    # reversal is rounded up (reversal_due)
    assert shown == {1: 334, 2: 167}
    with app.app_context():
        available_before = balances(paid.middle_id)["available"]
    answer = post_form(
        finance,
        f"/console/orders/{paid.order_id}/refund",
        {f"line_{paid.lines[0]}": "33.33", "reason": "破损"},
    )
    assert answer.status_code == 302
    with app.app_context():
        [made] = db.session.scalars(select(RefundRequest))
        assert (made.status, made.amount_fen, made.reason) == ("approved", 3_333, "破损")
        request_id = made.id
        db.session.rollback()
    assert complete_refund(app, gateway, request_id) == "request_refunded"
    assert reversed_by_level(app, paid.order_id) == shown
    with app.app_context():
        assert balances(paid.middle_id)["available"] == available_before - shown[1]
        assert reconcile().ok


def test_a_merchant_refund_per_line_is_previewed_confirmed_and_audited(app, finance, paid, gateway):
    cup, pen = paid.lines
    preview = finance.get(f"/console/orders/{paid.order_id}/refund?line_{cup}=100&line_{pen}=15")
    assert preview.status_code == 200
    assert 'data-total="11500"' in preview.text
    shown = levels_shown(preview.text)
    assert shown == {1: 1_150, 2: 575}
    answer = post_form(
        finance,
        f"/console/orders/{paid.order_id}/refund",
        {f"line_{cup}": "100", f"line_{pen}": "15.00", "reason": ""},
    )
    assert answer.status_code == 302
    rows = audit_rows(app, "refund.create")
    created = [r for r in rows if r.entity == "refund_requests" and r.before is None]
    assert sorted(r.after["amount_fen"] for r in created) == [1_500, 10_000]
    assert {r.after["order_line_id"] for r in created} == {cup, pen}
    with app.app_context():
        made = list(db.session.scalars(select(RefundRequest).order_by(RefundRequest.id)))
        assert {r.status for r in made} == {"approved"}
        ids = [r.id for r in made]
        db.session.rollback()
    for request_id in ids:
        assert complete_refund(app, gateway, request_id) == "request_refunded"
    assert reversed_by_level(app, paid.order_id) == shown
    page = finance.get(f"/console/orders/{paid.order_id}")
    assert booked_shown(page.text) == shown


def test_a_refund_over_what_is_left_on_a_line_is_refused(app, finance, paid, gateway):
    cup, pen = paid.lines
    with app.app_context():
        refund_requests.request_refund(
            paid.shopper_id, paid.order_no, pen, "refund_only", amount_fen=5_000
        )
    # ¥60 paid on the pen line, ¥50 held by the shopper's request: ¥10 left
    for query in (f"line_{pen}=10.01", f"line_{cup}=100.01"):
        answer = finance.get(f"/console/orders/{paid.order_id}/refund?{query}")
        assert answer.status_code == 302
        assert "退款金额超过该商品剩余可退金额" in finance.get(answer.location).text
    answer = post_form(finance, f"/console/orders/{paid.order_id}/refund", {f"line_{pen}": "10.01"})
    assert "退款金额超过该商品剩余可退金额" in finance.get(answer.location).text
    partial = finance.get(
        f"/console/orders/{paid.order_id}/refund?line_{pen}=abc", headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200 and "退款金额格式不正确" in partial.text
    assert finance.get(f"/console/orders/{paid.order_id}/refund").status_code == 302  # no line
    with app.app_context():
        assert len(list(db.session.scalars(select(RefundRequest)))) == 1
        db.session.rollback()
    assert audit_rows(app, "refund.create") == []


def test_a_full_refund_fills_every_line_with_what_it_has_left(app, finance, paid):
    answer = finance.get(f"/console/orders/{paid.order_id}/refund?full=1")
    assert answer.status_code == 200
    assert 'data-total="16000"' in answer.text
    assert levels_shown(answer.text) == {1: 1_600, 2: 800}


def test_a_refusal_needs_a_reason_and_is_audited(app, finance, paid):
    with app.app_context():
        request_id = refund_requests.request_refund(
            paid.shopper_id, paid.order_no, paid.lines[0], "return_refund"
        ).id
    path = f"/console/refunds/{request_id}/refuse"
    answer = post_form(finance, path, {"reason": "  "})
    assert "请填写原因" in finance.get(answer.location).text
    assert audit_rows(app, "refund.refuse") == []
    post_form(finance, path, {"reason": "<b>已使用</b>"})
    [row] = audit_rows(app, "refund.refuse")
    assert (row.entity_id, row.after["status"], row.after["refuse_reason"]) == (
        request_id,
        "refused",
        "<b>已使用</b>",
    )
    page = finance.get(f"/console/refunds/{request_id}")
    assert "&lt;b&gt;已使用&lt;/b&gt;" in page.text and "<b>已使用" not in page.text
    again = post_form(finance, f"/console/refunds/{request_id}/approve")
    assert "该退款申请已处理过" in finance.get(again.location).text
    assert audit_rows(app, "refund.approve") == []


def test_a_refund_wechat_failed_is_retried_under_the_same_number(app, finance, paid, gateway):
    with app.app_context():
        request_id = refund_requests.request_refund(
            paid.shopper_id, paid.order_no, paid.lines[0], "refund_only", amount_fen=1_000
        ).id
        refund_requests.approve_refund(request_id)
    assert complete_refund(app, gateway, request_id, "CLOSED") == "request_failed"
    page = finance.get(f"/console/refunds/{request_id}")
    assert 'data-testid="retry-form"' in page.text and levels_shown(page.text) == {1: 100, 2: 50}
    listed = finance.get("/console/refunds?status=failed")
    assert 'data-testid="request-row"' in listed.text
    post_form(finance, f"/console/refunds/{request_id}/retry")
    [row] = audit_rows(app, "refund.retry")
    assert (row.before["status"], row.after["status"]) == ("failed", "approved")
    again = post_form(finance, f"/console/refunds/{request_id}/retry")
    assert "只有微信支付退款失败的申请可以重试" in finance.get(again.location).text
    assert len(audit_rows(app, "refund.retry")) == 1


def test_the_refunds_csv_neutralises_formulas(app, finance, paid):
    with app.app_context():
        refund_requests.request_refund(
            paid.shopper_id, paid.order_no, paid.lines[0], "refund_only", reason="-cmd /c calc"
        )
    answer = finance.get("/console/refunds?format=csv&status=all")
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[1][6] == "'-cmd /c calc" and rows[1][5] == "100.00"


# -- who may ----------------------------------------------------------------------------------

PAGES = ("/console/orders", "/console/refunds", "/console/orders/{o}", "/console/refunds/{r}")


def test_the_operator_is_refused_and_the_anonymous_sent_to_sign_in(app, client, paid):
    with app.app_context():
        request_id = refund_requests.request_refund(
            paid.shopper_id, paid.order_no, paid.lines[0], "refund_only"
        ).id
    urls = [p.format(o=paid.order_id, r=request_id) for p in PAGES]
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 302 and "/console/login" in answer.location
    signed_in_as(client, app, "operator")
    for url in urls:
        answer = client.get(url)
        assert answer.status_code == 403 and "财务" in answer.text
    for path in (
        f"/console/orders/{paid.order_id}/ship",
        f"/console/refunds/{request_id}/approve",
        f"/console/orders/{paid.order_id}/refund",
    ):
        assert (
            post_form(client, path, {"carrier": "顺丰速运", "tracking_no": "SF123456"}).status_code
            == 403
        )
    with app.app_context():
        assert db.session.get(RefundRequest, request_id).status == "requested"
        assert db.session.get(Order, paid.order_id).status == "paid"
        db.session.rollback()


def test_ids_past_range_or_missing_are_404(finance, paid):
    for url in (
        "/console/orders/2147483648",
        "/console/orders/999999",
        "/console/orders/１",
        "/console/refunds/2147483648",
        "/console/refunds/999999",
        "/console/orders/999999/refund?full=1",
    ):
        assert finance.get(url).status_code == 404, url
    assert (
        post_form(
            finance, "/console/orders/999999/ship", {"carrier": "x", "tracking_no": "1234"}
        ).status_code
        == 404
    )
    assert post_form(finance, "/console/refunds/999999/approve").status_code == 404

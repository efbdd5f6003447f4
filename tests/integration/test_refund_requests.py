"""Refund requests on both databases: a shopper asks per order line, the merchant approves or
refuses, the approved refund goes to WeChat Pay (a fake gateway) under the request's own number,
and WeChat's answer completes it once through the engine, which reverses that line's
commissions by the exact fen."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infra.clock import now
from models import Commission, OrderLine, Refund, RefundRequest, db
from models.base import begin_write
from models.errors import InvalidCursor, InvalidTransition, NotFound, OrderError
from services import checkout, orders, payments, refund_requests
from services.ledger import balances, reconcile
from tests.factories import make_chain, make_product, make_shopper, make_user
from tests.support.checkout import FakePay, add_sku, items, job, make_address
from wechat.pay_v3 import PayNotice, use_pay_gateway
from workers import shop as shop_jobs


@pytest.fixture
def gateway(ctx):
    fake = FakePay()
    use_pay_gateway(ctx, fake)
    return fake


@pytest.fixture
def paid(ctx, gateway):
    """A paid order of two lines (¥100 and 2 x ¥30) under a two-level chain."""
    _top, middle = make_chain(2)
    shopper = make_shopper(bound_to=middle)
    cup = make_product(price_fen=10_000, stock=10, title="保温杯")
    pen = add_sku(cup, 3_000, 10, "笔")
    order = checkout.place_order(
        shopper.id,
        items((cup.skus[0].id, 1), (pen.id, 2)),
        address_id=make_address(shopper).id,
    )
    payments.book_transaction("4200-paid", order.order_no, order.payable_fen)
    db.session.expire_all()
    return shopper, middle, order


def line_ids(order) -> list[int]:
    return list(
        db.session.scalars(
            select(OrderLine.id).where(OrderLine.order_id == order.id).order_by(OrderLine.id)
        )
    )


def refund_notice(request, order_no: str, state: str = "SUCCESS") -> PayNotice:
    resource = {
        "out_refund_no": request.refund_no,
        "refund_id": "5030" + request.refund_no[-10:],
        "out_trade_no": order_no,
        "refund_status": state,
        "amount": {"refund": request.amount_fen, "total": 16_000},
    }
    return PayNotice("n-" + state, f"REFUND.{state}", "", resource)


def status(request_id: int) -> str:
    db.session.expire_all()
    return db.session.get(RefundRequest, request_id).status


def test_an_approved_request_is_refunded_once_and_its_commissions_reversed_exactly(paid, gateway):
    shopper, middle, order = paid
    first, second = line_ids(order)
    pending_before = balances(middle.id)["pending"]
    request = refund_requests.request_refund(shopper.id, order.order_no, second, "refund_only")
    assert (request.amount_fen, request.status) == (6_000, "requested")
    assert request.refund_no.startswith("RF") and len(request.refund_no) == 32
    assert [r.id for r in refund_requests.refund_requests_of(order.id)] == [request.id]

    approved = refund_requests.approve_refund(request.id)
    assert approved.status == "approved"
    assert job(f"refund-{request.refund_no}") is not None
    assert shop_jobs.send_refund(request.id) == "processing"
    assert gateway.refund_calls == [
        (request.refund_no, order.order_no, 6_000, 16_000, "买家申请退款")
    ]

    gateway.settle_refund(request.refund_no)
    notice = refund_notice(request, order.order_no)
    assert payments.handle_notice("refund", notice).outcome == "request_refunded"
    assert status(request.id) == "refunded"
    line = db.session.get(OrderLine, second)
    assert (line.refunded_fen, db.session.get(OrderLine, first).refunded_fen) == (6_000, 0)
    reversed_on_line = db.session.scalar(
        select(func.sum(Commission.reversed_fen)).where(
            Commission.order_line_id == second, Commission.beneficiary_id == middle.id
        )
    )
    assert reversed_on_line == 600  # 10 % of the ¥60 line
    assert balances(middle.id)["pending"] == pending_before - reversed_on_line

    # the same notify again, a query finding it, the send job run again: nothing more moves
    assert payments.book_refund(request.refund_no, order.order_no, "SUCCESS", 6_000) in (
        "refund_booked_before",
        "request_refunded",
    )
    assert shop_jobs.send_refund(request.id) == "nothing to do"
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 1
    assert balances(middle.id)["pending"] == pending_before - 600
    assert reconcile().ok


def test_the_amount_defaults_to_what_the_line_can_still_refund(paid):
    shopper, _middle, order = paid
    first, _second = line_ids(order)
    part = refund_requests.request_refund(
        shopper.id, order.order_no, first, "return_refund", amount_fen=4_000, reason="坏了"
    )
    rest = refund_requests.request_refund(shopper.id, order.order_no, first, "refund_only")
    assert (part.amount_fen, rest.amount_fen) == (4_000, 6_000)
    with pytest.raises(OrderError) as refused:
        refund_requests.request_refund(shopper.id, order.order_no, first, "refund_only")
    assert refused.value.params["reason"] == "nothing_left"
    refund_requests.refuse_refund(rest.id, "已使用，不支持退款")
    again = refund_requests.request_refund(shopper.id, order.order_no, first, "refund_only")
    assert again.amount_fen == 6_000  # a refused request holds nothing


@pytest.mark.parametrize(
    ("kind", "amount", "reason"),
    [
        ("refund", None, "kind"),
        ("refund_only", 0, "amount"),
        ("refund_only", -100, "amount"),
        ("refund_only", True, "amount"),
        ("refund_only", 10.0, "amount"),
        ("refund_only", 10_001, "too_much"),
    ],
)
def test_bad_requests_are_refused_and_write_nothing(paid, kind, amount, reason):
    shopper, _middle, order = paid
    first, _second = line_ids(order)
    with pytest.raises(OrderError) as refused:
        refund_requests.request_refund(shopper.id, order.order_no, first, kind, amount_fen=amount)
    assert refused.value.params["reason"] == reason
    assert db.session.scalar(select(func.count()).select_from(RefundRequest)) == 0


def test_only_the_buyers_paid_order_and_its_own_lines(paid):
    shopper, _middle, order = paid
    first, _second = line_ids(order)
    stranger = make_user()
    with pytest.raises(NotFound):
        refund_requests.request_refund(stranger.id, order.order_no, first, "refund_only")
    with pytest.raises(NotFound):
        refund_requests.request_refund(shopper.id, order.order_no, 999_999, "refund_only")
    unpaid = checkout.place_order(
        shopper.id, items((order.lines[0].sku_id, 1)), address_id=make_address(shopper).id
    )
    with pytest.raises(NotFound):  # a line of another order
        refund_requests.request_refund(
            shopper.id, order.order_no, unpaid.lines[0].id, "refund_only"
        )
    with pytest.raises(OrderError) as refused:
        refund_requests.request_refund(
            shopper.id, unpaid.order_no, unpaid.lines[0].id, "refund_only"
        )
    assert refused.value.params["reason"] == "not_refundable"
    assert db.session.scalar(select(func.count()).select_from(RefundRequest)) == 0


def test_the_shopper_cancels_an_undecided_request_only(paid):
    shopper, _middle, order = paid
    first, second = line_ids(order)
    request = refund_requests.request_refund(shopper.id, order.order_no, first, "refund_only")
    with pytest.raises(NotFound):
        refund_requests.cancel_refund_request(make_user().id, request.id)
    assert refund_requests.cancel_refund_request(shopper.id, request.id).status == "cancelled"
    other = refund_requests.request_refund(shopper.id, order.order_no, second, "refund_only")
    refund_requests.approve_refund(other.id)
    with pytest.raises(OrderError) as refused:
        refund_requests.cancel_refund_request(shopper.id, other.id)
    assert refused.value.params["reason"] == "not_cancellable"
    with pytest.raises(InvalidTransition):
        refund_requests.refuse_refund(other.id, "太晚了")


def test_a_refusal_needs_a_reason(paid):
    shopper, _middle, order = paid
    request = refund_requests.request_refund(
        shopper.id, order.order_no, line_ids(order)[0], "refund_only"
    )
    with pytest.raises(OrderError):
        refund_requests.refuse_refund(request.id, " \n ")
    refused = refund_requests.refuse_refund(request.id, "商品已拆封")
    assert (refused.status, refused.refuse_reason) == ("refused", "商品已拆封")
    with pytest.raises(InvalidTransition):
        refund_requests.approve_refund(request.id)


def test_a_refund_wechat_closes_fails_the_request_and_it_may_be_approved_again(paid, gateway):
    shopper, _middle, order = paid
    request = refund_requests.request_refund(
        shopper.id, order.order_no, line_ids(order)[0], "refund_only"
    )
    refund_requests.approve_refund(request.id)
    shop_jobs.send_refund(request.id)
    gateway.settle_refund(request.refund_no, "CLOSED")
    notice = refund_notice(request, order.order_no, "CLOSED")
    assert payments.handle_notice("refund", notice).outcome == "request_failed"
    assert status(request.id) == "failed"
    held = refund_requests.request_refund  # a failed request still holds its amount
    with pytest.raises(OrderError):
        held(shopper.id, order.order_no, line_ids(order)[0], "refund_only")
    assert refund_requests.approve_refund(request.id).status == "approved"
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0


def test_wechat_refusing_the_refund_fails_the_request(paid, gateway):
    from wechat.pay_v3 import PayRefused

    shopper, _middle, order = paid
    request = refund_requests.request_refund(
        shopper.id, order.order_no, line_ids(order)[0], "refund_only"
    )
    refund_requests.approve_refund(request.id)

    def refuse(*_args):
        raise PayRefused("NOT_ENOUGH", "基本账户余额不足", 403)

    gateway.refund = refuse
    assert shop_jobs.send_refund(request.id) == "request_failed"
    assert status(request.id) == "failed"


def test_the_sweep_books_a_refund_whose_notify_never_came(paid, gateway):
    shopper, _middle, order = paid
    request = refund_requests.request_refund(
        shopper.id, order.order_no, line_ids(order)[1], "refund_only", amount_fen=1_000
    )
    refund_requests.approve_refund(request.id)
    shop_jobs.send_refund(request.id)
    gateway.settle_refund(request.refund_no)
    assert shop_jobs.sync_refunds() == 0  # just approved: its notify may still come
    begin_write()
    db.session.get(RefundRequest, request.id).decided_at = now() - timedelta(minutes=6)
    db.session.commit()
    assert shop_jobs.sync_refunds() == 1
    assert status(request.id) == "refunded"
    assert db.session.get(OrderLine, line_ids(order)[1]).refunded_fen == 1_000


def test_pending_requests_page_oldest_first(paid):
    shopper, _middle, order = paid
    first, second = line_ids(order)
    made = [
        refund_requests.request_refund(
            shopper.id, order.order_no, line, "refund_only", amount_fen=100
        ).id
        for line in (first, second, first)
    ]
    refund_requests.approve_refund(made[1])
    page = refund_requests.pending_refund_requests(limit=1)
    rest = refund_requests.pending_refund_requests(cursor=page.next_cursor, limit=1)
    assert [r.id for r in page.items + rest.items] == [made[0], made[2]]
    assert rest.next_cursor is None
    with pytest.raises(InvalidCursor):
        refund_requests.pending_refund_requests(cursor="made.up")


def test_a_request_on_a_fully_refunded_line_is_refused(paid):
    shopper, _middle, order = paid
    first, _second = line_ids(order)
    orders.refund_order(order.id, "merchant-1", line_amounts={first: 10_000})
    with pytest.raises(OrderError) as refused:
        refund_requests.request_refund(shopper.id, order.order_no, first, "refund_only")
    assert refused.value.params["reason"] == "nothing_left"

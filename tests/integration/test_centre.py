"""The distributor centre's reads (services.centre) against a small world, on both databases:
each list newest first and walked to its end with no row twice, its filters, and never another
distributor's rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import select, update

from infra.clock import CHINA, now
from models import Binding, Commission, Distributor, Order, ShareEvent, Withdrawal, db
from models.base import begin_write
from models.errors import InvalidCursor, InvalidQuery, NotFound
from services import centre, lookups, orders, settlement, withdrawals
from services.binding import bind_shopper
from services.paging import encode_cursor
from services.rules import publish_rule_set
from tests.factories import (
    make_chain,
    make_distributor,
    make_earner,
    make_paid_order,
    make_product,
    make_shopper,
    make_tier,
    make_user,
    mature,
    set_policy,
    set_tier,
)
from tests.support import wechat as w
from wechat.pay_v3 import TransferBill
from wechat.payouts import TransferResult


def walk(read, **kw) -> list:
    """Every item of a paged list, one page of `limit` at a time."""
    items, cursor, pages = [], None, 0
    while True:
        page = read(cursor=cursor, **kw)
        items += page.items
        pages += 1
        assert pages < 100
        if page.next_cursor is None:
            return items
        assert len(page.items) == kw.get("limit", 20)
        cursor = page.next_cursor


def set_times(model, ids, **values) -> None:
    begin_write()
    db.session.execute(update(model).where(model.id.in_(ids)).values(**values))
    db.session.commit()


# -- the world ---------------------------------------------------------------------------------
@pytest.fixture
def world(ctx):
    """top > mid > bottom; bottom's shoppers: 李小龙 (scan) and Amy (link); an outsider with a
    shopper of their own. Orders of bottom's shoppers: one settled, one refunded in full, one
    of three lines completed then partly refunded, one unpaid; the outsider's shopper buys too."""
    top, mid, bottom = make_chain(3)
    outsider = make_distributor(nickname="外人")
    scan = make_user("李小龙")
    assert bind_shopper(scan.id, bottom.code, "scan").bound
    link = make_user("Amy")
    assert bind_shopper(link.id, bottom.code, "link").bound
    tea = make_product(10_000, title="龙井")
    cup = make_product(5_000, title="茶杯")
    pot = make_product(20_000, title="茶壶")

    settled = make_paid_order(scan, [(tea.id, 1)])
    mature(settled)
    assert settlement.settle_matured() == 2  # bottom's and mid's
    refunded = make_paid_order(link, [(cup.id, 2)])
    orders.refund_order(refunded.id, "RF-FULL-1")
    partly = make_paid_order(scan, [(tea.id, 1), (cup.id, 1), (pot.id, 1)])
    orders.complete_order(partly.id)
    orders.refund_order(partly.id, "RF-PART-1", line_amounts={partly.lines[1].id: 2_000})
    orders.create_order(link.id, [(tea.id, 1)])  # never paid
    make_paid_order(make_shopper(bound_to=outsider), [(tea.id, 3)])
    db.session.rollback()
    return {
        "top": top,
        "mid": mid,
        "bottom": bottom,
        "outsider": outsider,
        "scan": scan,
        "link": link,
        "orders": (settled, refunded, partly),
        "products": (tea, cup, pot),
    }


# -- commissions -------------------------------------------------------------------------------
def test_commissions_are_mine_newest_first_with_their_order_line_and_buyer(world):
    bottom = world["bottom"]
    settled, refunded, partly = world["orders"]
    rows = centre.commissions(bottom.id).items
    assert [(r.order_no, r.product_title, r.status) for r in rows] == [
        (partly.order_no, "茶壶", "pending"),
        (partly.order_no, "茶杯", "pending"),
        (partly.order_no, "龙井", "pending"),
        (refunded.order_no, "茶杯", "reversed"),
        (settled.order_no, "龙井", "available"),
    ]
    mine = set(
        db.session.scalars(select(Commission.id).where(Commission.beneficiary_id == bottom.id))
    )
    assert {r.id for r in rows} == mine
    assert {r.buyer_masked for r in rows} == {"李**", "A**"}
    assert all(r.level == 1 and r.created_at.utcoffset() == timedelta(hours=8) for r in rows)


def test_a_commission_says_why_it_was_reversed_or_reduced_and_when_it_settles(world):
    bottom = world["bottom"]
    rows = {(r.order_no, r.product_title): r for r in centre.commissions(bottom.id).items}
    settled, refunded, partly = world["orders"]
    gone = rows[(refunded.order_no, "茶杯")]
    assert (gone.amount_fen, gone.reversed_fen, gone.reason) == (1_000, 1_000, "refund RF-FULL-1")
    cut = rows[(partly.order_no, "茶杯")]
    assert (cut.amount_fen, cut.reversed_fen, cut.reason) == (500, 200, "部分退款")
    whole = rows[(partly.order_no, "茶壶")]
    assert (whole.reversed_fen, whole.reason) == (0, None)
    assert whole.settles_at is not None and whole.settles_at > now() + timedelta(days=6)
    done = rows[(settled.order_no, "龙井")]
    assert (done.status, done.settles_at, done.reason) == ("available", None, None)


def test_commissions_filter_by_status(world):
    bottom = world["bottom"]
    assert [r.status for r in centre.commissions(bottom.id, status="reversed").items] == [
        "reversed"
    ]
    assert len(centre.commissions(bottom.id, status="pending").items) == 3
    assert len(centre.commissions(bottom.id, status="available").items) == 1
    assert [r.level for r in centre.commissions(world["mid"].id, status="available").items] == [2]


def test_commissions_filter_by_china_month(world):
    bottom = world["bottom"]
    settled, refunded, partly = world["orders"]
    ids = {r.order_no: r.id for r in centre.commissions(bottom.id).items}
    # 16:30 UTC on 30 November is 00:30 on 1 December in China.
    set_times(
        Commission, [ids[settled.order_no]], created_at=datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    )
    set_times(
        Commission, [ids[refunded.order_no]], created_at=datetime(2026, 11, 30, 15, 59, tzinfo=UTC)
    )
    partly_ids = [
        r.id for r in centre.commissions(bottom.id).items if r.order_no == partly.order_no
    ]
    set_times(Commission, partly_ids, created_at=datetime(2027, 1, 1, 0, 0, tzinfo=UTC))
    assert [r.order_no for r in centre.commissions(bottom.id, month="2026-12").items] == [
        settled.order_no
    ]
    assert [r.order_no for r in centre.commissions(bottom.id, month="2026-11").items] == [
        refunded.order_no
    ]
    assert [r.id for r in centre.commissions(bottom.id, month="2027-01").items] == sorted(
        partly_ids, reverse=True
    )
    assert centre.commissions(bottom.id, month="2026-10").items == []
    assert centre.commissions(bottom.id, month="2026-12", status="reversed").items == []


def test_commission_pages_walk_to_the_end_with_no_row_twice(world):
    bottom = world["bottom"]
    everything = [r.id for r in centre.commissions(bottom.id, limit=50).items]
    for limit in (1, 2, 4):
        assert [r.id for r in walk(centre.commissions, distributor_id=bottom.id, limit=limit)] == (
            everything
        )
    assert [
        r.id for r in walk(centre.commissions, distributor_id=bottom.id, status="pending", limit=2)
    ] == [r.id for r in centre.commissions(bottom.id, status="pending").items]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"status": "paid"}, InvalidQuery),
        ({"month": "2026-13"}, InvalidQuery),
        ({"month": "December"}, InvalidQuery),
        ({"cursor": "not-a-cursor"}, InvalidCursor),
        ({"limit": 0}, InvalidCursor),
        ({"limit": 51}, InvalidCursor),
    ],
)
def test_bad_commission_queries_are_named_errors(world, kwargs, error):
    with pytest.raises(error):
        centre.commissions(world["bottom"].id, **kwargs)


def test_a_cursor_of_another_list_or_shape_is_refused(world):
    bottom = world["bottom"]
    first = centre.customers(bottom.id, limit=1)
    with pytest.raises(InvalidCursor):
        centre.commissions(bottom.id, cursor=first.next_cursor)
    with pytest.raises(InvalidCursor):
        centre.commissions(bottom.id, cursor=encode_cursor("commissions", ["yesterday", 1]))
    with pytest.raises(InvalidCursor):
        centre.commissions(bottom.id, cursor=encode_cursor("commissions", [now().isoformat()]))


def test_another_distributor_sees_none_of_my_commissions(world):
    outsider = world["outsider"]
    rows = centre.commissions(outsider.id).items
    assert len(rows) == 1 and rows[0].buyer_masked != "李**"
    assert centre.commissions(world["top"].id).items == []  # two levels: top earns nothing


# -- overview ----------------------------------------------------------------------------------
def test_the_overview_has_exactly_the_bots_earnings_figures(world):
    for who in ("bottom", "mid", "top"):
        d = world[who]
        seen = centre.overview(d.id)
        figures = lookups.earnings(d.id)
        assert (
            seen.available_fen,
            seen.pending_fen,
            seen.held_fen,
            seen.withdrawn_fen,
            seen.today_fen,
            seen.month_fen,
        ) == (
            figures.available_fen,
            figures.pending_fen,
            figures.held_fen,
            figures.withdrawn_fen,
            figures.today_fen,
            figures.month_fen,
        )
    bottom = centre.overview(world["bottom"].id)
    assert (bottom.available_fen, bottom.pending_fen) == (1_000, 3_300)
    assert bottom.waiting_withdrawals == 0


def test_the_overview_shows_the_next_tier_and_what_it_needs(world):
    bottom = world["bottom"]
    plain = centre.overview(bottom.id).tier
    assert plain == centre.TierProgress("普通", None, [], "any")  # the entry tier, and no other
    silver = make_tier("银牌", 1, min_own_sales_fen=100_000, min_direct_team=3)
    make_tier("特邀", 2)  # given by hand only: never "next"
    make_tier("金牌", 3, min_own_sales_fen=500_000, min_team_sales_fen=900_000, match="all")
    own = db.session.get(Distributor, bottom.id).own_completed_sales_fen
    db.session.rollback()
    assert own == 10_000 + 35_000 - 2_000  # completed, less the refund after completion
    progress = centre.overview(bottom.id).tier
    assert progress == centre.TierProgress(
        "普通", "银牌", [("own_sales_fen", own, 100_000), ("direct_team", 0, 3)], "any"
    )
    set_tier(bottom, silver)
    progress = centre.overview(bottom.id).tier
    assert (progress.tier_name, progress.next_tier_name, progress.match) == ("银牌", "金牌", "all")
    assert progress.needs == [("own_sales_fen", own, 500_000), ("team_sales_fen", 0, 900_000)]
    mid = centre.overview(world["mid"].id).tier
    assert mid.needs == [("own_sales_fen", 0, 100_000), ("direct_team", 1, 3)]
    set_times(Distributor, [world["top"].id], tier_id=None)  # the base rate: no tier at all
    assert centre.overview(world["top"].id).tier == centre.TierProgress(
        None, "银牌", [("own_sales_fen", 0, 100_000), ("direct_team", 1, 3)], "any"
    )


def test_the_overview_and_counts_of_nobody_are_not_found(ctx):
    for read in (centre.overview, centre.team_counts):
        with pytest.raises(NotFound):
            read(999_999)


# -- withdrawals -------------------------------------------------------------------------------
@pytest.fixture
def payee(ctx):
    """A distributor with ¥300.00 and four withdrawals: rejected, paid (v2), waiting for the
    user to confirm a 商家转账 bill, and a bill cancelled unconfirmed."""
    d = make_earner(30_000, withdraw_max_per_day_fen=20_000, withdraw_auto_approve_max_fen=None)
    set_policy(payout_channel="wechat_v2")
    rejected = withdrawals.request_withdrawal(d.id, 1_000)
    withdrawals.reject_withdrawal(rejected.id, "信息不符")

    def paying(fen: int) -> Withdrawal:
        row = withdrawals.request_withdrawal(d.id, fen)
        withdrawals.approve_withdrawal(row.id)
        assert withdrawals.start_payout(row.id) is not None
        return row

    paid = paying(2_000)
    withdrawals.finish_payout(paid.id, TransferResult(True, "pay-1"))
    waiting, cancelled = paying(3_000), paying(4_000)
    set_times(Withdrawal, [waiting.id, cancelled.id], payout_via="transfer_bills")
    for row in (waiting, cancelled):
        withdrawals.record_bill(
            row.id, TransferBill(row.out_bill_no, "B1", "WAIT_USER_CONFIRM", "pkg")
        )
    withdrawals.record_bill(
        cancelled.id,
        TransferBill(cancelled.out_bill_no, "B1", "CANCELLED", fail_reason="MCH_CANCEL"),
    )
    db.session.rollback()
    return d, {
        "rejected": rejected.id,
        "paid": paid.id,
        "waiting": waiting.id,
        "cancelled": cancelled.id,
    }


def test_withdrawals_newest_first_with_their_steps_in_words(payee):
    d, ids = payee
    rows = centre.withdrawals(d.id).items
    assert [r.id for r in rows] == [ids["cancelled"], ids["waiting"], ids["paid"], ids["rejected"]]
    steps = {r.id: [s.words for s in r.steps] for r in rows}
    assert steps[ids["rejected"]] == ["已提交", "已驳回：信息不符"]
    assert steps[ids["paid"]] == ["已提交", "商家已审核", "正在打款", "已到账"]
    assert steps[ids["waiting"]] == ["已提交", "商家已审核", "正在打款", "待您确认收款"]
    assert steps[ids["cancelled"]] == [
        "已提交",
        "商家已审核",
        "正在打款",
        "待您确认收款",
        "未到账，已退回：超时未确认收款，转账已撤销",
    ]
    for r in rows:
        assert [s.at for s in r.steps] == sorted(s.at for s in r.steps)
        assert r.steps[0].at == r.requested_at
        assert r.net_fen == r.amount_fen - r.fee_fen


def test_only_a_bill_waiting_for_the_user_has_a_confirm_url(payee):
    d, ids = payee
    urls = {r.id: r.confirm_url for r in centre.withdrawals(d.id).items}
    assert urls.pop(ids["waiting"]) == withdrawals.confirm_url(ids["waiting"])
    assert set(urls.values()) == {None}
    assert urls[ids["cancelled"]] is None
    assert centre.overview(d.id).waiting_withdrawals == 1


def test_withdrawal_pages_walk_to_the_end(payee):
    d, ids = payee
    walked = [r.id for r in walk(centre.withdrawals, distributor_id=d.id, limit=1)]
    assert walked == [ids["cancelled"], ids["waiting"], ids["paid"], ids["rejected"]]
    assert centre.withdrawals(make_distributor().id).items == []


def test_withdrawal_steps_in_english(payee, app):
    from flask_babel import force_locale

    d, ids = payee
    with app.test_request_context(), force_locale("en"):
        rows = {r.id: r for r in centre.withdrawals(d.id).items}
    assert [s.words for s in rows[ids["paid"]].steps] == [
        "Submitted",
        "Approved by the merchant",
        "Being paid",
        "Received",
    ]


# -- team and customers ------------------------------------------------------------------------
def test_team_lists_one_level_newest_first_with_their_own_team_size(world):
    top, mid, bottom = world["top"], world["mid"], world["bottom"]
    late = make_distributor(upline=top, nickname="王小二")
    level1 = centre.team(top.id).items
    assert [(r.distributor_id, r.level) for r in level1] == [(late.id, 1), (mid.id, 1)]
    assert level1[0].nickname_masked == "王**"
    assert {r.distributor_id: r.team_size for r in level1} == {late.id: 0, mid.id: 1}
    assert [(r.distributor_id, r.level) for r in centre.team(top.id, level=2).items] == [
        (bottom.id, 2)
    ]
    assert centre.team(world["outsider"].id).items == []


def test_a_team_level_past_the_rules_levels_is_an_invalid_query(world):
    top = world["top"]
    for level in (3, 0, 4, "1"):
        with pytest.raises(InvalidQuery):
            centre.team(top.id, level=level)
    publish_rule_set(3, (1_000, 500, 200))
    assert centre.team(top.id, level=3).items == []
    deep = make_distributor(upline=world["bottom"])
    assert [r.distributor_id for r in centre.team(top.id, level=3).items] == [deep.id]


def test_team_pages_walk_to_the_end_with_no_row_twice(world):
    top = world["top"]
    members = [make_distributor(upline=top) for _ in range(4)]
    # Same join time for three: the id breaks the tie.
    set_times(type(top), [m.id for m in members[:3]], joined_at=now() - timedelta(hours=1))
    everything = [r.distributor_id for r in centre.team(top.id, limit=50).items]
    assert sorted(everything) == sorted([world["mid"].id, *(m.id for m in members)])
    for limit in (1, 2, 3):
        walked = [r.distributor_id for r in walk(centre.team, distributor_id=top.id, limit=limit)]
        assert walked == everything


def test_customers_are_the_shoppers_bound_to_me_with_what_they_spent_through_me(world):
    bottom = world["bottom"]
    scan, link = world["scan"], world["link"]
    rows = centre.customers(bottom.id).items
    assert [(r.user_id, r.source, r.nickname_masked) for r in rows] == [
        (link.id, "link", "A**"),
        (scan.id, "scan", "李**"),
    ]
    spent = {r.user_id: (r.order_count, r.spend_fen, r.spend_masked) for r in rows}
    # 李小龙: ¥100 settled + ¥350 less ¥20 refunded; Amy: ¥100 refunded in full, one unpaid.
    assert spent == {scan.id: (2, 43_000, "¥100-500"), link.id: (1, 0, "¥0")}
    assert [r.user_id for r in centre.customers(world["mid"].id).items] == [bottom.user_id]
    assert world["outsider"].id not in {r.user_id for r in rows}


def test_an_expired_binding_is_no_longer_a_customer(world):
    bottom = world["bottom"]
    begin_write()
    db.session.execute(
        update(Binding)
        .where(Binding.user_id == world["link"].id)
        .values(expires_at=now() - timedelta(minutes=1))
    )
    db.session.commit()
    assert [r.user_id for r in centre.customers(bottom.id).items] == [world["scan"].id]
    assert centre.team_counts(bottom.id)[3] == 1


def test_customer_pages_walk_to_the_end_with_no_row_twice(world):
    bottom = world["bottom"]
    for _ in range(4):
        make_shopper(bound_to=bottom)
    begin_write()
    db.session.execute(
        update(Binding).where(Binding.distributor_id == bottom.id).values(bound_at=now())
    )  # every binding at the same moment: the user id breaks the tie
    db.session.commit()
    everything = [r.user_id for r in centre.customers(bottom.id, limit=50).items]
    assert len(everything) == len(set(everything)) == 6
    for limit in (1, 4, 5):
        assert [
            r.user_id for r in walk(centre.customers, distributor_id=bottom.id, limit=limit)
        ] == (everything)


def test_team_counts_are_the_levels_and_the_customers(world):
    assert centre.team_counts(world["top"].id) == (1, 1, 0, 1)  # mid was bound to top
    assert centre.team_counts(world["mid"].id) == (1, 0, 0, 1)
    assert centre.team_counts(world["bottom"].id) == (0, 0, 0, 2)
    assert lookups.team(world["bottom"].id).customer_count == 2


def team_reply(app, openid: str) -> str:
    url, body = w.plain_request(w.text_xml(openid, "团队"))
    response = app.test_client().post(url, data=body)
    assert response.status_code == 200, response.data
    return SafeET.fromstring(response.data).findtext("Content")


def test_the_bots_team_reply_counts_customers_as_team_counts_does(world, app):
    for who in ("top", "mid", "bottom"):
        d = world[who]
        l1, l2, _l3, customers = centre.team_counts(d.id)
        reply = team_reply(app, d.user.openid)
        assert f"我的团队：一级 {l1} 人 · 二级 {l2} 人\n我的客户：{customers} 人" in reply
    # bottom brought in shoppers only: no team, two customers
    assert "我的团队：一级 0 人 · 二级 0 人\n我的客户：2 人\n" in team_reply(
        app, world["bottom"].user.openid
    )


# -- funnel ------------------------------------------------------------------------------------
# Wednesday 9 December 2026, noon in China: this week began on Monday 7 December, 00:00 China
# time, which is 16:00 UTC on Sunday 6 December.
NOW = datetime(2026, 12, 9, 4, 0, tzinfo=UTC)
THIS_WEEK, LAST_WEEK = date(2026, 12, 7), date(2026, 11, 30)


def share(distributor, kind, at, product=None) -> None:
    begin_write()
    db.session.add(
        ShareEvent(
            distributor_id=distributor.id,
            kind=kind,
            product_id=product.id if product else None,
            created_at=at,
        )
    )
    db.session.commit()


def test_funnel_counts_scans_visits_orders_and_paid_orders_per_product_and_china_week(
    world, monkeypatch
):
    monkeypatch.setattr(centre, "now", lambda: NOW)
    bottom, outsider = world["bottom"], world["outsider"]
    tea, cup, pot = world["products"]
    sunday_night_utc = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)  # Monday 07:30 in China
    sunday_night_china = datetime(2026, 12, 6, 15, 30, tzinfo=UTC)  # Sunday 23:30 in China
    share(bottom, "scan", sunday_night_utc, tea)
    share(bottom, "subscribe", sunday_night_utc, tea)
    share(bottom, "visit", sunday_night_utc, tea)
    share(bottom, "scan", sunday_night_china, tea)
    share(bottom, "scan", sunday_night_utc)  # the invite poster
    share(bottom, "scan", NOW - timedelta(weeks=9), tea)  # before the window
    share(outsider, "scan", sunday_night_utc, tea)
    settled, refunded, partly = world["orders"]
    unpaid = db.session.scalar(
        select(Order.id).where(Order.user_id == world["link"].id, Order.status == "pending_payment")
    )
    set_times(Order, [partly.id, unpaid], created_at=sunday_night_utc)
    set_times(Order, [settled.id, refunded.id], created_at=sunday_night_china)

    weeks = centre.funnel(bottom.id)
    got = {
        (w.week_start, w.product_id): (w.scans, w.visits, w.orders, w.paid_orders) for w in weeks
    }
    assert got == {
        (THIS_WEEK, None): (1, 0, 0, 0),
        (THIS_WEEK, tea.id): (2, 1, 2, 1),  # partly (paid) and the unpaid one
        (THIS_WEEK, cup.id): (0, 0, 1, 1),
        (THIS_WEEK, pot.id): (0, 0, 1, 1),
        (LAST_WEEK, tea.id): (1, 0, 1, 1),  # settled
        (LAST_WEEK, cup.id): (0, 0, 1, 1),  # refunded after payment: still paid
    }
    assert [(w.week_start, w.product_id) for w in weeks][:2] == [
        (THIS_WEEK, None),
        (THIS_WEEK, tea.id),
    ]
    assert {w.product_title for w in weeks} == {None, "龙井", "茶杯", "茶壶"}
    assert [(w.week_start, w.product_id) for w in centre.funnel(bottom.id, weeks=1)] == [
        k for k in ((w.week_start, w.product_id) for w in weeks) if k[0] == THIS_WEEK
    ]
    assert all(w.week_start.weekday() == 0 for w in weeks)
    assert sunday_night_utc.astimezone(CHINA).date() == THIS_WEEK


def test_funnel_of_a_distributor_with_nothing_is_empty(world, monkeypatch):
    monkeypatch.setattr(centre, "now", lambda: NOW)
    assert centre.funnel(world["top"].id) == []
    with pytest.raises(InvalidQuery):
        centre.funnel(world["top"].id, weeks=0)

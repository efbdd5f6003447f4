"""Claiming coupons (领券): the offers a shopper sees, each refusal (which writes nothing), the
coupons they hold in their order, and exactly-once claims when shoppers race."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from infra.clock import now
from models import Coupon, UserCoupon, db
from models.base import begin_write
from models.errors import CouponRefused, NotFound
from models.pricing import CouponKind, CouponTerms
from services.coupons import claim, coupon_terms, my_coupons, offers
from tests.factories import make_user
from tests.integration.test_concurrency import run_concurrently, threaded_app, unexpected

__all__ = ["threaded_app"]  # the fixture, shared with the engine's concurrency tests
DAY = timedelta(days=1)


def make_coupon(**fields) -> Coupon:
    """A ¥10-off-¥100 coupon on offer from yesterday to tomorrow, one per shopper."""
    at = now()
    values = {
        "title": "满100减10",
        "kind": "amount_off",
        "off_fen": 1_000,
        "min_goods_fen": 10_000,
        "starts_at": at - DAY,
        "ends_at": at + DAY,
        **fields,
    }
    begin_write()
    coupon = Coupon(**values)
    db.session.add(coupon)
    db.session.commit()
    return coupon


def refusal(user_id: int, coupon_id) -> str:
    with pytest.raises(CouponRefused) as caught:
        claim(user_id, coupon_id)
    assert caught.value.code == "coupon_refused"
    return caught.value.params["reason"]


def claims_of(coupon_id: int, user_id: int | None = None) -> int:
    stmt = select(func.count()).select_from(UserCoupon).where(UserCoupon.coupon_id == coupon_id)
    if user_id is not None:
        stmt = stmt.where(UserCoupon.user_id == user_id)
    return db.session.scalar(stmt)


def claimed_count(coupon_id: int) -> int:
    db.session.rollback()
    return db.session.scalar(select(Coupon.claimed).where(Coupon.id == coupon_id))


# --- terms and offers ------------------------------------------------------------------------


def test_a_coupons_terms_are_read_from_its_row(ctx):
    amount = make_coupon(product_ids=[3, 1])
    percent = make_coupon(kind="percent_off", off_fen=0, discount_bps=1_500, cap_fen=2_000)
    free = make_coupon(kind="no_threshold", off_fen=500, min_goods_fen=0)

    assert coupon_terms(amount) == CouponTerms(
        kind=CouponKind.AMOUNT_OFF,
        starts_at=amount.starts_at,
        ends_at=amount.ends_at,
        off_fen=1_000,
        min_goods_fen=10_000,
        product_ids=frozenset({1, 3}),
    )
    assert (coupon_terms(percent).discount_bps, coupon_terms(percent).cap_fen) == (1_500, 2_000)
    assert coupon_terms(free).kind is CouponKind.NO_THRESHOLD
    assert coupon_terms(free).product_ids == frozenset()


def test_offers_are_the_active_coupons_in_their_window_ending_soonest_first(ctx):
    at = now()
    later = make_coupon(title="后", ends_at=at + 3 * DAY)
    sooner = make_coupon(title="先", ends_at=at + DAY)
    make_coupon(title="停用", active=False)
    make_coupon(title="未开始", starts_at=at + DAY, ends_at=at + 2 * DAY)
    make_coupon(title="已结束", starts_at=at - 2 * DAY, ends_at=at - DAY)
    make_coupon(title="坏的", min_goods_fen=0)  # 满减 without a minimum: left out, not a 500

    assert [o.coupon_id for o in offers(None, at)] == [sooner.id, later.id]
    assert [o.title for o in offers(None, at + 2 * DAY)] == ["后"]


def test_an_offer_says_how_many_the_shopper_holds_and_why_they_cannot_claim_more(ctx):
    user = make_user()
    one_each = make_coupon(title="每人一张")
    two_each = make_coupon(title="每人两张", per_user_limit=2)
    gone = make_coupon(title="抢光", total_limit=1)
    claim(make_user().id, gone.id)
    claim(user.id, one_each.id)
    claim(user.id, two_each.id)

    seen = {o.title: (o.claimed_by_user, o.refusal) for o in offers(user.id)}

    assert seen == {
        "每人一张": (1, "user_limit_reached"),
        "每人两张": (1, None),
        "抢光": (0, "all_claimed"),
    }
    signed_out = {o.title: (o.claimed_by_user, o.refusal) for o in offers(None)}
    assert signed_out == {"每人一张": (0, None), "每人两张": (0, None), "抢光": (0, "all_claimed")}


# --- claiming --------------------------------------------------------------------------------


def test_a_claim_gives_the_shopper_an_available_coupon_and_counts_it(ctx):
    user, coupon = make_user(), make_coupon(total_limit=5)
    held = claim(user.id, coupon.id)
    assert (held.user_id, held.coupon_id, held.status, held.order_id) == (
        user.id,
        coupon.id,
        "available",
        None,
    )
    assert claimed_count(coupon.id) == 1


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"active": False}, "not_found"),
        ({"starts_at": now() + DAY, "ends_at": now() + 2 * DAY}, "not_started"),
        ({"starts_at": now() - 2 * DAY, "ends_at": now() - timedelta(seconds=1)}, "expired"),
        ({"total_limit": 0}, "all_claimed"),
    ],
)
def test_a_coupon_that_cannot_be_claimed_is_refused_by_reason_and_nothing_is_written(
    ctx, fields, reason
):
    user, coupon = make_user(), make_coupon(**fields)
    assert refusal(user.id, coupon.id) == reason
    assert claims_of(coupon.id) == 0
    assert claimed_count(coupon.id) == 0


@pytest.mark.parametrize("coupon_id", [10**6, 0, -1, 2**31, True, "1", None])
def test_a_coupon_that_does_not_exist_is_not_found(ctx, coupon_id):
    assert refusal(make_user().id, coupon_id) == "not_found"


def test_a_shopper_claims_up_to_their_limit_and_no_more(ctx):
    user, coupon = make_user(), make_coupon(per_user_limit=2)
    claim(user.id, coupon.id)
    claim(user.id, coupon.id)
    assert refusal(user.id, coupon.id) == "user_limit_reached"
    assert claims_of(coupon.id, user.id) == 2
    assert claimed_count(coupon.id) == 2
    claim(make_user().id, coupon.id)  # the limit is per shopper
    assert claimed_count(coupon.id) == 3


def test_the_last_copy_goes_once(ctx):
    coupon = make_coupon(total_limit=2)
    # Set after the insert: the ORM fills a None with the column's default (1) on insert.
    db.session.execute(update(Coupon).where(Coupon.id == coupon.id).values(per_user_limit=None))
    db.session.commit()
    first = make_user()
    claim(first.id, coupon.id)
    claim(first.id, coupon.id)  # no per-user limit
    assert refusal(make_user().id, coupon.id) == "all_claimed"
    assert claimed_count(coupon.id) == 2


def test_a_used_or_locked_copy_still_counts_against_the_shoppers_limit(ctx):
    user, coupon = make_user(), make_coupon()
    held = claim(user.id, coupon.id)
    db.session.execute(update(UserCoupon).where(UserCoupon.id == held.id).values(status="used"))
    db.session.commit()
    assert refusal(user.id, coupon.id) == "user_limit_reached"


def test_a_user_that_does_not_exist_cannot_claim(ctx):
    coupon = make_coupon()
    with pytest.raises(NotFound):
        claim(10**6, coupon.id)
    assert claimed_count(coupon.id) == 0


# --- the shopper's coupons -------------------------------------------------------------------


def test_my_coupons_list_usable_first_then_held_or_used_and_expired_last(ctx):
    user, at = make_user(), now()
    ends_later = make_coupon(title="晚", ends_at=at + 5 * DAY)
    ends_sooner = make_coupon(title="早", ends_at=at + 2 * DAY)
    locked = make_coupon(title="锁")
    used = make_coupon(title="用")
    expiring = make_coupon(title="过期", ends_at=at + timedelta(hours=1))
    for coupon in (ends_later, ends_sooner, locked, used, expiring):
        claim(user.id, coupon.id)
    for coupon, status in ((locked, "locked"), (used, "used")):
        db.session.execute(
            update(UserCoupon).where(UserCoupon.coupon_id == coupon.id).values(status=status)
        )
    db.session.commit()
    claim(make_user().id, ends_later.id)  # someone else's

    listed = my_coupons(user.id, at=at + timedelta(hours=2))

    assert [held.coupon.title for held, _terms in listed] == ["早", "晚", "锁", "用", "过期"]
    assert all(held.user_id == user.id for held, _terms in listed)
    assert [terms.ends_at for _held, terms in listed][:2] == [
        ends_sooner.ends_at,
        ends_later.ends_at,
    ]


def test_a_shopper_without_coupons_has_none(ctx):
    make_coupon()
    assert my_coupons(make_user().id) == []


# --- claims at once (PostgreSQL: row locks and a conditional update) -------------------------


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_fifty_shoppers_racing_for_ten_copies_get_exactly_ten(threaded_app):
    coupon = make_coupon(total_limit=10)
    users = [make_user() for _ in range(50)]

    results = run_concurrently(threaded_app, claim, [(u.id, coupon.id) for u in users])

    assert unexpected(results, CouponRefused) == []
    refused = [r for r in results if isinstance(r, CouponRefused)]
    assert {r.params["reason"] for r in refused} == {"all_claimed"}
    assert len(refused) == 40
    assert claims_of(coupon.id) == 10
    assert claimed_count(coupon.id) == 10
    holders = db.session.scalars(
        select(UserCoupon.user_id).where(UserCoupon.coupon_id == coupon.id)
    )
    assert len(set(holders)) == 10


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_one_shopper_claiming_twenty_times_at_once_gets_one(threaded_app):
    coupon = make_coupon(per_user_limit=1)
    user = make_user()

    results = run_concurrently(threaded_app, claim, [(user.id, coupon.id)] * 20, threads=20)

    assert unexpected(results, CouponRefused) == []
    refused = [r for r in results if isinstance(r, CouponRefused)]
    assert {r.params["reason"] for r in refused} == {"user_limit_reached"}
    assert len(refused) == 19
    assert claims_of(coupon.id, user.id) == 1
    assert claimed_count(coupon.id) == 1

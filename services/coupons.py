"""Coupons for shoppers: the offers they may claim (领券), claiming one, and the coupons they hold.

A claim is exactly-once under concurrency: the shopper's user row is locked before their claims
are counted (the per-user limit), and the coupon's count is raised by one conditional update
that only succeeds while copies are left (the total limit), so fifty shoppers racing for the
last ten copies get ten."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import contains_eager

from infra.clock import now
from infra.db import for_update, unit_of_work
from models import Coupon, User, UserCoupon, db
from models.errors import CouponRefused, InvalidRule, NotFound
from models.identifiers import INT_ID_MAX
from models.pricing import ClaimRefusal, CouponRefusalReason, CouponTerms, claim_allowed

log = logging.getLogger(__name__)

NOT_FOUND = "not_found"  # CouponRefused's reason for a coupon missing or switched off
# Every reason a claim is refused with, for the pages that put them in words.
CLAIM_REFUSALS = (
    NOT_FOUND,
    CouponRefusalReason.NOT_STARTED.value,
    CouponRefusalReason.EXPIRED.value,
    ClaimRefusal.USER_LIMIT_REACHED.value,
    ClaimRefusal.ALL_CLAIMED.value,
)
# How a shopper's coupons are listed: usable first, then those an order holds or used.
_STATUS_ORDER = {"available": 0, "locked": 1, "used": 2}


@dataclass(frozen=True)
class CouponOffer:
    """A coupon the shop offers now, and whether this shopper may claim it."""

    coupon_id: int
    title: str
    terms: CouponTerms
    claimed_by_user: int
    refusal: str | None  # why it cannot be claimed now (a CouponRefused reason); None: it can


def coupon_terms(coupon: Coupon) -> CouponTerms:
    """The pure terms (models.pricing) of a coupon row."""
    return CouponTerms(
        kind=coupon.kind,
        starts_at=coupon.starts_at,
        ends_at=coupon.ends_at,
        off_fen=coupon.off_fen,
        discount_bps=coupon.discount_bps,
        cap_fen=coupon.cap_fen,
        min_goods_fen=coupon.min_goods_fen,
        product_ids=frozenset(coupon.product_ids or ()),
    )


def offers(user_id: int | None, at: datetime | None = None) -> list[CouponOffer]:
    """The active coupons within their window at `at`, ending soonest first, each with how many
    the shopper has claimed (none when signed out) and why they may not claim it now."""
    at = at or now()
    rows = db.session.scalars(
        select(Coupon)
        .where(Coupon.active.is_(True), Coupon.starts_at <= at, Coupon.ends_at > at)
        .order_by(Coupon.ends_at, Coupon.id)
    ).all()
    mine = _claims_by_coupon(user_id, [c.id for c in rows]) if user_id is not None else {}
    found = []
    for coupon in rows:
        terms = _terms_or_none(coupon)
        if terms is None:
            continue
        claimed = mine.get(coupon.id, 0)
        refusal = claim_allowed(coupon.total_limit, coupon.claimed, coupon.per_user_limit, claimed)
        found.append(
            CouponOffer(coupon.id, coupon.title, terms, claimed, refusal.value if refusal else None)
        )
    return found


def claim(user_id: int, coupon_id: int) -> UserCoupon:
    """Claim one copy of a coupon for the shopper. CouponRefused (reason not_found, not_started,
    expired, user_limit_reached or all_claimed) when it cannot be claimed; NotFound for no such
    user. A refusal writes nothing."""
    with unit_of_work():
        at = now()
        _lock_user(user_id)  # first: two claims by one shopper are counted one after the other
        coupon = db.session.get(Coupon, coupon_id) if _is_id(coupon_id) else None
        if coupon is None or not coupon.active:
            raise CouponRefused("no such coupon on offer", reason=NOT_FOUND)
        if at < coupon.starts_at:
            raise CouponRefused(
                "the coupon is not yet on offer", reason=CouponRefusalReason.NOT_STARTED.value
            )
        if at >= coupon.ends_at:
            raise CouponRefused(
                "the coupon is no longer on offer", reason=CouponRefusalReason.EXPIRED.value
            )
        claimed = _claims_by_coupon(user_id, [coupon.id]).get(coupon.id, 0)
        if claim_allowed(None, 0, coupon.per_user_limit, claimed) is not None:
            raise ClaimRefusal.USER_LIMIT_REACHED.error()
        if not _take_copy(coupon.id):
            db.session.refresh(coupon)
            if not coupon.active:
                raise CouponRefused("no such coupon on offer", reason=NOT_FOUND)
            raise ClaimRefusal.ALL_CLAIMED.error()
        held = UserCoupon(coupon_id=coupon.id, user_id=user_id, status="available", claimed_at=at)
        db.session.add(held)
    return held


def my_coupons(user_id: int, at: datetime | None = None) -> list[tuple[UserCoupon, CouponTerms]]:
    """The shopper's coupons with their terms: usable ones first (ending soonest first), then
    those locked by an order or used, and those past their end last."""
    at = at or now()
    held = db.session.scalars(
        select(UserCoupon)
        .join(Coupon)
        .options(contains_eager(UserCoupon.coupon))
        .where(UserCoupon.user_id == user_id)
    ).all()
    found = [(c, terms) for c in held if (terms := _terms_or_none(c.coupon)) is not None]

    def order(pair: tuple[UserCoupon, CouponTerms]):
        held_coupon, terms = pair
        expired = terms.ends_at <= at
        return (expired, _STATUS_ORDER.get(held_coupon.status, 3), terms.ends_at, held_coupon.id)

    return sorted(found, key=order)


def _take_copy(coupon_id: int) -> bool:
    """Count one more claim, if copies are left: a conditional update, so the last copy goes
    to exactly one of the claims racing for it."""
    taken = db.session.execute(
        update(Coupon)
        .where(
            Coupon.id == coupon_id,
            Coupon.active.is_(True),
            (Coupon.total_limit.is_(None)) | (Coupon.claimed < Coupon.total_limit),
        )
        .values(claimed=Coupon.claimed + 1),
        execution_options={"synchronize_session": False},
    ).rowcount
    return taken == 1


def _claims_by_coupon(user_id: int, coupon_ids: list[int]) -> dict[int, int]:
    if not coupon_ids:
        return {}
    rows = db.session.execute(
        select(UserCoupon.coupon_id, func.count())
        .where(UserCoupon.user_id == user_id, UserCoupon.coupon_id.in_(coupon_ids))
        .group_by(UserCoupon.coupon_id)
    )
    return {coupon_id: count for coupon_id, count in rows}


def _terms_or_none(coupon: Coupon) -> CouponTerms | None:
    # The merchant's form checks the terms; a row that still fails them is left out of the
    # shop (logged), not a broken coupons page.
    try:
        return coupon_terms(coupon)
    except InvalidRule as e:
        log.warning("coupon %s has invalid terms: %s", coupon.id, e.message)
        return None


def _lock_user(user_id: int) -> None:
    if db.session.scalar(for_update(select(User.id).where(User.id == user_id))) is None:
        raise NotFound("no such user", what="user")


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= INT_ID_MAX

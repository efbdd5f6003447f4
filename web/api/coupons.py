"""Coupons: those on offer now (anyone; a signed-in shopper sees what they claimed and why they
may not claim more), claiming one (领券), and the shopper's own."""

from __future__ import annotations

from models.pricing import CouponTerms
from services import coupons
from texts import shop as shop_texts
from web.api.common import ApiBlueprint, errors, optional_user_id, page_of, public, user_id
from web.api.schemas import CouponOfferSchema, MyCouponSchema, PageArgs, page_schema

bp = ApiBlueprint("api_coupons", __name__, url_prefix="/api/v1/coupons", description="Coupons")


@bp.get("")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(CouponOfferSchema))
@errors(400)
@public
def offers(args):
    """The coupons on offer now, ending soonest first."""
    found = [
        {
            "coupon_id": offer.coupon_id,
            "title": offer.title,
            "terms": terms_json(offer.terms),
            "claimed_by_user": offer.claimed_by_user,
            "refusal": offer.refusal,
        }
        for offer in coupons.offers(optional_user_id())
    ]
    return page_of("coupons", found, args.get("cursor"), args["limit"])


@bp.post("/<api_id:coupon_id>/claim")
@bp.response(201, MyCouponSchema)
@bp.writes
@errors(409)
def claim(coupon_id: int):
    """Claim one copy. Refusals (409): not_started, expired, user_limit_reached, all_claimed;
    404 for no such coupon on offer."""
    held = coupons.claim(user_id(), coupon_id)
    return mine_json(held, coupons.coupon_terms(held.coupon))


@bp.get("/mine")
@bp.arguments(PageArgs, location="query")
@bp.response(200, page_schema(MyCouponSchema))
@errors(400)
def mine(args):
    """The shopper's coupons: usable ones first, then those an order holds or used."""
    found = [mine_json(held, terms) for held, terms in coupons.my_coupons(user_id())]
    return page_of("my_coupons", found, args.get("cursor"), args["limit"])


def terms_json(terms: CouponTerms) -> dict:
    return {
        "kind": str(terms.kind),
        "off_fen": terms.off_fen,
        "discount_bps": terms.discount_bps,
        "cap_fen": terms.cap_fen,
        "min_goods_fen": terms.min_goods_fen,
        "product_ids": sorted(terms.product_ids),
        "starts_at": terms.starts_at,
        "ends_at": terms.ends_at,
        "summary": shop_texts.coupon_summary(
            str(terms.kind), terms.off_fen, terms.discount_bps, terms.cap_fen, terms.min_goods_fen
        ),
    }


def mine_json(held, terms: CouponTerms) -> dict:
    return {
        "user_coupon_id": held.id,
        "coupon_id": held.coupon_id,
        "title": held.coupon.title,
        "status": held.status,
        "terms": terms_json(terms),
        "claimed_at": held.claimed_at,
        "used_at": held.used_at,
    }

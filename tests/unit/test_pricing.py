"""Shop pricing: each coupon kind at its edges, shipping, the breakdown, and its invariants
(docs/money.md, "Shop pricing: coupons, shipping, the price breakdown")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import CouponRefused, InvalidRule, OrderError, RegionNotDelivered
from models.money import percent_of
from models.pricing import (
    ClaimRefusal,
    CouponKind,
    CouponRefusal,
    CouponRefusalReason,
    CouponTerms,
    PriceLine,
    ShippingTemplate,
    claim_allowed,
    coupon_discount,
    price_order,
    province_key,
    shipping_fee,
)

CHINA = timezone(timedelta(hours=8))
START = datetime(2026, 12, 1, tzinfo=CHINA)
END = datetime(2026, 12, 13, tzinfo=CHINA)
AT = datetime(2026, 12, 6, 12, tzinfo=CHINA)
TICK = timedelta(microseconds=1)
R = CouponRefusalReason


def amount_off(off_fen, min_goods_fen, product_ids=frozenset()):
    return CouponTerms(
        kind=CouponKind.AMOUNT_OFF,
        starts_at=START,
        ends_at=END,
        off_fen=off_fen,
        min_goods_fen=min_goods_fen,
        product_ids=product_ids,
    )


def percent_off(discount_bps, cap_fen=None, min_goods_fen=0, product_ids=frozenset()):
    return CouponTerms(
        kind=CouponKind.PERCENT_OFF,
        starts_at=START,
        ends_at=END,
        discount_bps=discount_bps,
        cap_fen=cap_fen,
        min_goods_fen=min_goods_fen,
        product_ids=product_ids,
    )


def no_threshold(off_fen, product_ids=frozenset()):
    return CouponTerms(
        kind=CouponKind.NO_THRESHOLD,
        starts_at=START,
        ends_at=END,
        off_fen=off_fen,
        product_ids=product_ids,
    )


def cart(*items):
    """(product id, unit price, quantity) items as lines keyed 0, 1, ..."""
    return [PriceLine(i, p, price, qty) for i, (p, price, qty) in enumerate(items)]


def below(minimum, short):
    return CouponRefusal(R.BELOW_MINIMUM, minimum_fen=minimum, short_fen=short)


MAN_100_JIAN_20 = amount_off(2000, 10_000)  # 满100减20
ZHE_85_FROM_50 = percent_off(1500, min_goods_fen=5000)  # 8.5折, 满50可用
ZHE_8_CAP_10 = percent_off(2000, cap_fen=1000)  # 8折, 最多减10元
WU_MEN_KAN_5 = no_threshold(500)  # 无门槛5元
TEA_ONLY = amount_off(1000, 5000, frozenset({1}))  # 满50减10, on product 1 only
SHIPS = ShippingTemplate(flat_fee_fen=1000, free_over_fen=9900, excluded_regions={"新疆", "西藏"})
FREE = ShippingTemplate(flat_fee_fen=0)


# ---------------------------------------------------------------------------------------------
# Coupons: each kind at, below and above its minimum; the cap; scope


@pytest.mark.parametrize(
    ("coupon", "lines", "expected"),
    [
        # 满减: at, below and above the minimum
        (MAN_100_JIAN_20, cart((1, 9999, 1)), below(10_000, 1)),
        (MAN_100_JIAN_20, cart((1, 10_000, 1)), 2000),
        (MAN_100_JIAN_20, cart((1, 10_001, 1)), 2000),
        (MAN_100_JIAN_20, cart((1, 2500, 2), (2, 2500, 2)), 2000),  # the minimum is the sum
        # 折扣: 15 % off, rounded down to the fen
        (ZHE_85_FROM_50, cart((1, 4999, 1)), below(5000, 1)),
        (ZHE_85_FROM_50, cart((1, 5000, 1)), 750),
        (ZHE_85_FROM_50, cart((1, 5001, 1)), 750),  # 750.15 fen
        (ZHE_85_FROM_50, cart((1, 5007, 1)), 751),  # 751.05 fen
        # 折扣 with a cap: 20 % off, at most ¥10
        (ZHE_8_CAP_10, cart((1, 4999, 1)), 999),
        (ZHE_8_CAP_10, cart((1, 5000, 1)), 1000),
        (ZHE_8_CAP_10, cart((1, 5005, 1)), 1000),
        (ZHE_8_CAP_10, cart((1, 100_000, 3)), 1000),
        # 无门槛: any goods, but it leaves at least 1 fen to pay
        (WU_MEN_KAN_5, cart((1, 10_000, 1)), 500),
        (WU_MEN_KAN_5, cart((1, 501, 1)), 500),
        (WU_MEN_KAN_5, cart((1, 500, 1)), 499),
        (WU_MEN_KAN_5, cart((1, 1, 1)), 0),
        # scope: only product 1 counts toward the minimum and is discounted
        (TEA_ONLY, cart((1, 4000, 1), (2, 8000, 1)), below(5000, 1000)),
        (TEA_ONLY, cart((1, 5000, 1), (2, 8000, 1)), 1000),
        (TEA_ONLY, cart((2, 80_000, 1)), CouponRefusal(R.NO_ELIGIBLE_GOODS)),
        (TEA_ONLY, cart((1, 0, 3), (2, 8000, 1)), CouponRefusal(R.NO_ELIGIBLE_GOODS)),  # free
        (no_threshold(5000, frozenset({1})), cart((1, 3000, 1), (2, 9000, 1)), 3000),
    ],
)
def test_coupon_discount(coupon, lines, expected):
    assert coupon_discount(coupon, lines, AT) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (START - TICK, CouponRefusal(R.NOT_STARTED)),
        (START, 2000),  # the start is inclusive
        (END - TICK, 2000),
        (END, CouponRefusal(R.EXPIRED)),  # the end is exclusive
        (END.astimezone(UTC), CouponRefusal(R.EXPIRED)),  # the same instant, in another zone
        (START.astimezone(UTC) - TICK, CouponRefusal(R.NOT_STARTED)),
    ],
)
def test_coupon_window_starts_inclusive_and_ends_exclusive(at, expected):
    assert coupon_discount(MAN_100_JIAN_20, cart((1, 10_000, 1)), at) == expected


def test_window_is_checked_before_the_goods():
    lines = cart((2, 1, 1))
    assert coupon_discount(TEA_ONLY, lines, END) == CouponRefusal(R.EXPIRED)


def test_coupon_covering_the_whole_order_leaves_one_fen_to_pay():
    breakdown = price_order(cart((1, 3000, 1)), no_threshold(5000), FREE, "广东省", AT)
    assert (breakdown.discount_fen, breakdown.payable_fen, breakdown.needs_payment) == (
        2999,
        1,
        True,
    )


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        (dict(kind="amount_off", off_fen=0, min_goods_fen=100), "coupon_off"),
        (dict(kind="amount_off", off_fen=-5, min_goods_fen=100), "coupon_off"),
        (dict(kind="amount_off", off_fen=100, min_goods_fen=0), "coupon_min"),
        (dict(kind="amount_off", off_fen=100, min_goods_fen=-1), "coupon_min"),
        (dict(kind="amount_off", off_fen=100, min_goods_fen=500, discount_bps=10), "coupon_kind"),
        (dict(kind="no_threshold", off_fen=100, min_goods_fen=500), "coupon_min"),
        (dict(kind="no_threshold", off_fen=100, cap_fen=50), "coupon_kind"),
        (dict(kind="no_threshold", off_fen=True), "coupon_off"),
        (dict(kind="percent_off", discount_bps=0), "coupon_percent"),
        (dict(kind="percent_off", discount_bps=10_000), "coupon_percent"),
        (dict(kind="percent_off", discount_bps=1500, cap_fen=0), "coupon_cap"),
        (dict(kind="percent_off", discount_bps=1500, off_fen=100), "coupon_kind"),
        (dict(kind="buy_one_get_one", off_fen=100), "coupon_kind"),
        (dict(kind="no_threshold", off_fen=100, ends_at=START), "coupon_window"),
        (dict(kind="no_threshold", off_fen=100, starts_at=END, ends_at=START), "coupon_window"),
        (dict(kind="no_threshold", off_fen=100, starts_at=datetime(2026, 12, 1)), "coupon_window"),
    ],
)
def test_coupon_terms_are_refused_when_invalid(terms, reason):
    with pytest.raises(InvalidRule) as refused:
        CouponTerms(**({"starts_at": START, "ends_at": END} | terms))
    assert refused.value.params["reason"] == reason


@pytest.mark.parametrize(
    "terms",
    [
        dict(kind="percent_off", discount_bps=1),
        dict(kind="percent_off", discount_bps=9999, cap_fen=1, min_goods_fen=0),
        dict(kind="amount_off", off_fen=1, min_goods_fen=1),
        dict(kind="no_threshold", off_fen=1, product_ids={3, 4}),
    ],
)
def test_coupon_terms_at_their_limits_are_accepted(terms):
    coupon = CouponTerms(starts_at=START, ends_at=END, **terms)
    assert isinstance(coupon.product_ids, frozenset)
    assert hash(coupon)


@pytest.mark.parametrize(
    ("refusal", "params"),
    [
        (CouponRefusal(R.NOT_STARTED), {"reason": "not_started"}),
        (CouponRefusal(R.EXPIRED), {"reason": "expired"}),
        (CouponRefusal(R.NO_ELIGIBLE_GOODS), {"reason": "no_eligible_goods"}),
        (below(5000, 1000), {"reason": "below_minimum", "minimum_fen": 5000, "short_fen": 1000}),
    ],
)
def test_each_coupon_refusal_becomes_coupon_refused_with_its_reason(refusal, params):
    error = refusal.error()
    assert (type(error), error.code, error.params) == (CouponRefused, "coupon_refused", params)


# ---------------------------------------------------------------------------------------------
# Claim limits


@pytest.mark.parametrize(
    ("total_limit", "claimed_total", "per_user_limit", "claimed_by_user", "expected"),
    [
        (100, 0, 1, 0, None),
        (100, 99, 1, 0, None),  # the last copy
        (100, 100, 1, 0, ClaimRefusal.ALL_CLAIMED),
        (100, 150, 1, 0, ClaimRefusal.ALL_CLAIMED),  # the limit was lowered
        (100, 5, 1, 1, ClaimRefusal.USER_LIMIT_REACHED),
        (100, 5, 3, 2, None),
        (100, 100, 1, 1, ClaimRefusal.USER_LIMIT_REACHED),  # the shopper's own limit first
        (None, 10**9, 1, 0, None),  # no total limit
        (100, 5, None, 10**6, None),  # no per-user limit
        (0, 0, None, 0, ClaimRefusal.ALL_CLAIMED),
    ],
)
def test_claim_allowed(total_limit, claimed_total, per_user_limit, claimed_by_user, expected):
    assert claim_allowed(total_limit, claimed_total, per_user_limit, claimed_by_user) == expected


def test_claim_refusal_becomes_coupon_refused():
    assert ClaimRefusal.ALL_CLAIMED.error().params == {"reason": "all_claimed"}


def test_claim_limit_cannot_be_negative():
    with pytest.raises(InvalidRule):
        claim_allowed(-1, 0, None, 0)


# ---------------------------------------------------------------------------------------------
# Shipping


@pytest.mark.parametrize(
    ("template", "goods_after_discount", "province", "fee"),
    [
        (SHIPS, 9899, "广东省", 1000),
        (SHIPS, 9900, "广东省", 0),  # exactly the threshold ships free
        (SHIPS, 9901, "广东省", 0),
        (SHIPS, 0, "北京市", 1000),
        (SHIPS, 50_000, "内蒙古自治区", 0),
        (ShippingTemplate(flat_fee_fen=800), 10**8, "上海市", 800),  # never free
        (FREE, 1, "新疆维吾尔自治区", 0),  # no region excluded
    ],
)
def test_shipping_fee(template, goods_after_discount, province, fee):
    assert shipping_fee(template, goods_after_discount, province) == fee


@pytest.mark.parametrize("province", ["新疆", "新疆维吾尔自治区", "西藏自治区", " 西藏 ", "西藏"])
def test_shipping_is_refused_to_an_excluded_province_by_any_of_its_names(province):
    with pytest.raises(RegionNotDelivered) as refused:
        shipping_fee(SHIPS, 50_000, province)
    assert refused.value.code == "region_not_delivered"
    assert not SHIPS.delivers_to(province)


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("新疆维吾尔自治区", "新疆"),
        ("广西壮族自治区", "广西"),
        ("宁夏回族自治区", "宁夏"),
        ("内蒙古自治区", "内蒙古"),
        ("西藏自治区", "西藏"),
        ("香港特别行政区", "香港"),
        ("黑龙江省", "黑龙江"),
        ("北京市", "北京"),
        ("北京", "北京"),
        (" 广东 省", "广东"),
    ],
)
def test_province_key(name, key):
    assert province_key(name) == key


def test_shipping_needs_a_province():
    with pytest.raises(OrderError):
        shipping_fee(SHIPS, 100, " ")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        (dict(flat_fee_fen=-1), "shipping_fee"),
        (dict(flat_fee_fen=1000, free_over_fen=0), "shipping_free_over"),
        (dict(flat_fee_fen=1000, excluded_regions="新疆"), "shipping_region"),
        (dict(flat_fee_fen=1000, excluded_regions={"  "}), "shipping_region"),
    ],
)
def test_shipping_templates_are_refused_when_invalid(template, reason):
    with pytest.raises(InvalidRule) as refused:
        ShippingTemplate(**template)
    assert refused.value.params["reason"] == reason


def test_free_shipping_is_judged_on_goods_after_the_coupon():
    lines = cart((1, 10_000, 1))
    assert price_order(lines, None, SHIPS, "广东省", AT).shipping_fen == 0
    assert price_order(lines, MAN_100_JIAN_20, SHIPS, "广东省", AT).shipping_fen == 1000


# ---------------------------------------------------------------------------------------------
# The price breakdown


def test_the_demo_order_spreads_its_discount_like_the_commission_example():
    # docs/money.md, "A worked example": ¥10.00 over ¥336.00 and ¥39.90 is 894 and 106 fen.
    lines = cart((1, 16_800, 2), (2, 3990, 1))
    breakdown = price_order(lines, no_threshold(1000), SHIPS, "浙江省", AT)
    assert [(line.goods_fen, line.discount_fen, line.paid_fen) for line in breakdown.lines] == [
        (33_600, 894, 32_706),
        (3990, 106, 3884),
    ]
    assert (breakdown.goods_fen, breakdown.discount_fen, breakdown.shipping_fen) == (
        37_590,
        1000,
        0,
    )
    assert breakdown.payable_fen == 36_590


def test_lines_out_of_scope_get_none_of_the_discount():
    lines = cart((1, 3000, 2), (2, 8000, 1))
    breakdown = price_order(lines, TEA_ONLY, SHIPS, "江苏省", AT)
    assert [line.discount_fen for line in breakdown.lines] == [1000, 0]
    assert [line.paid_fen for line in breakdown.lines] == [5000, 8000]


def test_shipping_is_never_part_of_a_lines_paid_amount():
    breakdown = price_order(cart((1, 2000, 1)), None, SHIPS, "四川省", AT)
    assert breakdown.lines[0].paid_fen == 2000
    assert (breakdown.shipping_fen, breakdown.payable_fen) == (1000, 3000)


@pytest.mark.parametrize(
    ("template", "payable", "needs_payment"),
    [(FREE, 0, False), (SHIPS, 1000, True)],
)
def test_only_free_goods_with_free_shipping_need_no_payment(template, payable, needs_payment):
    breakdown = price_order(cart((1, 0, 2)), None, template, "湖南省", AT)
    assert (breakdown.payable_fen, breakdown.needs_payment) == (payable, needs_payment)


@pytest.mark.parametrize(
    ("coupon", "lines", "reason"),
    [
        (MAN_100_JIAN_20, cart((1, 9999, 1)), "below_minimum"),
        (TEA_ONLY, cart((2, 9999, 1)), "no_eligible_goods"),
    ],
)
def test_a_coupon_that_does_not_apply_refuses_the_order(coupon, lines, reason):
    with pytest.raises(CouponRefused) as refused:
        price_order(lines, coupon, SHIPS, "广东省", AT)
    assert refused.value.params["reason"] == reason


def test_an_order_to_an_excluded_province_is_refused():
    with pytest.raises(RegionNotDelivered):
        price_order(cart((1, 50_000, 1)), None, SHIPS, "西藏自治区", AT)


@pytest.mark.parametrize(
    ("make_lines", "reason"),
    [
        (lambda: [], "lines"),
        (lambda: [PriceLine("a", 1, 100, 1), PriceLine("a", 2, 100, 1)], "duplicate_line"),
        (lambda: [PriceLine(1, 1, 100, 0)], "quantity"),
        (lambda: [PriceLine(1, 1, 100, 1000)], "quantity"),
        (lambda: [PriceLine(1, 1, 100, True)], "quantity"),
        (lambda: [PriceLine(1, 1, -1, 1)], "price"),
        (lambda: [PriceLine(1, 1, 1.5, 1)], "price"),
    ],
)
def test_bad_carts_are_refused(make_lines, reason):
    with pytest.raises(OrderError) as refused:
        price_order(make_lines(), None, FREE, "广东省", AT)
    assert refused.value.params["reason"] == reason


def test_quantities_of_1_and_999_are_accepted():
    breakdown = price_order(cart((1, 1, 1), (2, 1, 999)), None, FREE, "广东省", AT)
    assert breakdown.goods_fen == 1000


def test_pricing_time_must_be_timezone_aware():
    with pytest.raises(ValueError):
        price_order(cart((1, 100, 1)), None, FREE, "广东省", datetime(2026, 12, 6))


# ---------------------------------------------------------------------------------------------
# Properties

PRODUCTS = st.integers(1, 5)
SCOPES = st.frozensets(PRODUCTS, max_size=3)
LINE_ITEMS = st.lists(
    st.tuples(PRODUCTS, st.integers(0, 200_000), st.integers(1, 999)), min_size=1, max_size=8
)
COUPONS = st.one_of(
    st.builds(amount_off, st.integers(1, 50_000), st.integers(1, 500_000), SCOPES),
    st.builds(
        percent_off,
        st.integers(1, 9999),
        st.none() | st.integers(1, 100_000),
        st.integers(0, 500_000),
        SCOPES,
    ),
    st.builds(no_threshold, st.integers(1, 50_000), SCOPES),
)
TEMPLATES = st.builds(
    ShippingTemplate,
    flat_fee_fen=st.integers(0, 3000),
    free_over_fen=st.none() | st.integers(1, 300_000),
)


def in_scope_goods(coupon, lines):
    return sum(line.goods_fen for line in lines if coupon.covers(line.product_id))


def priced(items, coupon, template):
    """The breakdown, with the coupon left out when it does not apply to the cart."""
    lines = cart(*items)
    if isinstance(coupon_discount(coupon, lines, AT), CouponRefusal):
        coupon = None
    return price_order(lines, coupon, template, "广东省", AT)


@given(LINE_ITEMS, COUPONS, TEMPLATES)
def test_line_discounts_add_up_to_the_order_discount(items, coupon, template):
    breakdown = priced(items, coupon, template)
    assert sum(line.discount_fen for line in breakdown.lines) == breakdown.discount_fen


@given(LINE_ITEMS, COUPONS, TEMPLATES)
def test_each_line_pays_between_nothing_and_its_goods(items, coupon, template):
    for line in priced(items, coupon, template).lines:
        assert 0 <= line.paid_fen <= line.goods_fen
        assert line.paid_fen == line.goods_fen - line.discount_fen


@given(LINE_ITEMS, COUPONS, TEMPLATES)
def test_lines_paid_plus_shipping_is_payable(items, coupon, template):
    breakdown = priced(items, coupon, template)
    paid = sum(line.paid_fen for line in breakdown.lines)
    assert paid + breakdown.shipping_fen == breakdown.payable_fen
    assert breakdown.goods_fen == sum(line.goods_fen for line in breakdown.lines)


@given(LINE_ITEMS, COUPONS, TEMPLATES)
def test_non_free_goods_always_leave_something_to_pay(items, coupon, template):
    breakdown = priced(items, coupon, template)
    assert breakdown.needs_payment == (breakdown.goods_fen + breakdown.shipping_fen > 0)


@given(LINE_ITEMS, COUPONS)
def test_discount_never_exceeds_the_goods_in_scope(items, coupon):
    lines = cart(*items)
    discount = coupon_discount(coupon, lines, AT)
    if isinstance(discount, CouponRefusal):
        return
    assert 0 <= discount <= in_scope_goods(coupon, lines)
    breakdown = price_order(lines, coupon, FREE, "广东省", AT)
    for line in breakdown.lines:
        if not coupon.covers(line.product_id):
            assert line.discount_fen == 0


@given(LINE_ITEMS, st.integers(1, 9999), st.none() | st.integers(1, 100_000), SCOPES)
def test_percent_coupon_never_discounts_more_than_its_cap(items, bps, cap, scope):
    coupon = percent_off(bps, cap, product_ids=scope)
    discount = coupon_discount(coupon, cart(*items), AT)
    if isinstance(discount, CouponRefusal):
        return
    assert cap is None or discount <= cap


@given(LINE_ITEMS, st.integers(1, 9999), st.none() | st.integers(1, 100_000), SCOPES)
def test_percent_coupon_discount_is_percent_of_the_goods_in_scope_rounded_down(
    items, bps, cap, scope
):
    coupon = percent_off(bps, cap, product_ids=scope)
    lines = cart(*items)
    discount = coupon_discount(coupon, lines, AT)
    if isinstance(discount, CouponRefusal):
        return
    exact = percent_of(in_scope_goods(coupon, lines), bps)
    assert discount == (exact if cap is None else min(exact, cap))


@given(LINE_ITEMS, COUPONS, TEMPLATES, st.data())
def test_reordering_lines_does_not_change_the_totals(items, coupon, template, data):
    reordered = data.draw(st.permutations(items))
    before, after = priced(items, coupon, template), priced(reordered, coupon, template)
    totals = ("goods_fen", "discount_fen", "shipping_fen", "payable_fen")
    assert [getattr(before, t) for t in totals] == [getattr(after, t) for t in totals]

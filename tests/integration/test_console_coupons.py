"""Console coupons and shipping: create, edit, pause and resume coupons with the shop's own
rules (refusals in words, nothing written), usage per coupon, terms locked once claimed, the
shipping template and its sentence, each change audited, lists with filters, keyset pages and
CSV, and who may use the pages."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infra.clock import CHINA, now
from models import AuditEntry, Coupon, Merchant, UserCoupon, db
from services import checkout
from services.checkout import CheckoutItem
from services.console_promo import PromoInvalid, china_input, parse_coupon, parse_percent_bps
from services.coupons import claim, offers
from tests.factories import make_product, make_user, set_policy
from tests.support.checkout import make_address
from tests.support.console import post_form, signed_in_as

DAY = timedelta(days=1)


def window(days: int = 30) -> dict:
    at = now()
    return {"starts_at": china_input(at - DAY), "ends_at": china_input(at + days * DAY)}


def coupon_form(**fields) -> dict:
    """A 满 ¥99 减 ¥10 coupon, 100 copies, one per shopper, unless told otherwise."""
    return {
        "title": "满99减10",
        "kind": "amount_off",
        "off": "10",
        "minimum": "99",
        "total_limit": "100",
        "per_user_limit": "1",
        "product_ids": "",
        **window(),
        **fields,
    }


def count(ctx_app, model) -> int:
    with ctx_app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def only_coupon(app) -> Coupon:
    with app.app_context():
        [coupon] = db.session.scalars(select(Coupon)).all()
        db.session.expunge(coupon)
        return coupon


@pytest.fixture
def operator(app, client):
    return signed_in_as(client, app, "operator")


# -- create --
def test_an_operator_creates_a_coupon_that_shoppers_can_claim_in_the_shop(app, operator):
    answer = post_form(operator, "/console/coupons/new", coupon_form(), page="/console/coupons/new")
    assert answer.status_code == 302
    coupon = only_coupon(app)
    assert (coupon.kind, coupon.off_fen, coupon.min_goods_fen) == ("amount_off", 1_000, 9_900)
    assert (coupon.total_limit, coupon.per_user_limit, coupon.active) == (100, 1, True)
    with app.app_context():
        shopper = make_user()
        assert [o.coupon_id for o in offers(shopper.id)] == [coupon.id]
        claim(shopper.id, coupon.id)
        assert offers(shopper.id)[0].refusal == "user_limit_reached"
    [entry] = audit_rows(app, "coupon.create")
    assert (entry.entity, entry.staff_name, entry.after["id"]) == ("coupons", "operator", coupon.id)
    assert entry.entity_id in (None, coupon.id)  # services.audit leaves a new row's id out
    assert entry.before is None and entry.after["off_fen"] == 1_000
    listed = operator.get("/console/coupons")
    assert listed.status_code == 200 and "满99减10" in listed.text


def test_a_coupon_without_a_per_user_limit_is_stored_as_none_and_claimed_again(app, operator):
    form = coupon_form(per_user_limit="", total_limit="")
    assert post_form(operator, "/console/coupons/new", form).status_code == 302
    coupon = only_coupon(app)
    assert coupon.per_user_limit is None and coupon.total_limit is None  # not the default 1
    with app.app_context():
        shopper = make_user()
        claim(shopper.id, coupon.id)
        claim(shopper.id, coupon.id)
        assert offers(shopper.id)[0].claimed_by_user == 2


def test_a_percent_coupon_is_stored_in_basis_points_with_its_cap(app, operator):
    form = coupon_form(kind="percent_off", percent="15", cap="20", minimum="", off="")
    assert post_form(operator, "/console/coupons/new", form).status_code == 302
    coupon = only_coupon(app)
    assert (coupon.discount_bps, coupon.cap_fen, coupon.off_fen, coupon.min_goods_fen) == (
        1_500,
        2_000,
        0,
        0,
    )


def test_the_window_is_read_as_china_time(app, operator):
    form = coupon_form(starts_at="2031-05-01T09:00", ends_at="2031-05-02T09:00")
    assert post_form(operator, "/console/coupons/new", form).status_code == 302
    coupon = only_coupon(app)
    assert coupon.starts_at.astimezone(CHINA).hour == 9 and coupon.starts_at.hour == 1


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "percent_off", "percent": "120", "off": ""}, "不能超过 100%"),
        ({"kind": "percent_off", "percent": "100", "off": ""}, "不能超过 100%"),
        ({"kind": "percent_off", "percent": "abc", "off": ""}, "请填写减免比例"),
        ({"off": "99", "minimum": "99"}, "减免金额必须低于使用门槛"),
        ({"off": "150", "minimum": "99"}, "减免金额必须低于使用门槛"),
        ({"minimum": ""}, "需要填写使用门槛"),
        ({"off": "-5"}, "减免金额应为大于 0 的金额"),
        ({"off": "1.234"}, "减免金额应为大于 0 的金额"),
        ({"title": ""}, "请填写标题"),
        ({"kind": "gift"}, "请选择优惠券类型"),
        ({"starts_at": "2031-05-02T09:00", "ends_at": "2031-05-01T09:00"}, "开始时间必须早于"),
        ({"ends_at": "2020-01-01T00:00"}, "结束时间已经过去"),
        ({"ends_at": "soon"}, "请填写结束时间"),
        ({"total_limit": "0"}, "发放总量应为"),
        ({"per_user_limit": "x"}, "每人限领应为"),
        ({"product_ids": "12, abc"}, "不是商品编号"),
        ({"product_ids": "999999"}, "没有这些商品：#999999"),
    ],
)
def test_invalid_terms_are_refused_in_words_and_nothing_is_written(app, operator, fields, message):
    answer = post_form(operator, "/console/coupons/new", coupon_form(**fields))
    assert answer.status_code == 400 and message in answer.text
    assert count(app, Coupon) == 0
    assert audit_rows(app, "coupon.create") == []


def test_every_problem_of_a_form_is_named_at_once(ctx):
    with pytest.raises(PromoInvalid) as refused:
        parse_coupon(coupon_form(title="", off="0", total_limit="-1"))
    reasons = {reason for reason, _ in refused.value.problems}
    assert {"title_missing", "off_amount", "total_limit"} <= reasons


@pytest.mark.parametrize(
    ("text", "bps"), [("15", 1500), ("8.5", 850), ("0.01", 1), ("１５%", 1500), ("1.234", None)]
)
def test_a_percent_is_read_as_basis_points(text, bps):
    assert parse_percent_bps(text) == bps


def test_a_product_restricted_coupon_names_existing_products(app, operator):
    with app.app_context():
        product_id = make_product().id
    form = coupon_form(product_ids=f"{product_id}，{product_id}")
    assert post_form(operator, "/console/coupons/new", form).status_code == 302
    assert only_coupon(app).product_ids == [product_id]


def test_a_title_holding_script_is_shown_as_text(app, operator):
    form = coupon_form(title="<script>alert(1)</script>")
    assert post_form(operator, "/console/coupons/new", form).status_code == 302
    listed = operator.get("/console/coupons").text
    assert "<script>alert(1)</script>" not in listed and "&lt;script&gt;" in listed
    coupon = only_coupon(app)
    edit = operator.get(f"/console/coupons/{coupon.id}").text
    assert "<script>alert" not in edit


# -- edit --
def create(app, client, **fields) -> Coupon:
    assert post_form(client, "/console/coupons/new", coupon_form(**fields)).status_code == 302
    with app.app_context():
        coupon = db.session.scalars(select(Coupon).order_by(Coupon.id.desc())).first()
        db.session.expunge(coupon)
        return coupon


def test_an_unclaimed_coupon_can_change_every_term(app, operator):
    coupon = create(app, operator)
    form = coupon_form(title="满199减30", off="30", minimum="199")
    answer = post_form(operator, f"/console/coupons/{coupon.id}", form)
    assert answer.status_code == 302
    changed = only_coupon(app)
    assert (changed.title, changed.off_fen, changed.min_goods_fen) == ("满199减30", 3_000, 19_900)
    [entry] = audit_rows(app, "coupon.edit")
    assert entry.entity_id == coupon.id
    assert entry.before["off_fen"] == 1_000 and entry.after["off_fen"] == 3_000


def test_a_claimed_coupon_keeps_its_terms_and_changes_only_title_end_and_limits(app, operator):
    coupon = create(app, operator)
    with app.app_context():
        claim(make_user().id, coupon.id)
    page = operator.get(f"/console/coupons/{coupon.id}")
    assert "不能再改" in page.text
    later = china_input(coupon.ends_at + 10 * DAY)
    form = coupon_form(
        title="新标题", off="50", minimum="60", ends_at=later, total_limit="5", per_user_limit=""
    )
    assert post_form(operator, f"/console/coupons/{coupon.id}", form).status_code == 302
    changed = only_coupon(app)
    assert (changed.off_fen, changed.min_goods_fen) == (1_000, 9_900)  # what shoppers hold
    assert (changed.title, changed.total_limit, changed.per_user_limit) == ("新标题", 5, None)
    assert changed.ends_at > coupon.ends_at
    [entry] = audit_rows(app, "coupon.edit")
    assert "off_fen" not in entry.after and entry.after["title"] == "新标题"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"ends_at": "earlier"}, "结束时间只能延后"),
        ({"total_limit": "1"}, "不能少于已领取的 2 张"),
    ],
)
def test_a_claimed_coupon_refuses_an_earlier_end_or_fewer_copies_than_claimed(
    app, operator, fields, message
):
    coupon = create(app, operator, per_user_limit="")
    with app.app_context():
        shopper = make_user()
        claim(shopper.id, coupon.id)
        claim(shopper.id, coupon.id)
    if fields.get("ends_at") == "earlier":
        fields = {"ends_at": china_input(coupon.ends_at - DAY)}
    answer = post_form(operator, f"/console/coupons/{coupon.id}", coupon_form(**fields))
    assert answer.status_code == 400 and message in answer.text
    assert only_coupon(app).ends_at == coupon.ends_at and only_coupon(app).total_limit == 100
    assert audit_rows(app, "coupon.edit") == []


def test_an_unknown_coupon_is_404(operator):
    assert operator.get("/console/coupons/999999").status_code == 404
    assert post_form(operator, "/console/coupons/999999", coupon_form()).status_code == 404
    assert post_form(operator, "/console/coupons/999999/pause").status_code == 404


# -- pause and resume --
def test_pausing_takes_a_coupon_off_offer_and_resuming_brings_it_back(app, operator):
    coupon = create(app, operator)
    assert post_form(operator, f"/console/coupons/{coupon.id}/pause").status_code == 302
    assert only_coupon(app).active is False
    with app.app_context():
        assert offers(None) == []
    assert post_form(operator, f"/console/coupons/{coupon.id}/pause").status_code == 302
    assert post_form(operator, f"/console/coupons/{coupon.id}/resume").status_code == 302
    with app.app_context():
        assert [o.coupon_id for o in offers(None)] == [coupon.id]
    [paused] = audit_rows(app, "coupon.pause")  # the second pause changed nothing
    [resumed] = audit_rows(app, "coupon.resume")
    assert (paused.before, paused.after) == ({"active": True}, {"active": False})
    assert (resumed.entity_id, resumed.after) == (coupon.id, {"active": True})


# -- the list --
def test_the_list_shows_usage_filters_by_state_and_kind_and_pages(app, operator):
    first = create(app, operator, title="甲券")
    create(app, operator, title="乙券", kind="no_threshold", off="5", minimum="")
    paused = create(app, operator, title="丙券")
    post_form(operator, f"/console/coupons/{paused.id}/pause")
    with app.app_context():
        a, b = make_user(), make_user()
        claim(a.id, first.id)
        claim(b.id, first.id)
        db.session.execute(
            UserCoupon.__table__.update()
            .where(UserCoupon.user_id == a.id)
            .values(status="used", used_at=now())
        )
        db.session.commit()
    page = operator.get("/console/coupons?state=active&kind=amount_off").text
    assert "甲券" in page and "乙券" not in page and "丙券" not in page
    assert "<td>2</td>\n    <td>1</td>\n    <td>0</td>" in page  # claimed, used, locked
    assert "丙券" in operator.get("/console/coupons?state=paused").text
    assert "甲券" not in operator.get("/console/coupons?state=expired").text
    assert operator.get("/console/coupons?state=nonsense").status_code == 400
    assert operator.get("/console/coupons?cursor=forged").status_code == 400
    with app.test_request_context():
        from services.console_promo import coupon_page

        one = coupon_page(limit=1)
        two = coupon_page(cursor=one.next_cursor, limit=1)
        assert one.items[0].id != two.items[0].id and one.next_cursor


def test_the_csv_lists_usage_and_neutralises_formulas(app, operator):
    coupon = create(app, operator, title="+cmd|' /C calc'!A0")
    with app.app_context():
        claim(make_user().id, coupon.id)
    answer = operator.get("/console/coupons?format=csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[1][1] == "'+cmd|' /C calc'!A0"
    assert rows[1][9] == "1"  # claimed


# -- shipping --
def test_the_shipping_template_is_saved_and_shown_as_what_a_shopper_pays(app, operator):
    with app.app_context():
        set_policy(shipping_flat_fen=500)  # the installation's merchant exists
    form = {"flat": "8", "free_over": "99", "regions": ["西藏", "新疆"]}
    answer = post_form(operator, "/console/shipping", form)
    assert answer.status_code == 302
    page = operator.get("/console/shipping").text
    assert "运费 ¥8.00，满 ¥99.00 包邮，不发货地区：西藏、新疆" in page
    with app.app_context():
        m = db.session.scalar(select(Merchant))
        assert (m.shipping_flat_fen, m.shipping_free_over_fen) == (800, 9_900)
        assert m.shipping_excluded_regions == ["西藏", "新疆"]  # the list's order
    [entry] = audit_rows(app, "shipping.edit")
    assert entry.entity == "merchants" and entry.before["shipping_flat_fen"] == 500
    assert entry.after["shipping_flat_fen"] == 800
    assert entry.after["shipping_excluded_regions"] == ["西藏", "新疆"]


def test_a_shipping_change_is_what_checkout_charges(app, operator):
    with app.app_context():
        shopper = make_user()
        make_address(shopper)
        far = make_address(shopper, province="西藏自治区", default=False)
        sku_id = make_product(price_fen=5_000).skus[0].id
        shopper_id, far_id = shopper.id, far.id
    post_form(operator, "/console/shipping", {"flat": "12.5", "free_over": "200"})
    with app.app_context():
        quote = checkout.quote(shopper_id, [CheckoutItem(sku_id, 1)])
        assert quote.shipping_fen == 1_250
        assert checkout.quote(shopper_id, [CheckoutItem(sku_id, 4)]).shipping_fen == 0
    post_form(operator, "/console/shipping", {"flat": "0", "regions": ["西藏"]})
    with app.app_context():
        assert checkout.quote(shopper_id, [CheckoutItem(sku_id, 1)]).shipping_fen == 0
        far_quote = checkout.quote(shopper_id, [CheckoutItem(sku_id, 1)], address_id=far_id)
        assert far_quote.refusal == "region_not_delivered"
    assert "全场包邮，不发货地区：西藏" in operator.get("/console/shipping").text


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"flat": "-8"}, "运费应为 0 或正数金额"),
        ({"flat": "8", "free_over": "0"}, "包邮门槛应为大于 0 的金额"),
        ({"flat": "8", "regions": ["火星"]}, "不是可选的省份"),
    ],
)
def test_bad_shipping_values_are_refused_and_nothing_changes(app, operator, form, message):
    answer = post_form(operator, "/console/shipping", form)
    assert answer.status_code == 400 and message in answer.text
    with app.app_context():
        m = db.session.scalar(select(Merchant))
        assert m is None or (m.shipping_flat_fen, m.shipping_excluded_regions) == (0, [])
    assert audit_rows(app, "shipping.edit") == []


# -- who may --
@pytest.mark.parametrize(
    "path", ["/console/coupons", "/console/coupons/new", "/console/shipping", "/console/coupons/1"]
)
def test_finance_is_refused_and_the_owner_allowed(app, client, path):
    signed_in_as(client, app, "finance")
    answer = client.get(path)
    assert answer.status_code == 403 and "店主" in answer.text and "运营" in answer.text
    assert post_form(client, "/console/coupons/new", coupon_form()).status_code == 403
    assert count(app, Coupon) == 0


def test_the_owner_may_use_the_coupon_pages(app, client):
    signed_in_as(client, app, "owner")
    for path in ("/console/coupons", "/console/coupons/new", "/console/shipping"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert " style=" not in answer.text and "<script>" not in answer.text


@pytest.mark.parametrize("path", ["/console/coupons", "/console/coupons/new", "/console/shipping"])
def test_an_anonymous_visitor_is_sent_to_sign_in(client, path):
    answer = client.get(path)
    assert answer.status_code == 302 and "/console/login" in answer.location

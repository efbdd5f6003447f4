"""The console's distribution settings: the compliance rules refused in words with nothing
written, a save that publishes version N+1 with its audit row, the what-if against sums worked
out by hand, the shop's policy, tiers and campaigns audited, bad numbers as form errors, the
owner alone let in, and the welcome text reaching the bot."""

from __future__ import annotations

from datetime import timedelta

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import func, select, update

from infra.clock import now
from models import AuditEntry, CommissionCampaign, Merchant, Order, RuleSet, Tier, db
from services.merchant import merchant
from services.rules import active_rule, publish_rule_set
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, set_policy
from tests.support import wechat as w
from tests.support.console import post_form, signed_in_as

RULES = {"section": "rules", "action": "save", "max_share": "50", "freeze_days": "7"}
SHOP = {
    "section": "shop",
    "name": "好物小铺",
    "welcome_text": "",
    "application_policy": "audit",
    "spend_threshold": "",
    "binding_mode": "first_touch",
    "binding_validity_days": "",
    "binding_scope": "new_users_only",
    "withdraw_min": "1",
    "withdraw_max_per_day": "20000",
    "withdraw_fee": "0",
    "withdraw_auto_approve_max": "200",
    "withdraw_channels": ["wechat", "bank"],
    "payout_channel": "transfer_bills",
    "transfer_cancel_minutes": "1440",
}


@pytest.fixture
def owner(app, client):
    return signed_in_as(client, app, "owner", "boss")


def rules(**fields) -> dict:
    return {**RULES, **fields}


def counts(app) -> tuple[int, int]:
    with app.app_context():
        found = (
            db.session.scalar(select(func.count()).select_from(RuleSet)),
            db.session.scalar(select(func.count()).select_from(AuditEntry)),
        )
        db.session.rollback()
        return found


def audit_rows(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )
        db.session.expunge_all()
        return rows


# ---- the compliance rules ------------------------------------------------------------------


def test_four_levels_are_refused_because_the_law_caps_distribution_at_three(owner, app):
    before = counts(app)
    answer = post_form(
        owner, "/console/settings", rules(levels="4", rate_1="10", rate_2="5", rate_3="2")
    )
    assert answer.status_code == 400
    assert "最多只能设 3 级，不能设为 4 级" in answer.text and "禁止传销条例" in answer.text
    assert counts(app) == before  # no rule version, no audit row


def test_a_120_percent_configuration_is_refused_because_commission_cannot_exceed_the_sale(
    owner, app
):
    before = counts(app)
    answer = post_form(owner, "/console/settings", rules(levels="2", rate_1="70", rate_2="50"))
    assert answer.status_code == 400
    assert "合计 120%" in answer.text and "不能超过这笔销售本身" in answer.text
    single = post_form(owner, "/console/settings", rules(levels="1", rate_1="120"))
    assert single.status_code == 400 and "佣金不能超过成交金额" in single.text
    assert counts(app) == before


def test_the_live_what_if_says_the_refusal_too(owner):
    answer = post_form(
        owner, "/console/settings/whatif", rules(levels="4", rate_1="10", rate_2="5", rate_3="1")
    )
    assert answer.status_code == 200 and "最多只能设 3 级" in answer.text
    assert "<html" not in answer.text  # the panel alone, for htmx


# ---- saving ----------------------------------------------------------------------------------


def test_a_valid_save_publishes_the_next_version_with_its_audit_row(owner, app):
    with app.app_context():
        publish_rule_set(2, (1000, 500, 0))
    answer = post_form(
        owner,
        "/console/settings",
        rules(levels="3", rate_1="12.5", rate_2="6", rate_3="1", self_purchase="1"),
    )
    assert answer.status_code == 302
    with app.app_context():
        rule = active_rule()
        assert (rule.version, rule.levels, rule.rates_bps) == (2, 3, (1250, 600, 100))
        assert rule.self_purchase and rule.max_share_bps == 5000
        new_id = db.session.scalar(select(RuleSet.id).where(RuleSet.version == 2))
    [row] = audit_rows(app, "settings.rules")
    assert (row.entity, row.after["id"], row.staff_name) == ("rule_sets", new_id, "boss")
    assert row.before is None  # a rule version is never edited: a new row
    assert row.after["levels"] == 3 and row.after["l1_bps"] == 1250 and row.after["version"] == 2
    assert "第 2 版" in owner.get("/console/settings").text


def test_saving_the_rule_in_force_again_makes_no_new_version(owner, app):
    with app.app_context():
        publish_rule_set(2, (1000, 500, 0))
    answer = post_form(owner, "/console/settings", rules(levels="2", rate_1="10", rate_2="5"))
    assert answer.status_code == 302
    assert counts(app)[0] == 1 and audit_rows(app, "settings.rules") == []


def test_the_shop_and_its_policy_are_saved_with_before_and_after(owner, app):
    with app.app_context():
        set_policy(name="Fenxiao")
    data = {**SHOP, "application_policy": "spend", "spend_threshold": "99.9"}
    data.update(withdraw_fee="1.5", withdraw_channels=["wechat"], payout_channel="manual")
    answer = post_form(owner, "/console/settings", data)
    assert answer.status_code == 302, answer.text
    with app.app_context():
        m = merchant()
        assert (m.name, m.application_policy, m.spend_threshold_fen) == ("好物小铺", "spend", 9990)
        assert (m.withdraw_fee_bps, m.withdraw_channels, m.payout_channel) == (
            150,
            ["wechat"],
            "manual",
        )
        assert m.withdraw_max_per_day_fen == 2_000_000 and m.welcome_text is None
        merchant_id = m.id
    [row] = audit_rows(app, "settings.merchant")
    assert (row.entity, row.entity_id) == ("merchants", merchant_id)
    assert row.before["name"] == "Fenxiao" and row.after["name"] == "好物小铺"
    assert row.after["application_policy"] == "spend" and row.after["withdraw_fee_bps"] == 150


def test_the_spend_policy_needs_its_threshold_and_a_channel_is_needed(owner, app):
    data = {**SHOP, "application_policy": "spend", "withdraw_channels": []}
    answer = post_form(owner, "/console/settings", data)
    assert answer.status_code == 400
    assert "请填写消费门槛金额" in answer.text and "至少选择一种提现方式" in answer.text
    assert audit_rows(app, "settings.merchant") == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("rate_1", "-5"),
        ("rate_1", "abc"),
        ("rate_1", "10.555"),
        ("freeze_days", "-1"),
        ("freeze_days", "99999999999999999999"),
        ("freeze_days", "②"),
        ("levels", "two"),
        ("levels", "0"),
        ("max_share", "1e3"),
    ],
)
def test_bad_numbers_in_the_rule_are_form_errors(owner, app, field, value):
    before = counts(app)
    data = {**rules(levels="2", rate_1="10", rate_2="5"), field: value}
    answer = post_form(owner, "/console/settings", data)
    assert answer.status_code == 400 and 'class="cx-error"' in answer.text
    assert counts(app) == before


@pytest.mark.parametrize(
    "field, value",
    [
        ("withdraw_min", "-1"),
        ("withdraw_min", "0"),
        ("withdraw_min", "1000000000000"),
        ("withdraw_max_per_day", "lots"),
        ("withdraw_fee", "101"),
        ("transfer_cancel_minutes", "0"),
        ("binding_validity_days", "9999999"),
        ("payout_channel", "alipay"),
        ("name", ""),
        ("name", "长" * 129),
    ],
)
def test_bad_values_in_the_shop_form_are_form_errors(owner, app, field, value):
    answer = post_form(owner, "/console/settings", {**SHOP, field: value})
    assert answer.status_code == 400 and 'class="cx-error"' in answer.text
    assert audit_rows(app, "settings.merchant") == []


def test_full_width_digits_from_a_chinese_keyboard_are_read_as_numbers(owner, app):
    answer = post_form(
        owner,
        "/console/settings",
        rules(levels="２", rate_1="１２．５", rate_2="５", freeze_days="１０"),
    )
    assert answer.status_code == 302
    with app.app_context():
        rule = active_rule()
        assert (rule.levels, rule.rates_bps[:2], rule.freeze_days) == (2, (1250, 500), 10)


def test_an_unknown_section_is_a_bad_request(owner):
    assert post_form(owner, "/console/settings", {"section": "nope"}).status_code == 400


# ---- the what-if --------------------------------------------------------------------------


@pytest.fixture
def recent_orders(app):
    """Two orders paid now under the default rule (2 levels, 10 % / 5 %), one paid 31 days ago.

    Order 1: shopper under the bottom of a 2-chain, 2 x ¥100.00 = 20000 fen.
    Order 2: shopper under the bottom of a 3-chain, 3 x ¥33.33 = 9999 fen.
    """
    with app.app_context():
        hundred, odd = make_product(10_000), make_product(3333)
        two, three = make_chain(2), make_chain(3)
        make_paid_order(make_shopper(two[-1]), [(hundred.id, 2)])
        make_paid_order(make_shopper(three[-1]), [(odd.id, 3)])
        old = make_paid_order(make_shopper(two[-1]), [(hundred.id, 5)])
        db.session.execute(
            update(Order).where(Order.id == old.id).values(paid_at=now() - timedelta(days=31))
        )
        db.session.commit()


def test_the_what_if_equals_the_sums_worked_out_by_hand(owner, recent_orders):
    data = rules(levels="3", rate_1="20", rate_2="10", rate_3="5", action="preview")
    answer = post_form(owner, "/console/settings", data)
    assert answer.status_code == 200
    # New: order 1 -> L1 4000, L2 2000; order 2 -> L1 1999 (1999.8), L2 999, L3 499 (499.95).
    # Now (10 % / 5 %, 2 levels): order 1 -> 2000, 1000; order 2 -> 999 (999.9), 499.
    # The order paid 31 days ago is outside the window.
    assert "2 笔已支付订单" in answer.text
    assert "¥94.97（现在 ¥44.98）" in answer.text
    assert 'id="whatif-l1">¥59.99<' in answer.text
    assert 'id="whatif-l2">¥29.99<' in answer.text
    assert 'id="whatif-l3">¥4.99<' in answer.text


def test_the_live_what_if_gives_the_same_figures(owner, recent_orders, app):
    data = rules(levels="1", rate_1="20", rate_2="10", rate_3="5")
    answer = post_form(owner, "/console/settings/whatif", data)
    assert answer.status_code == 200 and "¥59.99（现在 ¥44.98）" in answer.text
    assert counts(app)[0] == 0  # a preview writes nothing


# ---- tiers and campaigns ------------------------------------------------------------------

TIER = {
    "name": "银牌",
    "rank": "1",
    "rate_1": "15",
    "rate_2": "",
    "rate_3": "",
    "min_own_sales": "1000",
    "min_team_sales": "",
    "min_direct_team": "",
    "match": "any",
}


def test_a_tier_is_created_and_edited_with_audit_rows(owner, app):
    assert post_form(owner, "/console/settings/tiers", TIER).status_code == 302
    with app.app_context():
        tier = db.session.scalar(select(Tier))
        assert (tier.l1_bps, tier.l2_bps, tier.min_own_sales_fen) == (1500, None, 100_000)
        tier_id = tier.id
    edited = {**TIER, "name": "金牌", "match": "all", "min_direct_team": "3"}
    assert post_form(owner, f"/console/settings/tiers/{tier_id}", edited).status_code == 302
    [created] = audit_rows(app, "tier.create")
    [edit] = audit_rows(app, "tier.edit")
    assert created.entity == "tiers" and created.after["id"] == tier_id
    assert created.after["name"] == "银牌" and created.after["l1_bps"] == 1500
    assert edit.entity_id == tier_id and edit.before == {
        "name": "银牌",
        "match": "any",
        "min_direct_team": None,
    }
    assert edit.after == {"name": "金牌", "match": "all", "min_direct_team": 3}


def test_a_tier_over_100_percent_or_a_taken_rank_is_refused(owner, app):
    over = {**TIER, "rate_1": "60", "rate_2": "50"}
    answer = post_form(owner, "/console/settings/tiers", over)
    assert answer.status_code == 400 and "不能超过这笔销售本身" in answer.text
    assert post_form(owner, "/console/settings/tiers", TIER).status_code == 302
    taken = post_form(owner, "/console/settings/tiers", {**TIER, "name": "金牌"})
    assert taken.status_code == 400 and "序号须不同" in taken.text
    assert len(audit_rows(app, "tier.create")) == 1
    assert post_form(owner, "/console/settings/tiers/999999", TIER).status_code == 404


def test_a_campaign_is_created_and_ended_with_audit_rows(owner, app):
    data = {
        "name": "国庆双倍",
        "multiplier": "2",
        "starts_at": "2020-10-01T00:00",
        "ends_at": "2099-10-08T00:00",
        "product_ids": "",
    }
    assert post_form(owner, "/console/settings/campaigns", data).status_code == 302
    with app.app_context():
        row = db.session.scalar(select(CommissionCampaign))
        assert row.multiplier_bps == 20_000 and row.product_ids == []
        assert row.starts_at.isoformat().startswith("2020-09-30T16:00")  # China time -> UTC
        campaign_id = row.id
    answer = post_form(owner, f"/console/settings/campaigns/{campaign_id}/end")
    assert answer.status_code == 302
    [created] = audit_rows(app, "campaign.create")
    [ended] = audit_rows(app, "campaign.end")
    assert created.entity == "commission_campaigns" and created.after["multiplier_bps"] == 20_000
    assert ended.entity_id == campaign_id and ended.before["ends_at"].startswith("2099-10-07")
    with app.app_context():
        assert db.session.get(CommissionCampaign, campaign_id).ends_at <= now()
    assert post_form(owner, "/console/settings/campaigns/999999/end").status_code == 404


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("multiplier", "6", "不超过 5 倍"),
        ("multiplier", "x", "0 到 100"),
        ("ends_at", "2019-01-01T00:00", "须晚于开始时间"),
        ("starts_at", "yesterday", "请填写日期和时间"),
        ("product_ids", "1,abc", "请填写商品编号"),
        ("product_ids", "999999", "不存在的商品编号"),
    ],
)
def test_a_bad_campaign_is_a_form_error(owner, app, field, value, words):
    data = {
        "name": "活动",
        "multiplier": "1.5",
        "starts_at": "2020-01-01T00:00",
        "ends_at": "2099-01-01T00:00",
        "product_ids": "",
        field: value,
    }
    answer = post_form(owner, "/console/settings/campaigns", data)
    assert answer.status_code == 400 and words in answer.text
    assert audit_rows(app, "campaign.create") == []


# ---- who may enter -------------------------------------------------------------------------

SETTINGS_URLS = [
    ("GET", "/console/settings"),
    ("POST", "/console/settings"),
    ("POST", "/console/settings/whatif"),
    ("POST", "/console/settings/tiers"),
    ("POST", "/console/settings/tiers/1"),
    ("POST", "/console/settings/campaigns"),
    ("POST", "/console/settings/campaigns/1/end"),
]


@pytest.mark.parametrize("role", ["operator", "finance"])
def test_operator_and_finance_are_refused_naming_the_owner(app, client, role):
    signed_in_as(client, app, role)
    for method, url in SETTINGS_URLS:
        if method == "GET":
            answer = client.get(url)
        else:
            answer = post_form(client, url, rules(levels="2", rate_1="10", rate_2="5"))
        assert answer.status_code == 403, url
        assert "店主" in answer.text
    assert counts(app)[0] == 0


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for method, url in SETTINGS_URLS:
        answer = client.get(url) if method == "GET" else client.post(url)
        assert answer.status_code in (302, 400), url
        if answer.status_code == 302:
            assert "/console/login" in answer.location


def test_the_page_explains_every_field_and_has_no_inline_style_or_script(owner):
    page = owner.get("/console/settings")
    assert page.status_code == 200
    for words in ("最多 3 级", "冻结天数", "自购返佣", "加入永远免费", "商家转账", "佣金活动"):
        assert words in page.text
    assert page.text.count('class="cx-help"') >= 25
    assert " style=" not in page.text and "<script>" not in page.text
    assert 'hx-post="/console/settings/whatif"' in page.text


# ---- the welcome -------------------------------------------------------------------------


def test_the_welcome_text_set_in_the_console_is_the_bots_welcome(owner, app, client):
    words = "欢迎来到好物小铺，新人专享 9 折！"
    answer = post_form(owner, "/console/settings", {**SHOP, "welcome_text": words})
    assert answer.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Merchant.welcome_text)) == words
    url, body = w.plain_request(w.event_xml("o-welcome", "subscribe"))
    reply = SafeET.fromstring(client.post(url, data=body).data).findtext("Content")
    assert reply.startswith(words) and "可用指令" in reply and "/shop" in reply

"""A scan that binds nobody says why: signed SCAN and subscribe events, in Chinese and English.

Each case scans a code that the merchant's binding rule refuses (the scanner's own, one below
them in their team, another distributor's when they already have one, any when they have
ordered before under "new users only", a code that is nobody's or a frozen distributor's) and
checks the welcome, the line saying why, and that the binding did not change."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import select

from models import Binding, User, db
from services import distributors
from services.users import update_profile
from tests.factories import (
    make_chain,
    make_distributor,
    make_paid_order,
    make_product,
    make_shopper,
    make_user,
    set_policy,
)
from tests.support import wechat as w

WHY = {
    "zh_CN": {
        "self": "这是您自己的推广码，扫码不会给自己绑定推荐人。",
        "cycle": "这位分销员是您团队中的成员，不能成为您的推荐人。",
        "already_bound": "您已有推荐人，本店以首次推荐为准，推荐人没有变。",
        "not_new": "本店只为新顾客绑定推荐人，您已在本店下过单，推荐人没有变。",
        "invalid": "这个推广码无效或已停用，没有绑定推荐人。",
    },
    "en": {
        "self": "This is your own referral code: scanning it gives you no referrer.",
        "cycle": "This distributor is in your own team, so they cannot be your referrer.",
        "already_bound": (
            "You already have a referrer, and this shop keeps the first one: nothing changed."
        ),
        "not_new": (
            "This shop sets a referrer for new customers only, and you have ordered here "
            "before: nothing changed."
        ),
        "invalid": "This referral code is unknown or no longer active: no referrer was set.",
    },
}
WELCOME = {"zh_CN": "欢迎关注Fenxiao！可用指令：", "en": "Welcome to Fenxiao! Commands: "}
SHOP = {"zh_CN": "逛逛商城：", "en": "Visit the shop: "}


def post_event(client, openid: str, event: str, key: str | None) -> str:
    url, body = w.plain_request(w.event_xml(openid, event, key))
    response = client.post(url, data=body)
    assert response.status_code == 200, response.data
    return SafeET.fromstring(response.data).findtext("Content")


def scan(client, openid: str, code: str, event: str) -> str:
    key = f"qrscene_d_{code}" if event == "subscribe" else f"d_{code}"
    return post_event(client, openid, event, key)


def upline_of(user_id: int) -> int | None:
    db.session.rollback()
    binding = db.session.get(Binding, user_id)
    return binding.distributor_id if binding else None


# Each setup returns (the scanning user, the code they scan); the reply's reason.
def own_code():
    [d] = make_chain(1)
    return d.user, d.code


def a_downline_code():
    top, _middle, bottom = make_chain(3)
    return top.user, bottom.code


def another_distributor_code():
    set_policy(binding_mode="first_touch")
    first, second = make_distributor(), make_distributor()
    return make_shopper(bound_to=first), second.code


def a_code_after_ordering():
    set_policy(binding_scope="new_users_only")
    d = make_distributor()
    customer = make_user()
    make_paid_order(customer, [(make_product(5_000).id, 1)])
    return customer, d.code


def a_frozen_distributor_code():
    d = make_distributor()
    distributors.freeze(d.id, "违规推广")
    return make_user(), d.code


def nobodys_code():
    make_distributor()
    return make_user(), "23456789"  # well formed, and nobody's


def a_malformed_code():
    make_distributor()
    return make_user(), "nosuchcode"  # too long, and o is not in the alphabet


CASES = [
    pytest.param(own_code, "self", id="own-code"),
    pytest.param(a_downline_code, "cycle", id="cycle"),
    pytest.param(another_distributor_code, "already_bound", id="already-bound"),
    pytest.param(a_code_after_ordering, "not_new", id="not-new"),
    pytest.param(a_frozen_distributor_code, "invalid", id="frozen"),
    pytest.param(nobodys_code, "invalid", id="unknown"),
    pytest.param(a_malformed_code, "invalid", id="malformed"),
]


@pytest.mark.parametrize("event", ["SCAN", "subscribe"])
@pytest.mark.parametrize("language", ["zh_CN", "en"])
@pytest.mark.parametrize(("setup", "why"), CASES)
def test_a_scan_that_binds_nobody_says_why(ctx, client, setup, why, language, event):
    user, code = setup()
    if language == "en":
        update_profile(user.openid, {"language": "en"})
    before = upline_of(user.id)
    text = scan(client, user.openid, code, event)
    shop = f"{SHOP[language]}http://127.0.0.1:5000/shop"  # the welcome ends with the shop's link
    assert text.splitlines() == [text.splitlines()[0], WHY[language][why], shop]
    assert text.startswith(WELCOME[language])
    assert upline_of(user.id) == before


@pytest.mark.parametrize("event", ["SCAN", "subscribe"])
def test_a_new_follower_scanning_a_malformed_code_is_told_and_bound_to_nobody(ctx, client, event):
    make_distributor()
    text = scan(client, "o-newcomer", "d_\u202eab23cd45", event)
    assert text.splitlines()[1:] == [
        WHY["zh_CN"]["invalid"],
        f"{SHOP['zh_CN']}http://127.0.0.1:5000/shop",
    ]
    user = db.session.scalar(select(User).where(User.openid == "o-newcomer"))
    assert upline_of(user.id) is None


def test_a_scan_that_binds_names_the_inviter_and_gives_no_reason(ctx, client):
    d = make_distributor(nickname="小美")
    shopper = make_user()
    assert scan(client, shopper.openid, d.code, "SCAN") == "您已通过 小美 的推荐关注本店。"
    assert upline_of(shopper.id) == d.id
    # the same code again: still theirs, and still named (first touch keeps the binding)
    assert scan(client, shopper.openid, d.code.upper(), "subscribe").startswith(
        "欢迎关注Fenxiao！您是由 小美 邀请来的。"
    )


def test_a_follow_without_a_scene_is_the_plain_welcome(ctx, client):
    text = post_event(client, "o-plain", "subscribe", None)
    assert text.startswith(WELCOME["zh_CN"])
    assert text.splitlines()[1:] == [f"{SHOP['zh_CN']}http://127.0.0.1:5000/shop"]  # no reason


@pytest.mark.parametrize(
    ("language", "welcome"),
    [
        ("zh_CN", "欢迎关注分销演示小店！可用指令："),
        ("en", "Welcome to 分销演示小店! Commands: "),
    ],
)
def test_the_welcome_names_the_shop_as_the_merchant_calls_it(ctx, client, language, welcome):
    set_policy(name="分销演示小店")
    user = make_user()
    if language == "en":
        update_profile(user.openid, {"language": "en"})
    assert post_event(client, user.openid, "subscribe", None).startswith(welcome)


def test_the_welcome_of_an_invited_follower_names_the_shop_and_the_inviter(ctx, client):
    set_policy(name="分销演示小店")
    d = make_distributor(nickname="小美")
    invited = scan(client, make_user().openid, d.code, "subscribe")
    assert invited.startswith("欢迎关注分销演示小店！您是由 小美 邀请来的。")

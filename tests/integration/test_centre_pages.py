"""The distributor centre's pages for whoever opens them: no session goes to WeChat's sign-in,
someone who is not an active distributor gets a page that says why (403), a distributor gets
their own figures and never another's, and a made-up query is a 4xx, never a 500."""

from __future__ import annotations

import re

import pytest

from models import db
from services import withdrawals
from tests.factories import make_earner, make_user, set_policy
from web.signin import SESSION_OPENID

PAGES = [
    "/me",
    "/me/commissions",
    "/me/withdrawals",
    "/me/team",
    "/me/team?view=customers",
    "/me/stats",
    "/me/leaderboard",
    "/me/material",
    "/me/real-name",
]


def signed_in(client, openid: str):
    with client.session_transaction() as session:
        session[SESSION_OPENID] = openid
    return client


@pytest.mark.parametrize("path", PAGES)
def test_without_a_session_every_page_goes_to_wechat_sign_in(ctx, client, path):
    answer = client.get(path)
    assert answer.status_code == 302 and "/connect/oauth2/authorize" in answer.location


@pytest.mark.parametrize("path", PAGES)
def test_someone_who_is_not_a_distributor_is_told_how_to_join(ctx, client, path):
    shopper = make_user("只是顾客")
    answer = signed_in(client, shopper.openid).get(path)
    assert answer.status_code == 403 and "申请" in answer.text


@pytest.mark.parametrize("path", PAGES)
def test_a_frozen_distributor_is_told_why(ctx, client, path):
    distributor = make_earner(1_000)
    distributor.status, distributor.frozen_reason = "frozen", "刷单嫌疑"
    db.session.commit()
    answer = signed_in(client, distributor.user.openid).get(path)
    assert answer.status_code == 403 and "刷单嫌疑" in answer.text


@pytest.mark.parametrize(
    "path",
    [
        "/me/commissions?status=everything",
        "/me/commissions?month=2026-13",
        "/me/commissions?month=%00",
        "/me/commissions?cursor=made-up",
        "/me/team?level=4",
        "/me/team?level=-1",
        "/me/team?view=admins",
        "/me/team?cursor=%E4%B8%AD",
        "/me/withdrawals?cursor=x.y",
        "/me/leaderboard?period=year",
    ],
)
def test_a_made_up_query_is_a_clear_4xx(ctx, client, path):
    distributor = make_earner(1_000)
    answer = signed_in(client, distributor.user.openid).get(path)
    assert answer.status_code in (400, 404)


def test_another_distributors_withdrawal_is_not_found_and_the_list_is_mine(ctx, client):
    set_policy(withdraw_auto_approve_max_fen=None)
    mine, theirs = make_earner(1_000), make_earner(2_000)
    their_withdrawal = withdrawals.request_withdrawal(theirs.id, 1_500)
    signed_in(client, mine.user.openid)
    assert client.get(f"/me/withdrawals/{their_withdrawal.id}").status_code == 404
    page = client.get("/me/withdrawals").text
    assert "¥15.00" not in page and "¥10.00" in page  # my available, not their withdrawal


def test_a_withdrawal_asked_on_the_page_follows_the_bots_rules(ctx, client):
    distributor = make_earner(1_000, withdraw_min_fen=500)
    signed_in(client, distributor.user.openid)
    form = client.get("/me/withdrawals").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/me/withdrawals", data={"amount": "5"}).status_code == 400  # no token
    for amount, words in (("abc", "金额格式不对"), ("1", "单笔提现最低"), ("99", "可提现余额不足")):
        data = {"amount": amount, "csrf_token": token}
        page = client.post("/me/withdrawals", data=data, follow_redirects=True)
        assert page.status_code == 200 and words in page.text
    assert withdrawals.waiting_for_user(distributor.id) == []

"""Every distributor command, typed or clicked, gives someone who may not use it the same answer:
how to join, or that their application is pending, rejected or frozen (and why)."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import func, select

from models import Poster, Withdrawal, db
from services import distributors
from tests.factories import make_user, set_policy
from tests.support import wechat as w

COMMANDS = ["收益", "提现", "提现 50", "团队", "海报", "海报 茶", "素材", "earnings", "poster"]
MENU_KEYS = ["EARNINGS", "WITHDRAW", "TEAM", "POSTER", "MATERIAL"]
ANSWERS = {
    "none": "您还不是分销员。发送「申请」即可免费加入。",
    "pending": "您的分销员申请正在审核中，通过后即可使用分销功能，结果会通过消息通知您。",
    "rejected": "您的分销员申请未通过，原因：资料不全。如有疑问请联系商家。",
    "frozen": "您的分销员资格已被暂停，原因：违规推广。如有疑问请联系商家。",
}


def someone(state: str) -> str:
    """The openid of a user with no distributor row, or whose application is in `state`."""
    user = make_user("阿强")
    if state != "none":
        set_policy(application_policy="audit")
        applicant = distributors.apply(user.id)
        if state == "rejected":
            distributors.reject(applicant.id, "资料不全")
        if state == "frozen":
            distributors.approve(applicant.id)
            distributors.freeze(applicant.id, "违规推广")
    return user.openid


def answer(client, xml: str) -> str:
    url, body = w.plain_request(xml)
    response = client.post(url, data=body)
    assert response.status_code == 200, response.data
    return SafeET.fromstring(response.data).findtext("Content")


@pytest.mark.parametrize("state", list(ANSWERS))
@pytest.mark.parametrize("command", COMMANDS)
def test_a_typed_command_answers_whoever_may_not_use_it_the_same_way(ctx, state, command):
    openid, client = someone(state), ctx.test_client()
    assert answer(client, w.text_xml(openid, command)) == ANSWERS[state]
    assert answer(client, w.text_xml(openid, command)) == ANSWERS[state]  # from the card, too
    assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0
    assert db.session.scalar(select(func.count()).select_from(Poster)) == 0


@pytest.mark.parametrize("state", list(ANSWERS))
@pytest.mark.parametrize("key", MENU_KEYS)
def test_a_menu_click_answers_whoever_may_not_use_it_the_same_way(ctx, state, key):
    openid, client = someone(state), ctx.test_client()
    assert answer(client, w.event_xml(openid, "CLICK", key)) == ANSWERS[state]

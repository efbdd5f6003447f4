"""The account's templates (「模板消息接口」: api_add_template, get_all_private_template,
del_private_template) and template messages shown under their template's labels."""

from __future__ import annotations

from demo_identity import DEMO_NOTICE_TEMPLATE_ID

from .conftest import new_user
from .test_api import post


def private_templates(client, token) -> dict[str, dict]:
    answer = client.get(
        "/cgi-bin/template/get_all_private_template", query_string={"access_token": token}
    ).get_json()
    return {t["template_id"]: t for t in answer["template_list"]}


def send(client, token, openid: str, template_id: str, data: dict) -> dict:
    body = {"touser": openid, "template_id": template_id, "data": data}
    assert post(client, "/cgi-bin/message/template/send", token, body)["errcode"] == 0
    return client.get(f"/sim/users/{openid}/messages").get_json()["messages"][-1]


def test_the_demo_account_has_its_notice_template_with_labels(client, token):
    notice = private_templates(client, token)[DEMO_NOTICE_TEMPLATE_ID]
    assert notice["title"] == "分销业务通知"
    assert notice["content"] == (
        "通知类型：{{keyword1.DATA}}\n通知内容：{{keyword2.DATA}}\n通知时间：{{keyword3.DATA}}"
    )
    assert {"example", "primary_industry", "deputy_industry"} <= set(notice)


def test_a_library_template_is_added_by_its_short_id_and_deleted_by_its_id(client, token):
    added = post(
        client, "/cgi-bin/template/api_add_template", token, {"template_id_short": "TM00015"}
    )
    assert added["errcode"] == 0
    assert private_templates(client, token)[added["template_id"]]["title"] == "订单支付成功"
    unknown = {"template_id_short": "TM99999"}
    assert post(client, "/cgi-bin/template/api_add_template", token, unknown)["errcode"] == 40037
    gone = {"template_id": added["template_id"]}
    assert post(client, "/cgi-bin/template/del_private_template", token, gone)["errcode"] == 0
    assert added["template_id"] not in private_templates(client, token)
    assert post(client, "/cgi-bin/template/del_private_template", token, gone)["errcode"] == 40037


def test_an_account_keeps_at_most_25_templates(client, token):
    body = {"template_id_short": "FENXIAO_NOTICE"}
    codes = [
        post(client, "/cgi-bin/template/api_add_template", token, body)["errcode"]
        for _ in range(25)
    ]
    assert codes == [0] * 24 + [45026]  # the seeded notice template is the 25th


def test_a_template_message_is_shown_under_its_templates_title_and_labels(client, token):
    openid = new_user(client)
    data = {
        "first": {"value": "提现已到账"},
        "keyword1": {"value": "提现已到账"},
        "keyword2": {"value": "¥10.00 已打款到微信零钱。"},
        "keyword3": {"value": "2026-12-06 14:28"},
        "remark": {"value": "not shown by a new template"},
    }
    message = send(client, token, openid, DEMO_NOTICE_TEMPLATE_ID, data)
    assert message["template_title"] == "分销业务通知" and message["title"] == "提现已到账"
    assert message["lines"] == [
        ["通知类型", "提现已到账"],
        ["通知内容", "¥10.00 已打款到微信零钱。"],
        ["通知时间", "2026-12-06 14:28"],
    ]
    assert message["content"] == (
        "分销业务通知\n通知类型：提现已到账\n通知内容：¥10.00 已打款到微信零钱。\n"
        "通知时间：2026-12-06 14:28"
    )
    assert message["remark"] == "" and message["data"] == data  # the data as sent


def test_an_old_style_template_still_shows_first_and_remark(client, token):
    added = post(
        client, "/cgi-bin/template/api_add_template", token, {"template_id_short": "TM00015"}
    )
    data = {
        "first": {"value": "我们已收到您的货款"},
        "orderMoneySum": {"value": "30.00元"},
        "orderProductName": {"value": "明前龙井"},
        "remark": {"value": "如有问题请留言"},
    }
    message = send(client, token, new_user(client), added["template_id"], data)
    assert message["lines"] == [["支付金额", "30.00元"], ["商品信息", "明前龙井"]]
    assert message["content"] == (
        "订单支付成功\n我们已收到您的货款\n支付金额：30.00元\n商品信息：明前龙井\n如有问题请留言"
    )
    assert message["remark"] == "如有问题请留言"

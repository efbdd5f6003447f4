"""Customer-service window and quotas, template messages (and their job-finished event), mass."""

from __future__ import annotations

from demo_identity import DEMO_NOTICE_TEMPLATE_ID

from .conftest import fetch_token, new_user
from .test_api import picture, post, upload


def custom(client, token, openid: str, content: str = "hi", **body):
    body = body or {"msgtype": "text", "text": {"content": content}}
    return post(client, "/cgi-bin/message/custom/send", token, {"touser": openid, **body})


def advance(client, seconds: float) -> None:
    client.post("/sim/clock", json={"advance_seconds": seconds})


def test_custom_messages_need_the_48h_window(client, token):
    openid = new_user(client)
    assert custom(client, token, openid)["errcode"] == 45015  # never interacted
    client.post(f"/sim/users/{openid}/text", json={"content": "海报"})
    assert custom(client, token, openid)["errcode"] == 0
    advance(client, 48 * 3600 + 1)
    token = fetch_token(client)  # the old one expired meanwhile
    assert custom(client, token, openid)["errcode"] == 45015
    client.post(f"/sim/users/{openid}/text", json={"content": "又来了"})
    assert custom(client, token, openid)["errcode"] == 0


def test_five_custom_messages_per_user_message(client, token):
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/text", json={"content": "hi"})
    assert [custom(client, token, openid)["errcode"] for _ in range(6)] == [0] * 5 + [45047]
    client.post(f"/sim/users/{openid}/text", json={"content": "again"})
    assert custom(client, token, openid)["errcode"] == 0
    quota = client.get("/sim/quotas").get_json()["custom"]
    assert quota["sent_total"] == 6 and quota["by_user"][openid]["sends_since_interaction"] == 1


def test_three_custom_messages_per_minute_after_a_click(client, token):
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/click", json={"key": "POSTER"})
    assert [custom(client, token, openid)["errcode"] for _ in range(4)] == [0, 0, 0, 45047]
    advance(client, 61)
    assert custom(client, token, openid)["errcode"] == 0


def test_custom_messages_to_non_followers_and_strangers(client, token):
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/text", json={"content": "hi"})
    client.post(f"/sim/users/{openid}/unfollow")
    assert custom(client, token, openid)["errcode"] == 43004
    assert custom(client, token, "o-nobody")["errcode"] == 40003


def test_custom_message_kinds(client, token):
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/text", json={"content": "hi"})
    media_id = upload(client, token, picture())["media_id"]
    image = {"msgtype": "image", "image": {"media_id": media_id}}
    assert custom(client, token, openid, **image)["errcode"] == 0
    bad_image = {"msgtype": "image", "image": {"media_id": "gone"}}
    assert custom(client, token, openid, **bad_image)["errcode"] == 40007
    article = {"title": "新品", "description": "看看", "url": "http://x.test/p/1", "picurl": ""}
    news = {"msgtype": "news", "news": {"articles": [article]}}
    assert custom(client, token, openid, **news)["errcode"] == 0
    two = {"msgtype": "news", "news": {"articles": [article, article]}}
    assert custom(client, token, openid, **two)["errcode"] == 45008
    assert custom(client, token, openid, msgtype="nope", nope={})["errcode"] == 40008
    assert custom(client, token, openid, content="")["errcode"] == 44004
    messages = client.get(f"/sim/users/{openid}/messages").get_json()["messages"]
    assert [(m["kind"], m["msgtype"]) for m in messages] == [
        ("custom", "image"),
        ("custom", "news"),
    ]
    assert messages[0]["media_id"] == media_id and messages[1]["articles"][0]["title"] == "新品"


# -- template messages --------------------------------------------------------------------------
TEMPLATE = {
    "template_id": DEMO_NOTICE_TEMPLATE_ID,  # the demo account's own notice template
    "url": "http://127.0.0.1:5000/me",
    "data": {
        "first": {"value": "你有一笔新佣金"},
        "keyword1": {"value": "佣金到账", "color": "#173177"},
        "keyword2": "12.50元",
        "keyword3": {"value": "2026-01-01 10:00"},
        "remark": {"value": "结算后可提现"},
    },
}


def test_template_send_records_and_reports_job_finished(client, token, webhook):
    openid = new_user(client)  # no interaction needed: templates ignore the 48 h window
    data = post(client, "/cgi-bin/message/template/send", token, {"touser": openid, **TEMPLATE})
    assert data["errcode"] == 0 and data["msgid"] > 0
    message = client.get(f"/sim/users/{openid}/messages").get_json()["messages"][0]
    assert message["kind"] == "template" and message["title"] == "你有一笔新佣金"
    assert message["lines"] == [
        ["通知类型", "佣金到账"],
        ["通知内容", "12.50元"],
        ["通知时间", "2026-01-01 10:00"],
    ]
    # A template added since 2023 has no remark line: the phone does not show it.
    assert message["remark"] == "" and message["data"] == TEMPLATE["data"]
    finished = webhook.wait_for(lambda m: m.type == "event" and m.event == "templatesendjobfinish")
    assert finished["message"].id == data["msgid"] and finished["message"].status == "success"
    assert finished["message"].source == openid
    recorded = client.get("/sim/templates").get_json()["templates"]
    assert recorded[0]["touser"] == openid and recorded[0]["msgid"] == data["msgid"]


def test_template_send_needs_a_follower_and_a_template(client, token):
    stranger = new_user(client, follow=False)
    assert (
        post(client, "/cgi-bin/message/template/send", token, {"touser": stranger, **TEMPLATE})[
            "errcode"
        ]
        == 43004
    )
    follower = new_user(client)
    no_template = {**TEMPLATE, "template_id": ""}
    assert (
        post(client, "/cgi-bin/message/template/send", token, {"touser": follower, **no_template})[
            "errcode"
        ]
        == 40037
    )


def test_a_template_the_account_does_not_have_is_refused_and_not_sent(client, token):
    follower = new_user(client)
    foreign = {"touser": follower, **TEMPLATE, "template_id": "tpl-of-another-account"}
    answer = post(client, "/cgi-bin/message/template/send", token, foreign)
    assert answer["errcode"] == 40037 and "msgid" not in answer
    assert client.get(f"/sim/users/{follower}/messages").get_json()["messages"] == []
    assert client.get("/sim/templates").get_json()["templates"] == []


# -- mass messages ------------------------------------------------------------------------------
def test_mass_send_monthly_quota(client, token):
    a, b = new_user(client), new_user(client)
    stranger = new_user(client, follow=False)
    body = {"touser": [a, b, stranger], "msgtype": "text", "text": {"content": "上新啦"}}
    results = [post(client, "/cgi-bin/message/mass/send", token, body) for _ in range(4)]
    assert all(r["errcode"] == 0 and r["msg_id"] for r in results)
    assert post(client, "/cgi-bin/message/mass/send", token, body)["errcode"] == 45028
    everyone = {"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": "hi"}}
    assert post(client, "/cgi-bin/message/mass/sendall", token, everyone)["errcode"] == 45028
    assert client.get("/sim/quotas").get_json()["mass"]["sent_this_month"] == 4
    assert len(client.get(f"/sim/users/{a}/messages").get_json()["messages"]) == 4
    assert client.get(f"/sim/users/{stranger}/messages").get_json()["messages"] == []
    advance(client, 31 * 86400)  # a new month
    token = fetch_token(client)
    assert post(client, "/cgi-bin/message/mass/sendall", token, everyone)["errcode"] == 0


def test_mass_send_needs_two_openids(client, token):
    body = {"touser": [new_user(client)], "msgtype": "text", "text": {"content": "x"}}
    assert post(client, "/cgi-bin/message/mass/send", token, body)["errcode"] == 40130


def test_mass_quota_is_configurable(make_sim):
    client = make_sim(SIM_MASS_MONTHLY_QUOTA=1).test_client()
    token = fetch_token(client)
    new_user(client)
    everyone = {"filter": {"is_to_all": True}, "msgtype": "text", "text": {"content": "hi"}}
    assert post(client, "/cgi-bin/message/mass/sendall", token, everyone)["errcode"] == 0
    assert post(client, "/cgi-bin/message/mass/sendall", token, everyone)["errcode"] == 45028

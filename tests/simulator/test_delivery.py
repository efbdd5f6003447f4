"""Pushing to the webhook as WeChat does: signatures, safe mode, retries, replies, events, scans."""

from __future__ import annotations

import io

import pytest
import qrcode
from wechatpy.replies import ImageReply, TextReply

from .conftest import AES_KEY, new_user
from .test_api import picture, post, qr, upload


def say(client, openid: str, content: str = "你好"):
    return client.post(f"/sim/users/{openid}/text", json={"content": content}).get_json()


def test_text_is_signed_and_the_reply_recorded(client, webhook):
    webhook.echo()
    openid = new_user(client)
    result = say(client, openid)
    assert result["delivery"]["status"] == "reply" and result["delivery"]["tries"] == 1
    assert result["reply"]["kind"] == "reply" and result["reply"]["content"] == "收到：你好"
    got = webhook.received[0]
    assert got["args"]["openid"] == openid and "encrypt_type" not in got["args"]
    message = got["message"]
    assert (message.type, message.source, message.target) == ("text", openid, "gh_f3n51a0d3m0a")
    assert message.id >= 10**18
    messages = client.get(f"/sim/users/{openid}/messages").get_json()["messages"]
    assert [m["content"] for m in messages] == ["收到：你好"]
    conversation = client.get(f"/sim/users/{openid}/conversation").get_json()["entries"]
    assert [e["kind"] for e in conversation] == ["user", "reply"]


def test_safe_mode_round_trip_with_wechatpy(make_sim, webhook):
    client = make_sim(WECHAT_AES_KEY=AES_KEY).test_client()
    webhook.echo()
    openid = new_user(client)
    result = say(client, openid, "安全模式")
    assert result["reply"]["content"] == "收到：安全模式"
    args = webhook.received[0]["args"]
    assert args["encrypt_type"] == "aes" and len(args["msg_signature"]) == 40
    assert webhook.received[0]["message"].content == "安全模式"


def test_safe_mode_refuses_a_plain_reply(make_sim, webhook):
    client = make_sim(WECHAT_AES_KEY=AES_KEY).test_client()
    webhook.answer = lambda m: TextReply(message=m, content="明文").render()  # not encrypted
    openid = new_user(client)
    result = say(client, openid)
    assert result["delivery"]["status"] == "error"
    assert result["reply"]["kind"] == "system"


def test_a_slow_webhook_gets_the_same_message_again(make_sim, webhook):
    client = make_sim(SIM_DELIVERY_TIMEOUT=0.3).test_client()
    webhook.echo()
    webhook.delay, webhook.slow_times = 0.6, 2
    openid = new_user(client)
    result = say(client, openid)
    assert result["delivery"]["tries"] == 3 and result["delivery"]["status"] == "reply"
    webhook_ids = {(r["message"].id, r["message"].create_time) for r in webhook.received}
    assert len(webhook.received) == 3 and len(webhook_ids) == 1
    assert len({r["args"]["nonce"] for r in webhook.received}) == 3  # signed afresh each try


def test_three_timeouts_show_the_service_down_notice(make_sim, webhook):
    client = make_sim(SIM_DELIVERY_TIMEOUT=0.2).test_client()
    webhook.delay, webhook.slow_times = 0.4, 3
    openid = new_user(client)
    result = say(client, openid)
    assert (result["delivery"]["status"], result["delivery"]["tries"]) == ("timeout", 3)
    assert result["reply"]["content"] == "该公众号暂时无法提供服务，请稍后再试"


def test_an_unreachable_webhook(make_sim):
    client = make_sim(SIM_WEBHOOK_URL="http://127.0.0.1:9/wechat").test_client()
    result = say(client, new_user(client))
    assert (result["delivery"]["status"], result["delivery"]["tries"]) == ("unreachable", 3)


@pytest.mark.parametrize(
    "answer",
    [
        lambda m: TextReply(message=m, content="").render(),  # empty content
        lambda m: "not xml at all",
        lambda m: TextReply(message=m, content="hi", target="o-other").render(),
        lambda m: ImageReply(message=m, media_id="no-such-media").render(),
    ],
    ids=["empty-content", "not-xml", "wrong-user", "unknown-media"],
)
def test_replies_wechat_refuses(client, webhook, answer):
    webhook.answer = answer
    result = say(client, new_user(client))
    assert result["delivery"]["status"] == "error" and result["reply"]["kind"] == "system"


def test_an_http_error_is_not_retried(client, webhook):
    webhook.status = 500
    result = say(client, new_user(client))
    assert (result["delivery"]["status"], result["delivery"]["tries"]) == ("error", 1)


def test_success_means_no_reply(client, webhook):
    openid = new_user(client)
    result = say(client, openid)
    assert result["delivery"]["status"] == "no_reply" and result["reply"] is None
    assert client.get(f"/sim/users/{openid}/messages").get_json()["messages"] == []


def test_an_image_reply_with_live_media(client, webhook, token):
    media_id = upload(client, token, picture())["media_id"]
    webhook.answer = lambda m: ImageReply(message=m, media_id=media_id)
    result = say(client, new_user(client))
    assert result["reply"]["msgtype"] == "image" and result["reply"]["media_id"] == media_id


def test_other_message_types_reach_the_webhook(client, webhook):
    openid = new_user(client)
    client.post(f"/sim/users/{openid}/voice", json={"recognition": "海报"})
    client.post(f"/sim/users/{openid}/location", json={"label": "深圳"})
    image = client.post(
        f"/sim/users/{openid}/image",
        data={"image": (io.BytesIO(picture()), "a.png")},
        content_type="multipart/form-data",
    ).get_json()
    kinds = [r["message"].type for r in webhook.received]
    assert kinds == ["voice", "location", "image"]
    assert webhook.received[0]["message"].recognition == "海报"
    assert webhook.received[2]["message"].image.endswith(image["sent"]["media_id"])


# -- events -------------------------------------------------------------------------------------
def test_follow_through_a_qrcode_then_scan_again(client, webhook, token):
    ticket = qr(client, token, scene={"scene_str": "d_abc"})["ticket"]
    openid = new_user(client, follow=False)
    follow = client.post(f"/sim/users/{openid}/follow", json={"scene": "d_abc"})
    assert follow.status_code == 200
    event = webhook.received[-1]["message"]
    assert (event.event, event.scene_id, event.ticket) == ("subscribe_scan", "d_abc", ticket)
    assert "<EventKey><![CDATA[qrscene_d_abc]]></EventKey>" in webhook.received[-1]["xml"]
    assert client.post(f"/sim/users/{openid}/follow").status_code == 409
    client.post(f"/sim/users/{openid}/scan", json={"scene": "d_abc"})
    event = webhook.received[-1]["message"]
    assert (event.event, event.scene_id) == ("scan", "d_abc")
    info = client.get(f"/sim/users/{openid}").get_json()["info"]
    assert info["subscribe_scene"] == "ADD_SCENE_QR_CODE" and info["qr_scene_str"] == "d_abc"


def test_plain_follow_click_and_unfollow(client, webhook, token):
    openid = new_user(client, follow=False)
    client.post(f"/sim/users/{openid}/follow")
    assert webhook.received[-1]["message"].event == "subscribe"
    client.post(f"/sim/users/{openid}/click", json={"key": "POSTER"})
    assert (webhook.received[-1]["message"].event, webhook.received[-1]["message"].key) == (
        "click",
        "POSTER",
    )
    post(
        client,
        "/cgi-bin/menu/create",
        token,
        {"button": [{"type": "click", "name": "帮助", "key": "HELP"}]},
    )
    assert client.post(f"/sim/users/{openid}/click", json={"key": "POSTER"}).status_code == 400
    client.post(f"/sim/users/{openid}/unfollow")
    assert webhook.received[-1]["message"].event == "unsubscribe"
    assert client.post(f"/sim/users/{openid}/text", json={"content": "hi"}).status_code == 409


def test_rapid_events_get_distinct_create_times(client, webhook):
    openid = new_user(client)
    for key in ("JOIN", "POSTER", "HELP"):
        client.post(f"/sim/users/{openid}/click", json={"key": key})
    times = [r["message"].create_time for r in webhook.received]
    assert len(set(times)) == 3 and times == sorted(times)


# -- scanning pictures --------------------------------------------------------------------------
def qr_picture(text: str) -> bytes:
    out = io.BytesIO()
    qrcode.make(text).save(out, format="PNG")
    return out.getvalue()


def scan_image(client, openid: str, data: bytes):
    return client.post(
        f"/sim/users/{openid}/scan-image",
        data={"image": (io.BytesIO(data), "p.png")},
        content_type="multipart/form-data",
    )


def test_scanning_a_poster_qrcode(client, webhook, token):
    url = qr(client, token, scene={"scene_str": "d_xyz"}, expire_seconds=3600)["url"]
    openid = new_user(client, follow=False)
    assert scan_image(client, openid, qr_picture(url)).status_code == 200
    event = webhook.received[-1]["message"]
    assert (event.event, event.scene_id) == ("subscribe_scan", "d_xyz")
    scan_image(client, openid, qr_picture(url))
    assert webhook.received[-1]["message"].event == "scan"
    client.post("/sim/clock", json={"advance_seconds": 3601})
    assert scan_image(client, openid, qr_picture(url)).status_code == 410


def test_scanning_a_media_picture_by_id(client, webhook, token):
    url = qr(client, token, scene={"scene_str": "d_m"})["url"]
    media_id = upload(client, token, qr_picture(url))["media_id"]
    openid = new_user(client)
    response = client.post(f"/sim/users/{openid}/scan-image", json={"media_id": media_id})
    assert response.get_json()["sent"]["event"] == "SCAN"


def test_scanning_a_web_link_or_nothing(client):
    openid = new_user(client)
    link = "http://127.0.0.1:5000/p/3?d=abc"
    assert scan_image(client, openid, qr_picture(link)).get_json() == {"open": link}
    assert scan_image(client, openid, picture()).status_code == 422
    unknown = scan_image(client, openid, qr_picture("http://weixin.qq.com/q/unknown"))
    assert unknown.status_code == 404

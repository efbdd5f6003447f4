"""POST /wechat with signed XML, as WeChat sends it: commands, events, bad input, duplicates."""

from __future__ import annotations

import time

import pytest
from defusedxml import ElementTree as SafeET
from sqlalchemy import func, select, update

from models import Binding, User, Withdrawal, db
from services import distributors, withdrawals
from services.ledger import balances
from tests.conftest import test_config
from tests.factories import (
    make_chain,
    make_earner,
    set_policy,
)
from tests.support import wechat as w
from web import create_app


@pytest.fixture
def client(app):
    return app.test_client()


def say(client, openid, content, **kw):
    url, body = w.plain_request(w.text_xml(openid, content, **kw))
    return client.post(url, data=body)


def send_event(client, openid, event, key=None, extra=""):
    url, body = w.plain_request(w.event_xml(openid, event, key, extra=extra))
    return client.post(url, data=body)


def reply_text(response) -> str:
    assert response.status_code == 200, response.data
    return SafeET.fromstring(response.data).findtext("Content")


@pytest.fixture
def earner(ctx):
    """A distributor (openid known to the test) with ¥300.00 available."""
    distributor = make_earner(
        30_000, withdraw_max_per_day_fen=20_000, withdraw_auto_approve_max_fen=None
    )
    return distributor.user.openid, distributor.id


class TestServerCheck:
    def test_a_valid_signature_echoes(self, client):
        query = w.signed_query(echostr="hello-wechat")
        assert client.get("/wechat", query_string=query).data == b"hello-wechat"

    @pytest.mark.parametrize("tamper", ["signature", "timestamp", "nonce"])
    def test_a_forged_check_is_403(self, client, tamper):
        query = {**w.signed_query(echostr="x"), tamper: "forged"}
        assert client.get("/wechat", query_string=query).status_code == 403


class TestBadInput:
    def test_forged_signature_is_403_and_writes_nothing(self, ctx, client):
        url, body = w.plain_request(w.text_xml("o-x", "申请"), token="not-the-token")
        assert client.post(url, data=body).status_code == 403
        assert db.session.scalar(select(func.count()).select_from(User)) == 0

    def test_a_stale_timestamp_is_refused(self, client):
        old = str(int(time.time()) - 3600)
        url, body = w.plain_request(w.text_xml("o-x", "帮助"), timestamp=old)
        assert client.post(url, data=body).status_code == 403

    @pytest.mark.parametrize(
        "body",
        [
            b"",
            b"not xml at all",
            b"<notxml><a>1</a></notxml>",
            b"<xml><FromUserName>o</FromUserName></xml>",  # no MsgType
            b"<xml><MsgType>event</MsgType><FromUserName>o</FromUserName></xml>",  # no Event
            b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName><MsgId>x1</MsgId></xml>",
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaa">]><xml>'
            b"<MsgType>text</MsgType><FromUserName>o</FromUserName><Content>&a;</Content></xml>",
            b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName><Content>&x;</Content>"
            b"</xml>",
            b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
            b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
            b"<xml><MsgType>text</MsgType><FromUserName>o</FromUserName><Content>&lol3;</Content>"
            b"</xml>",
        ],
        ids=[
            "empty",
            "text",
            "wrong-root",
            "no-type",
            "no-event",
            "bad-msgid",
            "dtd",
            "xxe",
            "billion-laughs",
        ],
    )
    def test_malformed_bodies_are_400(self, ctx, client, body):
        url, _ = w.plain_request("")
        assert client.post(url, data=body).status_code == 400
        assert db.session.scalar(select(func.count()).select_from(User)) == 0

    def test_a_body_over_64_kib_is_refused(self, client):
        url, _ = w.plain_request("")
        response = client.post(url, data=b"<xml>" + b"a" * (1024 * 1024) + b"</xml>")
        assert response.status_code == 413

    @pytest.mark.parametrize(
        "extra",
        [
            "<MsgType>voice</MsgType>",
            "<MsgType>location</MsgType>",
            "<MsgType>video</MsgType>",
            "<MsgType>shortvideo</MsgType>",
        ],
    )
    def test_unsupported_message_types_get_a_kind_reply(self, client, extra):
        xml = (
            f"<xml><ToUserName>gh</ToUserName><FromUserName>o-v</FromUserName>"
            f"<CreateTime>{int(time.time())}</CreateTime>{extra}<MsgId>{time.time_ns()}</MsgId></xml>"
        )
        url, body = w.plain_request(xml)
        assert "文字消息" in reply_text(client.post(url, data=body))

    @pytest.mark.parametrize("content", ["", "   ", "😀🎉👍", "长" * 5000, "<>&'\""])
    def test_odd_text_gets_the_short_help(self, client, content):
        assert "可用指令" in reply_text(say(client, "o-odd", content))

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("提现 abc", "金额格式不对"),
            ("提现 -5", "金额格式不对"),
            ("提现 0", "金额格式不对"),
            ("提现 1.234", "最多两位小数"),
            ("提现 0.5", "单笔提现最低 ¥1.00"),
            ("提现 301", "可提现余额不足，当前可提现 ¥300.00"),
            ("提现 250", "超过每日提现上限 ¥200.00，今天还可提现 ¥200.00"),
            ("提现 1e9", "金额格式不对"),
        ],
    )
    def test_withdraw_with_bad_amounts_says_exactly_why_and_writes_nothing(
        self, client, earner, text, expected
    ):
        openid, distributor_id = earner
        assert expected in reply_text(say(client, openid, text))
        assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 0
        assert balances(distributor_id)["available"] == 30_000


class TestCommands:
    def test_help_lists_the_commands(self, client):
        text = reply_text(say(client, "o-h", "帮助"))
        assert "申请" in text and "提现" in text

    def test_english_aliases_and_case_are_accepted(self, client):
        assert reply_text(say(client, "o-e", " HELP ")) == reply_text(say(client, "o-e", "帮助"))

    def test_apply_under_audit_then_approved_by_the_merchant(self, ctx, client):
        set_policy(application_policy="audit")
        assert "等待商家审核" in reply_text(say(client, "o-j", "申请"))
        user = db.session.scalar(select(User).where(User.openid == "o-j"))
        distributors.approve(user.distributor.id)
        assert "您已是分销员" in reply_text(say(client, "o-j", "申请"))

    def test_a_non_distributor_is_told_how_to_join(self, client):
        for command in ("收益", "团队", "提现 5", "海报", "素材"):
            assert "发送「申请」即可免费加入" in reply_text(say(client, "o-n", command))

    def test_earnings_are_the_exact_ledger_figures(self, client, earner):
        openid, _ = earner
        text = reply_text(say(client, openid, "收益"))
        assert text.splitlines() == [
            "可提现：¥300.00",
            "待结算：¥0.00",
            "已提现：¥0.00",
            "今日收益：¥300.00",
            "本月收益：¥300.00",
        ]

    def test_withdraw_moves_money_to_held_and_says_so(self, client, earner):
        openid, distributor_id = earner
        assert "提现 ¥50.00 已提交" in reply_text(say(client, openid, "提现 50"))
        assert balances(distributor_id)["held"] == 5_000
        assert "提现中：¥50.00" in reply_text(say(client, openid, "收益"))

    def test_an_auto_approved_withdrawal_is_told_so_even_when_its_payout_already_began(
        self, client, earner, monkeypatch
    ):
        """A worker may take the payout job between the request's commit and the reply."""
        openid, _distributor_id = earner
        set_policy(withdraw_auto_approve_max_fen=100_000, payout_channel="wechat_v2")
        real = withdrawals.request_withdrawal

        def then_the_worker_starts_paying(*args, **kwargs):
            withdrawal = real(*args, **kwargs)
            db.session.execute(
                update(Withdrawal).where(Withdrawal.id == withdrawal.id).values(status="paying")
            )
            db.session.commit()
            return withdrawal

        monkeypatch.setattr(withdrawals, "request_withdrawal", then_the_worker_starts_paying)
        assert "提现 ¥50.00 已受理" in reply_text(say(client, openid, "提现 50"))

    def test_withdraw_menu_says_how_and_what_is_available(self, client, earner):
        openid, _ = earner
        text = reply_text(send_event(client, openid, "CLICK", "WITHDRAW"))
        assert "当前可提现 ¥300.00" in text

    def test_team_shows_levels_and_newest_members(self, ctx, client):
        top, mid, bottom = make_chain(3)
        text = reply_text(say(client, top.user.openid, "团队"))
        assert "一级 1 人 · 二级 1 人" in text
        assert mid.user.nickname in text and bottom.user.nickname in text

    def test_poster_answers_at_once_while_a_job_makes_it(self, ctx, client):
        [d] = make_chain(1)
        assert "海报正在生成" in reply_text(say(client, d.user.openid, "海报"))

    def test_menu_clicks_are_the_same_as_commands(self, client, earner):
        openid, _ = earner
        assert reply_text(send_event(client, openid, "CLICK", "EARNINGS")) == reply_text(
            say(client, openid, "收益")
        )

    def test_english_users_get_english_replies(self, ctx, client):
        from services.users import touch, update_profile

        touch("o-en")
        update_profile("o-en", {"language": "en"})
        assert "Commands:" in reply_text(say(client, "o-en", "hello"))


class TestEvents:
    def test_subscribe_with_a_scene_binds_and_names_the_inviter(self, ctx, client):
        [d] = make_chain(1)
        text = reply_text(send_event(client, "o-new", "subscribe", f"qrscene_d_{d.code}"))
        assert f"您是由 {d.user.nickname} 邀请来的" in text
        user = db.session.scalar(select(User).where(User.openid == "o-new"))
        assert user.subscribed and db.session.get(Binding, user.id).distributor_id == d.id

    def test_scan_binds_an_existing_follower(self, ctx, client):
        [d] = make_chain(1)
        send_event(client, "o-follower", "subscribe")
        text = reply_text(send_event(client, "o-follower", "SCAN", f"d_{d.code}"))
        assert d.user.nickname in text

    def test_a_scan_of_an_unknown_code_still_welcomes(self, client):
        assert "欢迎关注" in reply_text(send_event(client, "o-s", "SCAN", "d_nosuchcode"))

    def test_the_welcome_and_the_help_carry_the_shop_link(self, app, client):
        shop = app.config["PUBLIC_BASE_URL"].rstrip("/") + "/shop"
        welcome = reply_text(send_event(client, "o-new-shopper", "subscribe"))
        assert welcome.startswith("欢迎关注") and welcome.endswith(f"逛逛商城：{shop}")
        helped = reply_text(say(client, "o-new-shopper", "帮助"))
        assert helped.startswith("分销助手可以帮您") and helped.endswith(f"逛逛商城：{shop}")

    def test_unsubscribe_marks_the_user_and_answers_success(self, ctx, client):
        send_event(client, "o-bye", "subscribe")
        response = send_event(client, "o-bye", "unsubscribe")
        assert response.data == b"success"
        user = db.session.scalar(select(User).where(User.openid == "o-bye"))
        assert user.subscribed is False

    def test_template_job_finish_is_recorded(self, ctx, client):
        from models import OutboundMessage

        user = distributors.get_or_create_user("o-t")
        db.session.add(
            OutboundMessage(
                dedup_key="k",
                user_id=user.id,
                openid="o-t",
                channel="template",
                payload={},
                wechat_msgid="777",
            )
        )
        db.session.commit()
        extra = "<MsgID>777</MsgID><Status><![CDATA[success]]></Status>"
        response = send_event(client, "o-t", "TEMPLATESENDJOBFINISH", extra=extra)
        assert response.data == b"success"
        db.session.rollback()
        assert db.session.scalar(select(OutboundMessage.delivery_status)) == "success"


class TestDuplicates:
    def test_the_same_message_three_times_at_once_has_one_effect_and_one_answer(self, app, earner):
        openid, distributor_id = earner
        url, body = w.plain_request(w.text_xml(openid, "提现 50", msgid=424242))
        answers = w.deliver_at_once(app, url, body)
        assert len(answers) == 3 and len(set(answers)) == 1 and b"50.00" in answers[0]
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1
        assert balances(distributor_id)["held"] == 5_000

    def test_a_retry_after_the_answer_gets_the_same_answer(self, client, earner):
        openid, _ = earner
        url, body = w.plain_request(w.text_xml(openid, "提现 20", msgid=5151))
        first = client.post(url, data=body).data
        assert client.post(url, data=body).data == first
        assert db.session.scalar(select(func.count()).select_from(Withdrawal)) == 1


def test_redis_down_answers_busy_and_writes_nothing(database_url, tmp_path):
    from infra.redis_server import EmbeddedRedis

    server = EmbeddedRedis(tmp_path / "doomed").start()
    app = create_app(test_config(database_url, server.url, tmp_path / "i"))
    server.stop()
    response = say(app.test_client(), "o-busy", "申请")
    assert "系统繁忙" in reply_text(response)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0
        db.engine.dispose()


class TestSafeMode:
    @pytest.fixture
    def safe_app(self, database_url, redis_url, tmp_path):
        app = create_app(
            test_config(database_url, redis_url, tmp_path / "i", WECHAT_AES_KEY=w.AES_KEY)
        )
        yield app
        with app.app_context():
            db.engine.dispose()

    def test_an_encrypted_message_gets_an_encrypted_signed_reply(self, safe_app):
        url, body = w.safe_request(w.text_xml("o-safe", "帮助"), timestamp="1700000000")
        safe_app.config["WECHAT_MAX_CLOCK_SKEW"] = 0
        response = safe_app.test_client().post(url, data=body)
        assert response.status_code == 200
        root = SafeET.fromstring(response.data)
        encrypted = root.findtext("Encrypt")
        assert root.findtext("MsgSignature") == w.sha1_signature(
            w.TOKEN, root.findtext("TimeStamp"), root.findtext("Nonce"), encrypted
        )
        xml, appid = w.decrypt(encrypted)
        assert appid == w.APPID
        assert "分销助手可以帮您" in SafeET.fromstring(xml).findtext("Content")

    def test_a_wrong_msg_signature_is_403(self, safe_app):
        url, body = w.safe_request(w.text_xml("o-safe", "帮助"))
        url = url.replace("msg_signature=", "msg_signature=0")
        assert safe_app.test_client().post(url, data=body).status_code == 403

    def test_a_message_for_another_appid_is_refused(self, safe_app):
        import urllib.parse

        timestamp, nonce = str(int(time.time())), "n1"
        encrypted = w.encrypt(w.text_xml("o-safe", "帮助"), appid="wx-someone-else")
        query = w.signed_query(
            timestamp=timestamp,
            nonce=nonce,
            encrypt_type="aes",
            msg_signature=w.sha1_signature(w.TOKEN, timestamp, nonce, encrypted),
        )
        body = f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
        url = "/wechat?" + urllib.parse.urlencode(query)
        assert safe_app.test_client().post(url, data=body).status_code == 400


def test_interaction_times_are_queued_and_written_by_the_periodic_job(ctx, client):
    from services.users import flush_last_seen

    say(client, "o-seen", "帮助")  # first contact: created with its time
    user = db.session.scalar(select(User).where(User.openid == "o-seen"))
    first = user.last_seen_at
    assert first is not None
    say(client, "o-seen", "帮助")  # later messages only queue the time
    assert flush_last_seen() == 1
    db.session.expire_all()
    assert db.session.scalar(select(User.last_seen_at).where(User.openid == "o-seen")) >= first
    assert flush_last_seen() == 0

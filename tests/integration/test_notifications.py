"""Domain events become template messages; sends are recorded and never repeated; customer-
service messages fall back to a template outside the 48 h window (45015)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import requests
from sqlalchemy import func, select
from wechatpy.exceptions import WeChatClientException

from models import DomainEvent, OutboundMessage, User, db
from simulator import create_app as create_simulator
from tests.conftest import test_config
from tests.factories import make_distributor
from tests.simulator.conftest import serve
from web import create_app
from wechat.outbound import send_template, send_text
from workers.notifications import notify


@pytest.fixture
def sim_url():
    with serve(create_simulator({"FENXIAO_MODE": "test"})) as url:
        yield url


@pytest.fixture
def wired(database_url, redis_url, tmp_path, sim_url):
    app = create_app(test_config(database_url, redis_url, tmp_path / "i", WECHAT_API_BASE=sim_url))
    with app.app_context():
        yield app
        db.engine.dispose()


def sim_messages(sim_url, openid):
    return requests.get(f"{sim_url}/sim/users/{openid}/messages", timeout=5).json()["messages"]


def follower(sim_url, openid):
    requests.post(
        f"{sim_url}/sim/users",
        json={"openid": openid, "nickname": "通知测试", "subscribed": True},
        timeout=5,
    )


def test_an_approval_event_sends_one_template_message_however_often_the_job_runs(wired, sim_url):
    distributor = make_distributor()
    openid = distributor.user.openid
    follower(sim_url, openid)
    event = db.session.scalar(select(DomainEvent).where(DomainEvent.kind == "application_approved"))
    assert notify(event.id) == "sent"
    assert notify(event.id) == "already sent"
    templates = [m for m in sim_messages(sim_url, openid) if m["kind"] == "template"]
    assert len(templates) == 1
    assert templates[0]["title"] == "分销员申请已通过"
    assert distributor.code in templates[0]["remark"] or distributor.code in str(templates[0])
    row = db.session.scalar(select(OutboundMessage))
    assert (row.status, row.wechat_msgid) == ("sent", str(templates[0]["msgid"]))


def test_a_template_message_gives_the_time_of_the_event_in_china_time(wired, sim_url):
    distributor = make_distributor()
    openid = distributor.user.openid
    follower(sim_url, openid)
    event = db.session.scalar(select(DomainEvent).where(DomainEvent.kind == "application_approved"))
    event.created_at = datetime(2026, 12, 6, 6, 28, 30, tzinfo=UTC)  # 14:28 in China
    db.session.commit()
    assert notify(event.id) == "sent"
    [template] = [m for m in sim_messages(sim_url, openid) if m["kind"] == "template"]
    assert template["lines"][2] == ["通知时间", "2026-12-06 14:28"]


def test_a_template_message_puts_what_happened_in_labelled_fields_not_the_remark(wired, sim_url):
    """New WeChat templates show no remark: the details are a field, shown under its label."""
    distributor = make_distributor()
    openid = distributor.user.openid
    follower(sim_url, openid)
    event = db.session.scalar(select(DomainEvent).where(DomainEvent.kind == "application_approved"))
    assert notify(event.id) == "sent"
    [template] = [m for m in sim_messages(sim_url, openid) if m["kind"] == "template"]
    assert template["template_title"] == "分销业务通知" and "remark" not in template["data"]
    assert [label for label, _value in template["lines"]] == ["通知类型", "通知内容", "通知时间"]
    assert template["lines"][:2] == [
        ["通知类型", "分销员申请已通过"],
        ["通知内容", f"推广码：{distributor.code}。发送「海报」开始推广。"],
    ]
    assert f"通知内容：推广码：{distributor.code}" in template["content"]


def test_the_account_s_notice_template_has_the_fields_fenxiao_fills(wired, sim_url):
    """`flask --app web wechat templates` checks WECHAT_TEMPLATE_ID against wechat.templates."""
    runner = wired.test_cli_runner()
    checked = runner.invoke(args=["wechat", "templates"])
    assert checked.exit_code == 0, checked.output
    assert "fenxiao-demo-notice\t分销业务通知" in checked.output
    added = runner.invoke(args=["wechat", "templates", "--add"])
    assert added.exit_code == 0 and added.output.startswith("WECHAT_TEMPLATE_ID=")
    wired.config["WECHAT_TEMPLATE_ID"] = "not-a-template"
    refused = runner.invoke(args=["wechat", "templates"])
    assert refused.exit_code == 1 and "no such template: add FENXIAO_NOTICE" in refused.output


def test_a_template_id_the_account_does_not_have_fails_once_with_wechats_words(wired, sim_url):
    """WeChat refuses a template id the account has not added (40037): the send is kept as
    failed with WeChat's code, and a retry of the job does not send it again."""
    follower(sim_url, "o-misconfigured")
    user = User(openid="o-misconfigured")
    db.session.add(user)
    db.session.commit()
    wired.config["WECHAT_TEMPLATE_ID"] = "not-this-account-s"
    with pytest.raises(WeChatClientException) as refused:
        send_template("approved:1", user, "分销员申请已通过", "推广码：A1")
    assert refused.value.errcode == 40037
    [row] = db.session.scalars(select(OutboundMessage)).all()
    assert (row.channel, row.status) == ("template", "failed") and row.error.startswith("40037")
    assert send_template("approved:1", user, "分销员申请已通过", "推广码：A1") is None
    assert sim_messages(sim_url, "o-misconfigured") == []


def test_outside_the_48_hour_window_a_text_falls_back_to_a_template(wired, sim_url):
    follower(sim_url, "o-quiet")
    user = User(openid="o-quiet", nickname="安静的人")
    db.session.add(user)
    db.session.commit()
    send_text("poster:1", user, "您的海报已生成", fallback_title="海报已生成")
    kinds = [m["kind"] for m in sim_messages(sim_url, "o-quiet")]
    assert kinds == ["template"]
    rows = db.session.scalars(select(OutboundMessage).order_by(OutboundMessage.id)).all()
    assert [(r.channel, r.status) for r in rows] == [("custom", "failed"), ("template", "sent")]
    assert rows[0].error.startswith("45015")
    send_text("poster:1", user, "您的海报已生成", fallback_title="海报已生成")
    assert db.session.scalar(select(func.count()).select_from(OutboundMessage)) == 2


def test_inside_the_window_a_customer_service_text_is_sent(wired, sim_url):
    follower(sim_url, "o-chatty")
    requests.post(f"{sim_url}/sim/users/o-chatty/text", json={"content": "你好"}, timeout=10)
    user = User(openid="o-chatty")
    db.session.add(user)
    db.session.commit()
    send_text("hello:1", user, "您好！")
    custom = [m for m in sim_messages(sim_url, "o-chatty") if m["kind"] == "custom"]
    assert [m["content"] for m in custom] == ["您好！"]


def test_a_notified_distributor_has_their_card_cached_with_the_news(wired, sim_url):
    """Their next message is likely `收益`: it is answered without the database."""
    from infra.redis_client import get_redis
    from services import sender_cards
    from tests.factories import make_paid_order, make_product, make_shopper

    distributor = make_distributor()
    openid = distributor.user.openid
    follower(sim_url, openid)
    make_paid_order(make_shopper(distributor), [(make_product(5_000).id, 1)])
    event = db.session.scalar(select(DomainEvent).where(DomainEvent.kind == "commission_pending"))
    assert not get_redis().exists(sender_cards.card_key(openid))
    assert notify(event.id) == "sent"
    _day, row = sender_cards.decode(get_redis().get(sender_cards.card_key(openid)).decode())
    assert row[1] == openid and row[8] == 500  # pending: 10 % of ¥50.00

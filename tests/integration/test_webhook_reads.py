"""Read-only commands (`收益`, `团队`, `帮助`): answered first, then published under the
de-duplication key unless another delivery published first (bot.dedup.answer_read_only)."""

from __future__ import annotations

import pytest
import redis
from defusedxml import ElementTree as SafeET

from bot.dispatch import read_only
from infra.redis_client import get_redis
from services.users import SEEN_QUEUE
from tests.factories import make_earner, make_paid_order, make_product, make_shopper
from tests.support import wechat as w
from tests.support.postgres import end_hot_read_connections


def content(data: bytes) -> str:
    return SafeET.fromstring(data).findtext("Content")


@pytest.fixture
def earner(ctx):
    distributor = make_earner(30_000)
    return distributor.user.openid, distributor


@pytest.mark.parametrize(
    ("xml", "expected"),
    [
        (w.text_xml("o", "收益"), True),
        (w.text_xml("o", "Earnings"), True),
        (w.text_xml("o", "团队"), True),
        (w.text_xml("o", "帮助"), True),
        (w.event_xml("o", "CLICK", "EARNINGS"), True),
        (w.event_xml("o", "CLICK", "TEAM"), True),
        (w.text_xml("o", "提现 50"), False),
        (w.text_xml("o", "申请"), False),
        (w.text_xml("o", "海报"), False),
        (w.text_xml("o", "收益 多少"), False),
        (w.event_xml("o", "CLICK", "WITHDRAW"), False),
        (w.event_xml("o", "subscribe", "qrscene_d_abc"), False),
    ],
)
def test_only_commands_whose_handlers_only_read_take_the_read_path(xml, expected):
    from bot.inbound import to_message, xml_to_dict

    assert read_only(to_message(xml_to_dict(xml))) is expected


def test_three_deliveries_at_once_get_one_answer_and_one_published_key(app, earner):
    openid, _distributor = earner
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777001))
    answers = w.deliver_at_once(app, url, body)
    assert len(answers) == 3 and len(set(answers)) == 1
    assert "可提现：¥300.00" in content(answers[0])
    client = get_redis()
    assert client.get("wechat:dedup:msg:777001").decode() == answers[0].decode()


def test_a_retry_gets_the_published_answer_even_after_the_figures_changed(app, ctx, earner):
    openid, distributor = earner
    client = app.test_client()
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777002))
    first = client.post(url, data=body).data
    assert "待结算：¥0.00" in content(first)
    # A sale earns a pending commission before WeChat's retry: the retry still gets the first
    # answer...
    make_paid_order(make_shopper(distributor), [(make_product(5_000).id, 1)])
    assert client.post(url, data=body).data == first
    # ...and a new message sees the new figures.
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777003))
    assert "待结算：¥5.00" in content(client.post(url, data=body).data)


def test_the_interaction_time_travels_with_the_answer(app, earner):
    openid, _ = earner
    get_redis().delete(SEEN_QUEUE)
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777004))
    app.test_client().post(url, data=body)
    queued = [item.decode() for item in get_redis().lrange(SEEN_QUEUE, 0, -1)]
    assert len(queued) == 1 and queued[0].endswith(":" + openid)


def test_redis_down_on_a_read_answers_busy(database_url, tmp_path):
    from infra.redis_server import EmbeddedRedis
    from tests.conftest import test_config
    from web import create_app

    server = EmbeddedRedis(tmp_path / "doomed").start()
    app = create_app(test_config(database_url, server.url, tmp_path / "i"))
    server.stop()
    url, body = w.plain_request(w.text_xml("o-busy-read", "帮助"))
    response = app.test_client().post(url, data=body)
    assert response.status_code == 200
    assert "系统繁忙" in content(response.data)
    with pytest.raises(redis.RedisError):
        redis.Redis.from_url(server.url).ping()


def test_a_redis_that_lost_its_scripts_still_answers(app, earner):
    """After a Redis restart (or SCRIPT FLUSH) EVALSHA fails with NOSCRIPT; the call falls
    back to EVAL, which loads the script again."""
    openid, _ = earner
    client = app.test_client()
    for n, command in enumerate(["收益", "提现 1"]):  # the read path, then the claim path
        get_redis().script_flush()
        url, body = w.plain_request(w.text_xml(openid, command, msgid=777100 + n))
        first = client.post(url, data=body).data
        assert content(first) and "系统繁忙" not in content(first)
        assert client.post(url, data=body).data == first


def test_a_killed_redis_connection_is_replaced_without_a_busy_answer(app, earner, redis_url):
    """The de-duplication scripts run on a connection each serving thread keeps; when Redis
    drops it (restart, `CLIENT KILL`, an idle timeout), the next message reconnects."""
    openid, _ = earner
    client = app.test_client()
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777201))
    assert "可提现：¥300.00" in content(client.post(url, data=body).data)
    killer = redis.Redis.from_url(redis_url)
    assert killer.client_kill_filter(_type="normal", skipme=True) >= 1
    killer.close()
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777202))
    answer = content(client.post(url, data=body).data)
    assert "可提现：¥300.00" in answer and "系统繁忙" not in answer
    assert get_redis().exists("wechat:dedup:msg:777202")


def test_a_dropped_database_connection_is_replaced_for_the_next_read(app, earner):
    """On PostgreSQL the sender is read on a connection each serving thread keeps; when the
    server ends it (restart, idle timeout), the read reconnects and runs once more."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite reads through the app's session")
    openid, _ = earner
    client = app.test_client()
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777301))
    assert "可提现：¥300.00" in content(client.post(url, data=body).data)
    assert end_hot_read_connections(app.config["DATABASE_URL"]) >= 1
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777302))
    answer = content(client.post(url, data=body).data)
    assert "可提现：¥300.00" in answer, answer


def test_a_prepared_read_outdated_by_a_migration_is_prepared_again(app, earner):
    """A column whose type changes under the prepared statement makes PostgreSQL refuse it
    ("cached plan must not change result type"); the read starts over on a new connection."""
    import psycopg

    from models import db

    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite reads through the app's session")
    openid, _ = earner
    client = app.test_client()
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777401))
    assert "可提现：¥300.00" in content(client.post(url, data=body).data)
    db.session.remove()  # the test's own session must not hold a lock on users
    with psycopg.connect(app.config["DATABASE_URL"], autocommit=True) as admin:
        admin.execute("SET lock_timeout = '5s'")
        original = admin.execute(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'users'::regclass AND attname = 'language'"
        ).fetchone()[0]
        admin.execute("ALTER TABLE users ALTER COLUMN language TYPE text")
        try:
            url, body = w.plain_request(w.text_xml(openid, "收益", msgid=777402))
            answer = content(client.post(url, data=body).data)
        finally:
            admin.execute(f"ALTER TABLE users ALTER COLUMN language TYPE {original}")
    assert "可提现：¥300.00" in answer, answer

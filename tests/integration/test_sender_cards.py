"""Sender cards (services.sender_cards): `收益` and `帮助` answered from the sender's card in
Redis, and every write that changes what a card holds invalidating it after commit."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from defusedxml import ElementTree as SafeET

from bot import dedup
from infra.clock import china_day, now
from infra.redis_client import get_redis
from models import User, db
from services import distributors, orders, sender_cards, users, withdrawals
from services.settlement import settle_matured
from tests.factories import make_earner, make_paid_order, make_product, make_shopper, mature
from tests.support import wechat as w


def content(data: bytes) -> str:
    return SafeET.fromstring(data).findtext("Content")


def ask(app, openid: str, command: str = "收益", msgid: int | None = None) -> str:
    url, body = w.plain_request(w.text_xml(openid, command, msgid=msgid))
    response = app.test_client().post(url, data=body)
    assert response.status_code == 200
    return content(response.data)


def version(openid: str) -> int:
    return int(get_redis().get(sender_cards.version_key(openid)) or 0)


def has_card(openid: str) -> bool:
    return bool(get_redis().exists(sender_cards.card_key(openid)))


@pytest.fixture
def earner(ctx):
    distributor = make_earner(30_000, withdraw_auto_approve_max_fen=None)
    return distributor.user.openid, distributor


@pytest.fixture
def no_database_reads(monkeypatch):
    """Any sender read from the database fails the answer (handlers answer 'error' instead)."""

    def refuse(*_args):
        raise AssertionError("the sender was read from the database")

    def install():
        monkeypatch.setattr(users, "sender_row", refuse)

    return install


def test_the_next_earnings_message_is_answered_from_the_card(app, earner, no_database_reads):
    openid, _ = earner
    assert not has_card(openid)
    assert "可提现：¥300.00" in ask(app, openid)  # read from the database, card cached
    assert has_card(openid)
    no_database_reads()
    answer = ask(app, openid)
    assert "可提现：¥300.00" in answer and "今日收益" in answer
    assert ask(app, openid, "帮助").startswith("分销助手可以帮您")


def test_every_delivery_of_a_card_answer_gets_the_same_bytes(app, earner, monkeypatch):
    """The card is published with the reply's time, so a retry seconds later renders the
    same reply, CreateTime included."""
    openid, _ = earner
    ask(app, openid)  # cache the card
    client = app.test_client()
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=880001))
    first = client.post(url, data=body).data
    assert get_redis().get("wechat:dedup:msg:880001").startswith(dedup.SNAPSHOT)
    later = time.time() + 7
    monkeypatch.setattr(time, "time", lambda: later)
    assert client.post(url, data=body).data == first
    assert f"<CreateTime>{int(later)}</CreateTime>" not in first.decode()


def test_three_deliveries_at_once_from_the_card_get_one_answer(app, earner):
    openid, _ = earner
    ask(app, openid)
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=880002))
    answers = w.deliver_at_once(app, url, body)
    assert len(set(answers)) == 1 and "可提现：¥300.00" in content(answers[0])


def _sale(distributor):
    return make_paid_order(make_shopper(distributor), [(make_product(5_000).id, 1)])


def _nothing(_distributor):
    return None


def _settle(_distributor, _order):
    settle_matured()


def _withdraw(distributor, _order):
    withdrawals.request_withdrawal(distributor.id, 10_000)


def _refund(_distributor, order):
    orders.refund_order(order.id, "rf-card")


@pytest.mark.parametrize(
    ("setup", "step", "before", "after"),
    [
        (_nothing, lambda d, _o: _sale(d), "待结算：¥0.00", "待结算：¥5.00"),  # posting, day
        (lambda d: mature(_sale(d)), _settle, "可提现：¥300.00", "可提现：¥305.00"),  # a batch
        (_nothing, _withdraw, "可提现：¥300.00", "可提现：¥200.00"),  # a withdrawal's hold
        (_sale, _refund, "待结算：¥5.00", "待结算：¥0.00"),  # a reversal
    ],
    ids=["sale", "settlement", "withdrawal", "refund"],
)
def test_a_commit_that_moves_money_invalidates_the_card(app, earner, setup, step, before, after):
    openid, distributor = earner
    order = setup(distributor)
    assert before in ask(app, openid)
    assert has_card(openid)
    seen = version(openid)
    step(distributor, order)
    assert not has_card(openid) and version(openid) > seen
    assert after in ask(app, openid)
    assert has_card(openid)  # cached again from the new figures


def test_a_profile_change_invalidates_the_card(app, earner):
    openid, _ = earner
    assert "可提现" in ask(app, openid)
    users.update_profile(openid, {"language": "en", "nickname": "Ann"})
    assert not has_card(openid)
    with app.app_context():  # Flask-Babel keeps a locale per app context; a request has its own
        answer = ask(app, openid)
    assert answer.startswith("Available: ¥300.00")


def test_a_status_change_invalidates_the_card(app, earner):
    openid, distributor = earner
    assert "可提现" in ask(app, openid)
    seen = version(openid)
    distributors.freeze(distributor.id, "testing")
    assert not has_card(openid) and version(openid) > seen
    ask(app, openid)
    _day, row = sender_cards.decode(get_redis().get(sender_cards.card_key(openid)).decode())
    assert row[5] == "frozen"


def test_a_card_read_before_a_commit_is_not_cached_after_its_invalidation(app, earner):
    """The race the version guards: a delivery reads the database, a commit lands and
    invalidates, then the delivery would cache what it read. It must not."""
    openid, _ = earner
    today = china_day(now())
    stale = sender_cards.encode(
        today, (1, openid, "x", "zh_CN", 1, "active", "c", 1, 2, 3, 4, 5, 6)
    )
    read = dedup.CardRead(
        sender_cards.card_key(openid),
        sender_cards.version_key(openid),
        today.isoformat(),
        int(time.time()),
        "",
    )

    def compute():
        sender_cards.invalidate([openid])  # a commit between the version read and the publish
        return "<xml>answer</xml>", stale

    answer = dedup.answer_from_card(get_redis(), "race-1", read, compute, lambda at, c: "no")
    assert answer == "<xml>answer</xml>"
    assert not has_card(openid)

    # Without a commit in between, the card is cached.
    answer = dedup.answer_from_card(
        get_redis(), "race-2", read, lambda: ("<xml>again</xml>", stale), lambda at, c: "no"
    )
    assert answer == "<xml>again</xml>" and has_card(openid)


def test_a_card_from_another_day_is_not_used(app, earner):
    openid, _ = earner
    yesterday = china_day(now()) - timedelta(days=1)
    wrong = (1, openid, "x", "zh_CN", 1, "active", "c", 999_999, 0, 0, 0, 0, 0)
    get_redis().set(sender_cards.card_key(openid), sender_cards.encode(yesterday, wrong))
    assert "可提现：¥300.00" in ask(app, openid)
    card_day, _row = sender_cards.decode(get_redis().get(sender_cards.card_key(openid)).decode())
    assert card_day == china_day(now())


def test_a_savepoint_does_not_invalidate_before_the_outer_commit(app, earner):
    openid, _ = earner
    ask(app, openid)
    seen = version(openid)
    user = db.session.query(User).filter_by(openid=openid).one()
    with db.session.begin_nested():
        user.nickname = "renamed"
    assert version(openid) == seen and has_card(openid)
    db.session.commit()
    assert version(openid) > seen and not has_card(openid)


def test_a_rolled_back_write_leaves_the_card(app, earner):
    openid, _ = earner
    ask(app, openid)
    seen = version(openid)
    user = db.session.query(User).filter_by(openid=openid).one()
    user.nickname = "never"
    db.session.flush()
    db.session.rollback()
    db.session.commit()  # nothing left to commit: no invalidation either
    assert version(openid) == seen and has_card(openid)


def test_redis_down_at_invalidation_keeps_the_commit_and_logs(database_url, tmp_path, caplog):
    from infra.redis_server import EmbeddedRedis
    from tests.conftest import test_config
    from web import create_app

    server = EmbeddedRedis(tmp_path / "doomed").start()
    app = create_app(test_config(database_url, server.url, tmp_path / "i"))
    server.stop()
    with app.app_context(), caplog.at_level(logging.ERROR, logger="services.sender_cards"):
        user_id = distributors.get_or_create_user("o-card-down").id
        users.update_profile("o-card-down", {"nickname": "kept"})
        db.session.remove()
        assert db.session.get(User, user_id).nickname == "kept"
    assert "could not invalidate" in caplog.text


def test_a_warmed_card_answers_the_next_message(app, earner, no_database_reads):
    openid, distributor = earner
    _sale(distributor)
    assert sender_cards.warm(openid) is True
    no_database_reads()
    assert "待结算：¥5.00" in ask(app, openid)


def test_warming_never_caches_a_card_a_commit_invalidated_during_its_read(app, earner, monkeypatch):
    openid, _ = earner
    read = users.sender_row  # services.hot_reads.sender_row, as warm() calls it

    def read_then_commit(*args):
        row = read(*args)
        sender_cards.invalidate([openid])  # a commit lands after the read, before the cache
        return row

    monkeypatch.setattr("services.hot_reads.sender_row", read_then_commit)
    assert sender_cards.warm(openid) is False
    assert not has_card(openid)


def test_warming_a_stranger_caches_nothing(app, ctx):
    assert sender_cards.warm("o-nobody") is False
    assert not has_card("o-nobody")


def test_a_change_to_nothing_a_card_holds_leaves_it(app, earner):
    openid, _ = earner
    ask(app, openid)
    seen = version(openid)
    distributors.get_or_create_user(openid, avatar_url="https://example.com/a.png")  # + seen time
    assert version(openid) == seen and has_card(openid)


@pytest.mark.parametrize(
    "card", ["{today}|not json", "{today}|[1,2]", "{today}|", "{today}"], ids=str
)
def test_an_unreadable_card_is_answered_from_the_database(app, earner, card):
    """A card this release cannot read (another release's, or damaged) never costs a 500."""
    openid, _ = earner
    today = china_day(now()).isoformat()
    get_redis().set(sender_cards.card_key(openid), card.format(today=today))
    url, body = w.plain_request(w.text_xml(openid, "收益", msgid=880100))
    client = app.test_client()
    response = client.post(url, data=body)
    assert response.status_code == 200
    assert "可提现：¥300.00" in content(response.data)
    assert "可提现：¥300.00" in content(client.post(url, data=body).data)  # and its retry

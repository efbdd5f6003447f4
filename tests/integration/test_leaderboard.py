"""The leaderboard ranks distributors by commission settled in the week or month (China time),
fed by settlement after commit and rebuilt from the database to the same result."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from infra.clock import CHINA, now
from infra.jobs import get_queue
from infra.redis_client import get_redis
from models.errors import InvalidQuery
from services import distributors, leaderboard, orders
from services.leaderboard import Rank, board, competition_ranks, period_key, period_range
from services.settlement import settle_matured
from tests.factories import (
    make_distributor,
    make_paid_order,
    make_product,
    make_shopper,
    make_user,
    mature,
    set_policy,
)
from workers import leaderboard as jobs

# --- the rules (no database) ---


@pytest.mark.parametrize(
    ("at", "week", "month"),
    [
        # Sunday 23:30 in China is still that week (and 15:30 UTC the same day).
        (datetime(2026, 12, 6, 23, 30, tzinfo=CHINA), "2026-W49", "2026-12"),
        # Monday 00:10 in China is the next week, though still Sunday in UTC.
        (datetime(2026, 12, 7, 0, 10, tzinfo=CHINA), "2026-W50", "2026-12"),
        # 1 January 00:30 in China is the new month and year while UTC is in December.
        (datetime(2027, 1, 1, 0, 30, tzinfo=CHINA), "2026-W53", "2027-01"),
    ],
)
def test_periods_are_china_weeks_and_months(at, week, month):
    assert period_key("week", at) == week
    assert period_key("month", at) == month


def test_a_period_key_is_its_china_time_range():
    assert period_range("2026-W49") == (
        "week",
        datetime(2026, 11, 30, 0, 0, tzinfo=CHINA).astimezone(UTC),
        datetime(2026, 12, 7, 0, 0, tzinfo=CHINA).astimezone(UTC),
    )
    assert period_range("2026-12") == (
        "month",
        datetime(2026, 12, 1, tzinfo=CHINA).astimezone(UTC),
        datetime(2027, 1, 1, tzinfo=CHINA).astimezone(UTC),
    )


@pytest.mark.parametrize("key", ["", "2026-W60", "2026-13", "2026-00", "week", "2026-W4"])
def test_a_period_key_that_is_none_is_refused(key):
    with pytest.raises(InvalidQuery):
        period_range(key)


def test_ties_share_a_competition_rank_and_are_listed_by_id():
    ranked = competition_ranks([(7, 100), (3, 300), (9, 200), (4, 200), (1, 50)])
    assert ranked == [(1, 3, 300), (2, 4, 200), (2, 9, 200), (4, 7, 100), (5, 1, 50)]


# --- the board (both databases, real Redis) ---


def sunday_night() -> datetime:
    """The next Sunday 23:30 in China time (commissions matured now are due by then)."""
    china = now().astimezone(CHINA)
    sunday = china + timedelta(days=(6 - china.weekday()) % 7)
    return sunday.replace(hour=23, minute=30, second=0, microsecond=0).astimezone(UTC)


def earn(distributor, commission_fen: int) -> None:
    """An order completed and matured that earns `distributor` commission_fen (10 % level 1)."""
    shopper = make_shopper(bound_to=distributor)
    mature(make_paid_order(shopper, [(make_product(price_fen=commission_fen * 10).id, 1)]))


def settle(at: datetime | None = None) -> int:
    """Settle what is due, then run the board jobs settlement enqueued (as a worker would)."""
    settled = settle_matured(at=at)
    run_board_jobs()
    return settled


def run_board_jobs() -> int:
    queued = [j for j in get_queue().jobs if j.func_name == "workers.leaderboard.add_transaction"]
    for job in queued:
        job.perform()
        job.delete()
    return len(queued)


def built(at: datetime) -> None:
    """Build the week and month of `at` first, so what follows is fed incrementally."""
    for period in leaderboard.PERIODS:
        assert leaderboard.rebuild(period_key(period, at)) == 0


def redis_board(key: str) -> list:
    return get_redis().zrange(leaderboard.board_key(key), 0, -1, withscores=True)


def test_settled_commission_ranks_highest_first_with_ties_alike(ctx):
    at = sunday_night()
    built(at)
    a, b, c, d = (make_distributor(nickname=f"分销{n}") for n in "ABCD")
    for who, fen in ((a, 300), (b, 200), (c, 200), (d, 100)):
        earn(who, fen)
    settle(at)

    got = board(d.id, at=at)
    assert got.period == "week" and got.period_key == period_key("week", at)
    assert [(r.rank, r.distributor_id, r.settled_fen) for r in got.top] == [
        (1, a.id, 300),
        (2, b.id, 200),
        (2, c.id, 200),
        (4, d.id, 100),
    ]
    assert got.mine == Rank(4, d.id, "分**", 100)
    assert board(c.id, at=at).mine.rank == 2


def test_rebuild_from_the_database_equals_the_fed_board_and_is_idempotent(ctx):
    at = sunday_night()
    built(at)
    people = [make_distributor() for _ in range(4)]
    for n, who in enumerate(people):
        earn(who, 100 * (n % 3 + 1))
    earn(people[0], 50)  # two commissions for one beneficiary
    settle(at)
    fed = {
        p: (board(people[0].id, p, at=at), redis_board(period_key(p, at)))
        for p in ("week", "month")
    }

    for _run in range(2):
        for period in ("week", "month"):
            assert leaderboard.rebuild(period_key(period, at)) == 4
            assert (board(people[0].id, period, at=at), redis_board(period_key(period, at))) == fed[
                period
            ]
    assert fed["week"][0].mine.settled_fen == 150


def test_my_rank_is_given_outside_the_top_50(ctx):
    at = now()
    built(at)
    set_policy(application_policy="auto")
    people = [distributors.apply(make_user().id) for _ in range(56)]
    # The first settled most; the last 3 tie below the top 50.
    fed = {p.id: 10_000 - 10 * n for n, p in enumerate(people[:53])}
    fed |= {p.id: 100 for p in people[53:]}
    get_redis().zadd(leaderboard.board_key(period_key("week", at)), fed)  # as if settled

    got = board(people[-1].id, at=at)
    assert len(got.top) == 50
    assert [r.rank for r in got.top] == list(range(1, 51))
    assert got.top[0].distributor_id == people[0].id and got.top[0].settled_fen == 10_000
    assert got.mine.rank == 54 and got.mine.settled_fen == 100
    assert board(people[-2].id, at=at).mine.rank == 54  # a tie outside the top shares it too
    assert board(people[52].id, at=at).mine.rank == 53


def test_a_distributor_who_settled_nothing_has_no_rank(ctx):
    at = sunday_night()
    earner, idle = make_distributor(), make_distributor()
    earn(earner, 100)
    settle(at)
    got = board(idle.id, at=at)
    assert got.mine is None
    assert [r.distributor_id for r in got.top] == [earner.id]


def test_nicknames_are_masked_unless_the_merchant_turns_that_off(ctx):
    at = sunday_night()
    zhang = make_distributor(nickname="张三丰")
    earn(zhang, 100)
    settle(at)
    assert board(zhang.id, at=at).top[0].nickname == "张**"
    assert board(zhang.id, at=at).mine.nickname == "张**"

    set_policy(leaderboard_masks_nicknames=False)
    assert board(zhang.id, at=at).top[0].nickname == "张三丰"
    assert board(zhang.id, at=at).mine.nickname == "张三丰"


def test_the_merchant_turns_masking_off_and_on_from_the_command_line(ctx, app):
    from web.engine_cli import leaderboard_command

    at = sunday_night()
    zhang = make_distributor(nickname="张三丰")
    earn(zhang, 100)
    settle(at)
    runner = app.test_cli_runner()
    shown = runner.invoke(leaderboard_command, ["shown"])
    assert shown.exit_code == 0 and "leaderboard nicknames shown" in shown.output
    assert board(zhang.id, at=at).top[0].nickname == "张三丰"
    assert runner.invoke(leaderboard_command, ["masked"]).exit_code == 0
    assert board(zhang.id, at=at).top[0].nickname == "张**"
    assert runner.invoke(leaderboard_command, ["everyone"]).exit_code != 0


def test_a_settlement_at_sunday_2330_china_time_belongs_to_that_week(ctx):
    at = sunday_night()
    who = make_distributor()
    earn(who, 120)
    built(at)
    built(at + timedelta(hours=1))
    settle(at)

    assert board(who.id, at=at).mine.settled_fen == 120
    monday = board(who.id, at=at + timedelta(hours=1))  # Monday 00:30: a new week
    assert monday.period_key != period_key("week", at) and monday.mine is None
    # The database agrees: the rebuild puts it in the same week, not the next.
    leaderboard.rebuild(period_key("week", at))
    leaderboard.rebuild(period_key("week", at + timedelta(hours=1)))
    assert board(who.id, at=at).mine.settled_fen == 120
    assert board(who.id, at=at + timedelta(hours=1)).mine is None


def test_the_month_board_counts_the_china_month(ctx):
    at = sunday_night()
    who = make_distributor()
    earn(who, 80)
    settle(at)
    got = board(who.id, "month", at=at)
    china = at.astimezone(CHINA)
    assert got.period == "month" and got.period_key == f"{china.year}-{china.month:02d}"
    assert got.mine == Rank(1, who.id, got.mine.nickname, 80)


def test_a_period_never_built_is_built_from_the_database_when_read(ctx):
    at = sunday_night()
    who = make_distributor()
    earn(who, 70)
    settle(at)
    get_redis().flushdb()  # Redis lost everything
    assert board(who.id, at=at).mine.settled_fen == 70
    assert board(who.id, "month", at=at).mine.settled_fen == 70


def test_a_refund_of_settled_commission_comes_off_the_board_once(ctx):
    at = now()
    built(at)
    who, other = make_distributor(), make_distributor()
    shopper = make_shopper(bound_to=who)
    order = make_paid_order(shopper, [(make_product(price_fen=2_000).id, 1)])
    mature(order)
    earn(other, 150)
    settle(at)
    assert board(who.id, at=at).mine.settled_fen == 200

    orders.refund_order(order.id, "rf-lb-1", amount_fen=500)
    [job] = [j for j in get_queue().jobs if j.func_name == "workers.leaderboard.add_transaction"]
    txn = job.args[0]
    assert leaderboard.settled_in(period_key("week", at))[1][who.id] == 150  # the database
    assert jobs.add_transaction(txn) == 2  # the week and the month
    assert jobs.add_transaction(txn) == 0  # run again: nothing more
    job.delete()
    assert board(who.id, at=at).mine.settled_fen == 150
    assert board(who.id, "month", at=at).mine.settled_fen == 150
    assert board(who.id, at=at).mine.rank == 1  # ties with other

    orders.refund_order(order.id, "rf-lb-2")  # the rest: nothing settled is left
    assert run_board_jobs() == 1
    assert board(who.id, at=at).mine is None
    fed = redis_board(period_key("week", at))
    leaderboard.rebuild(period_key("week", at))
    assert redis_board(period_key("week", at)) == fed


def test_the_hourly_job_rebuilds_this_period_and_readies_the_next(ctx):
    who = make_distributor()
    earn(who, 60)
    settle()
    get_redis().flushdb()
    assert jobs.rebuild_current() == [1, 1]
    assert board(who.id).mine.settled_fen == 60
    soon = now() + timedelta(days=8)
    for key in leaderboard.current_keys(soon):
        if leaderboard.prepare(key):  # a period not started yet: built empty, no scan
            assert get_redis().exists(leaderboard.board_key(key) + ":built")
    assert jobs.rebuild(period_key("week", now())) == 1


def test_an_unknown_period_is_an_invalid_query(ctx):
    who = make_distributor()
    with pytest.raises(InvalidQuery):
        board(who.id, "year")
    with pytest.raises(InvalidQuery):
        jobs.rebuild("2026-13")


def test_a_feed_job_lost_or_late_is_counted_once_by_the_rebuild(ctx):
    at = sunday_night()
    built(at)
    who = make_distributor()
    earn(who, 90)
    assert settle_matured(at=at) == 1  # its board job is not run (lost, or not yet)
    assert board(who.id, at=at).mine is None
    leaderboard.rebuild(period_key("week", at))
    assert board(who.id, at=at).mine.settled_fen == 90  # the rebuild counts it...
    run_board_jobs()
    assert board(who.id, at=at).mine.settled_fen == 90  # ...and the late job adds nothing


def test_a_batch_fed_while_a_rebuild_runs_is_in_the_rebuilt_board(ctx, monkeypatch):
    at = sunday_night()
    built(at)
    first, second = make_distributor(), make_distributor()
    earn(first, 100)
    settle(at)
    earn(second, 40)
    snapshot = leaderboard.settled_in

    def settle_during_the_rebuild(key):
        taken = snapshot(key)
        settle(at)  # committed after the snapshot, fed before the swap
        return taken

    monkeypatch.setattr(leaderboard, "settled_in", settle_during_the_rebuild)
    assert leaderboard.rebuild(period_key("week", at)) == 2
    monkeypatch.undo()
    got = board(second.id, at=at)
    assert [(r.distributor_id, r.settled_fen) for r in got.top] == [
        (first.id, 100),
        (second.id, 40),
    ]
    fed = redis_board(period_key("week", at))
    leaderboard.rebuild(period_key("week", at))
    assert redis_board(period_key("week", at)) == fed

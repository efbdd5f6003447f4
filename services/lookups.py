"""Read-only look-ups for a distributor (收益 / 团队): a handful of indexed reads each, whatever
the size of the team."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from models import Distributor, DistributorDay, User, db
from models.ledger import AVAILABLE, HELD, PAID_OUT, PENDING
from services.common import china_day, now
from services.distributors import newest_team_members
from services.ledger import balances


@dataclass(frozen=True)
class Earnings:
    available_fen: int
    pending_fen: int
    held_fen: int
    withdrawn_fen: int
    today_fen: int
    month_fen: int


@dataclass(frozen=True)
class TeamMember:
    distributor_id: int
    level: int
    nickname: str


@dataclass(frozen=True)
class Team:
    level_counts: tuple[int, int, int]
    newest: list[TeamMember]
    own_sales_month_fen: int
    team_sales_month_fen: int


def _month_rows(distributor_id: int, today: date):
    return select(
        func.coalesce(func.sum(DistributorDay.earned_fen), 0),
        func.coalesce(func.sum(DistributorDay.own_sales_fen), 0),
        func.coalesce(func.sum(DistributorDay.team_sales_fen), 0),
    ).where(
        DistributorDay.distributor_id == distributor_id,
        DistributorDay.day >= today.replace(day=1),
        DistributorDay.day <= today,
    )


def earnings(distributor_id: int) -> Earnings:
    today = china_day(now())
    accounts = balances(distributor_id)
    today_fen = db.session.scalar(
        select(DistributorDay.earned_fen).where(
            DistributorDay.distributor_id == distributor_id, DistributorDay.day == today
        )
    )
    month_fen = db.session.execute(_month_rows(distributor_id, today)).one()[0]
    return Earnings(
        accounts[AVAILABLE], accounts[PENDING], accounts[HELD], accounts[PAID_OUT],
        today_fen or 0, month_fen,
    )  # fmt: skip


def team(distributor_id: int, newest: int = 5) -> Team:
    counts = db.session.execute(
        select(Distributor.team_l1_count, Distributor.team_l2_count, Distributor.team_l3_count)
        .where(Distributor.id == distributor_id)
    ).one()  # fmt: skip
    members = newest_team_members(distributor_id, newest)
    names = dict(
        db.session.execute(
            select(Distributor.id, User.nickname)
            .join(User, User.id == Distributor.user_id)
            .where(Distributor.id.in_([m[0] for m in members]))
        ).all()
    ) if members else {}  # fmt: skip
    _earned, own, team_sales = db.session.execute(
        _month_rows(distributor_id, china_day(now()))
    ).one()
    return Team(
        tuple(counts),
        [TeamMember(did, level, names.get(did, "")) for did, level in members],
        own,
        team_sales,
    )

"""The commission rule set in force (versioned), tiers' rates, and campaign multipliers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from infra.db import unit_of_work
from models import CommissionCampaign, RuleSet, db
from models.commission import Campaign, Rule

DEFAULT_RULE = Rule(version=0)


def active_rule() -> Rule:
    """The newest rule-set version, or the built-in default (2 levels, 10 % / 5 %)."""
    row = db.session.scalar(select(RuleSet).order_by(RuleSet.version.desc()).limit(1))
    return row.to_rule() if row else DEFAULT_RULE


def rule_version(version: int) -> Rule:
    row = db.session.scalar(select(RuleSet).where(RuleSet.version == version))
    return row.to_rule() if row else DEFAULT_RULE


def publish_rule_set(
    levels: int,
    rates_bps: tuple[int, int, int],
    max_share_bps: int = DEFAULT_RULE.max_share_bps,
    self_purchase: bool = False,
    freeze_days: int = DEFAULT_RULE.freeze_days,
    note: str = "",
) -> Rule:
    """Validate and store a new rule-set version (InvalidRule on 4 levels, > 100 %, ...)."""
    with unit_of_work():
        version = (db.session.scalar(select(func.max(RuleSet.version))) or 0) + 1
        rule = Rule(version, levels, tuple(rates_bps), max_share_bps, self_purchase, freeze_days)
        db.session.add(
            RuleSet(
                version=version,
                levels=levels,
                l1_bps=rates_bps[0],
                l2_bps=rates_bps[1],
                l3_bps=rates_bps[2],
                max_share_bps=max_share_bps,
                self_purchase=self_purchase,
                freeze_days=freeze_days,
                note=note,
            )
        )
    return rule


def campaigns_at(at: datetime) -> list[Campaign]:
    rows = db.session.scalars(
        select(CommissionCampaign).where(
            CommissionCampaign.starts_at <= at, CommissionCampaign.ends_at > at
        )
    )
    return [row.to_campaign() for row in rows]

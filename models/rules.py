"""Commission rule sets (versioned) and campaign multipliers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TZDateTime, utcnow
from models.commission import MAX_LEVELS, Campaign, Rule


class RuleSet(Base):
    """One version of the commission rules. Rows are never edited: a change is a new version,
    and every commission keeps the version it used."""

    __tablename__ = "rule_sets"
    __table_args__ = (CheckConstraint(f"levels BETWEEN 1 AND {MAX_LEVELS}", name="levels"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    levels: Mapped[int] = mapped_column(Integer)
    l1_bps: Mapped[int] = mapped_column(Integer)
    l2_bps: Mapped[int] = mapped_column(Integer)
    l3_bps: Mapped[int] = mapped_column(Integer)
    max_share_bps: Mapped[int] = mapped_column(Integer)
    self_purchase: Mapped[bool] = mapped_column(Boolean)
    freeze_days: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    def to_rule(self) -> Rule:
        return Rule(
            version=self.version,
            levels=self.levels,
            rates_bps=(self.l1_bps, self.l2_bps, self.l3_bps),
            max_share_bps=self.max_share_bps,
            self_purchase=self.self_purchase,
            freeze_days=self.freeze_days,
        )


class CommissionCampaign(Base):
    """A time-boxed multiplier, e.g. double commission over a holiday (20000 bps = 2x)."""

    __tablename__ = "commission_campaigns"
    __table_args__ = (
        CheckConstraint("multiplier_bps > 0", name="multiplier"),
        CheckConstraint("ends_at > starts_at", name="window"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    multiplier_bps: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(TZDateTime)
    ends_at: Mapped[datetime] = mapped_column(TZDateTime, index=True)
    product_ids: Mapped[list] = mapped_column(JSON, default=list)  # empty: every product

    def to_campaign(self) -> Campaign:
        return Campaign(
            self.multiplier_bps, self.starts_at, self.ends_at, frozenset(self.product_ids or ())
        )

"""The console's first page: what needs the merchant today, as counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select

from infra.clock import now
from models import Distributor, Product, RefundRequest, Sku, Withdrawal, db
from models.catalog import LOW_STOCK

FAILED_PAYOUT_DAYS = 7  # failed payouts of the last week are worth a look (retry or explain)


@dataclass(frozen=True)
class Todo:
    applications: int  # waiting for review
    withdrawals: int  # requested, waiting for review
    refunds: int  # requested by shoppers, waiting for a decision
    low_stock: int  # SKUs on sale at or under LOW_STOCK
    failed_payouts: int  # withdrawals whose payout failed in the last week
    stuck_refunds: int  # approved refunds that WeChat refused (failed), to retry

    @property
    def total(self) -> int:
        return (
            self.applications
            + self.withdrawals
            + self.refunds
            + self.low_stock
            + self.failed_payouts
            + self.stuck_refunds
        )


def todo() -> Todo:
    def count(query) -> int:
        return db.session.scalar(select(func.count()).select_from(query.subquery())) or 0

    since = now() - timedelta(days=FAILED_PAYOUT_DAYS)
    return Todo(
        applications=count(select(Distributor.id).where(Distributor.status == "pending")),
        withdrawals=count(select(Withdrawal.id).where(Withdrawal.status == "requested")),
        refunds=count(select(RefundRequest.id).where(RefundRequest.status == "requested")),
        low_stock=count(
            select(Sku.id)
            .join(Product, Product.id == Sku.product_id)
            .where(Product.on_sale.is_(True), Sku.on_sale.is_(True), Sku.stock <= LOW_STOCK)
        ),
        failed_payouts=count(
            select(Withdrawal.id).where(
                Withdrawal.status == "failed", Withdrawal.failed_at >= since
            )
        ),
        stuck_refunds=count(select(RefundRequest.id).where(RefundRequest.status == "failed")),
    )

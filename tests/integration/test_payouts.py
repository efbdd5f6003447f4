"""The payout job through the provider interface, with a recording test double."""

from __future__ import annotations

import pytest

from infra.jobs import get_queue
from models import DomainEvent, Withdrawal, db
from services import withdrawals
from services.ledger import balances, reconcile
from tests.factories import (
    make_earner,
)
from wechat.payouts import TransferResult, TransientPayoutError, use_payout_provider
from workers.payouts import pay_withdrawal, retry_stuck_payouts
from workers.worker import build_worker


class RecordingProvider:
    """Plays WeChat Pay: answers from a script, and is idempotent on the out-bill number."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls = []
        self.paid: dict[str, str] = {}

    def transfer(self, request):
        self.calls.append(request)
        if request.out_bill_no in self.paid:
            return TransferResult(True, self.paid[request.out_bill_no])
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "transient":
            raise TransientPayoutError("SYSTEMERROR")
        if outcome == "ok":
            self.paid[request.out_bill_no] = f"pay-{len(self.paid) + 1}"
            return TransferResult(True, self.paid[request.out_bill_no])
        return TransferResult(False, reason=outcome)


@pytest.fixture
def funded(ctx):
    return make_earner(10_000, withdraw_auto_approve_max_fen=None, payout_channel="wechat_v2")


def approved(distributor, fen=5_000):
    withdrawal = withdrawals.request_withdrawal(distributor.id, fen)
    withdrawals.approve_withdrawal(withdrawal.id)
    return withdrawal


def test_success_moves_held_to_paid_out_once(ctx, funded):
    provider = RecordingProvider("ok")
    use_payout_provider(ctx, provider)
    withdrawal = approved(funded)
    assert pay_withdrawal(withdrawal.id) == "paid"
    assert pay_withdrawal(withdrawal.id) == "nothing to do"
    assert len(provider.calls) == 1
    assert provider.calls[0].out_bill_no == withdrawal.out_bill_no
    assert provider.calls[0].openid == funded.user.openid
    assert balances(funded.id) == {"pending": 0, "available": 5_000, "held": 0, "paid_out": 5_000}
    assert db.session.get(Withdrawal, withdrawal.id).provider_ref == "pay-1"
    assert reconcile().ok


def test_definitive_failure_returns_the_funds_and_records_the_reason(ctx, funded):
    use_payout_provider(ctx, RecordingProvider("NOTENOUGH: 商户余额不足"))
    withdrawal = approved(funded)
    assert pay_withdrawal(withdrawal.id) == "failed"
    row = db.session.get(Withdrawal, withdrawal.id)
    assert row.reason == "NOTENOUGH: 商户余额不足"
    assert balances(funded.id)["available"] == 10_000
    assert balances(funded.id)["held"] == 0
    kinds = [e.kind for e in db.session.query(DomainEvent).order_by(DomainEvent.id)]
    assert kinds[-1] == "withdrawal_failed"
    assert reconcile().ok


def test_unknown_outcome_retries_with_the_same_out_bill_number(ctx, funded):
    provider = RecordingProvider("transient", "ok")
    use_payout_provider(ctx, provider)
    withdrawal = approved(funded)
    with pytest.raises(TransientPayoutError):
        pay_withdrawal(withdrawal.id)
    assert db.session.get(Withdrawal, withdrawal.id).status == "paying"
    assert balances(funded.id)["held"] == 5_000
    assert pay_withdrawal(withdrawal.id) == "paid"
    assert [c.out_bill_no for c in provider.calls] == [withdrawal.out_bill_no] * 2
    assert db.session.get(Withdrawal, withdrawal.id).attempts == 2


def test_a_transfer_that_succeeded_before_a_crash_is_recorded_not_repeated(ctx, funded):
    provider = RecordingProvider("ok")
    use_payout_provider(ctx, provider)
    withdrawal = approved(funded)
    request = withdrawals.start_payout(withdrawal.id)
    provider.transfer(request)  # paid at the provider, then the job died before recording
    assert pay_withdrawal(withdrawal.id) == "paid"
    assert len(provider.paid) == 1
    assert balances(funded.id)["paid_out"] == 5_000


def test_the_job_retries_through_rq_after_commit(ctx, funded):
    provider = RecordingProvider("transient", "ok")
    use_payout_provider(ctx, provider)
    withdrawal = approved(funded)
    job = get_queue("default").fetch_job(f"payout-{withdrawal.out_bill_no}")
    assert job is not None, "approval enqueues the payout after commit"
    assert job.retries_left == 3
    job.retry_intervals = [0]  # retry at once instead of in 10 s
    job.save()
    build_worker(ctx, queues=["default"]).work(burst=True)
    db.session.rollback()  # end this test's read snapshot to see the worker's commits
    assert db.session.get(Withdrawal, withdrawal.id).status == "paid"
    assert [c.out_bill_no for c in provider.calls] == [withdrawal.out_bill_no] * 2


def test_stuck_payouts_are_swept_back_onto_the_queue(ctx, funded):
    from datetime import timedelta

    from infra.clock import now

    withdrawal = approved(funded)
    row = db.session.get(Withdrawal, withdrawal.id)
    row.reviewed_at = now() - timedelta(hours=1)
    db.session.commit()
    get_queue("default").empty()
    assert retry_stuck_payouts() == 1
    assert get_queue("default").count == 1

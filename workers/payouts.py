"""The payout job: transfer a withdrawal with its out-bill number as the idempotency key."""

from __future__ import annotations

import logging

from infra.jobs import get_queue
from services import withdrawals
from wechat.payouts import TransientPayoutError, payout_provider

log = logging.getLogger(__name__)


def pay_withdrawal(withdrawal_id: int) -> str:
    """Safe to run any number of times: a paid or failed withdrawal is left alone, and a repeat
    transfer with the same out-bill number is the same transfer at the provider."""
    request = withdrawals.start_payout(withdrawal_id)
    if request is None:
        return "nothing to do"
    try:
        result = payout_provider().transfer(request)
    except TransientPayoutError:
        log.warning("payout %s: outcome unknown, will retry", request.out_bill_no)
        raise  # RQ's Retry runs this job again; the sweep below catches a lost job
    return withdrawals.finish_payout(withdrawal_id, result).status


def retry_stuck_payouts() -> int:
    """Re-enqueue wallet payouts whose job was lost or exhausted its retries."""
    ids = withdrawals.stuck_payouts()
    for withdrawal_id in ids:
        get_queue("default").enqueue(pay_withdrawal, withdrawal_id)
    return len(ids)

"""The payout jobs: a withdrawal's transfer, made with its out-bill number as the idempotency key
through the deployment's channel (商家转账 bills by default, or WeChat Pay v2), and the sweeps
that settle 商家转账 bills whose notify never came and cancel the ones never confirmed."""

from __future__ import annotations

import logging
from datetime import timedelta

from infra.jobs import get_queue
from models.transfer_bills import TRANSFER_BILLS
from services import withdrawals
from wechat.pay_v3 import PayOutcomeUnknown, PayRefused, TransferBill, pay_gateway
from wechat.payouts import TransientPayoutError, payout_provider

log = logging.getLogger(__name__)

# WeChat's answers when no bill exists under an out-bill number.
NO_BILL_CODES = {"NOT_FOUND", "RESOURCE_NOT_EXISTS"}


def pay_withdrawal(withdrawal_id: int) -> str:
    """Safe to run any number of times: a paid or failed withdrawal is left alone, and a repeat
    transfer with the same out-bill number is the same transfer at the provider."""
    start = withdrawals.start_payout(withdrawal_id)
    if start is None:
        return "nothing to do"
    if start.via == TRANSFER_BILLS:
        return _create_bill(withdrawal_id, start)
    try:
        result = payout_provider().transfer(start)
    except TransientPayoutError:
        log.warning("payout %s: outcome unknown, will retry", start.out_bill_no)
        raise  # RQ's Retry runs this job again; the sweep below catches a lost job
    return withdrawals.finish_payout(withdrawal_id, result).status


def _create_bill(withdrawal_id: int, start: withdrawals.PayoutStart) -> str:
    """「发起转账」 with the withdrawal's stable out_bill_no and parameters. WeChat answers a
    repeat with the bill as it is now, so a retry (after a crash, a timeout, SYSTEM_ERROR) never
    makes a second one. An unknown outcome is settled by a query, never by a new number."""
    gateway = pay_gateway()
    try:
        bill = gateway.create_transfer(
            start.out_bill_no,
            start.openid,
            start.amount_fen,
            start.description,
            user_name=start.real_name,
        )
    except ValueError as e:  # 2,000 yuan or more needs the payee's real name, and none was given
        log.error("transfer %s not made: %s", start.out_bill_no, e)
        return withdrawals.bill_refused(withdrawal_id, withdrawals.NEEDS_REAL_NAME).status
    except PayOutcomeUnknown as e:
        log.warning("transfer %s: outcome unknown (%s), querying", start.out_bill_no, e)
        bill = _query(start.out_bill_no)
        if bill is None:
            # No bill yet: the request did not take. RQ retries the same create.
            raise PayOutcomeUnknown(f"no bill {start.out_bill_no} after {e}") from e
    except PayRefused as e:
        bill = _query(start.out_bill_no)
        if bill is None:
            log.error("transfer %s refused: %s", start.out_bill_no, e)
            return withdrawals.bill_refused(withdrawal_id, e.code).status
    return withdrawals.record_bill(withdrawal_id, bill).status


def _query(out_bill_no: str) -> TransferBill | None:
    """The bill, or None when WeChat has none under this number (PayOutcomeUnknown raises)."""
    try:
        return pay_gateway().query_transfer(out_bill_no)
    except PayRefused as e:
        if e.code in NO_BILL_CODES or e.status == 404:
            return None
        raise PayOutcomeUnknown(f"query {out_bill_no}: {e}") from e


def retry_stuck_payouts() -> int:
    """Re-enqueue wallet payouts whose job was lost or exhausted its retries."""
    ids = withdrawals.stuck_payouts()
    for withdrawal_id in ids:
        get_queue("default").enqueue(pay_withdrawal, withdrawal_id)
    return len(ids)


def sync_transfer_bills(older_than_seconds: int = 120) -> int:
    """Ask WeChat about every 商家转账 bill not settled and not heard of for a while, and apply
    the answer (the same exactly-once path as the notify): settles a bill whose notify never
    came. Returns how many it asked about."""
    ids = withdrawals.open_bills(timedelta(seconds=older_than_seconds))
    for withdrawal_id in ids:
        sync_transfer_bill(withdrawal_id)
    return len(ids)


def sync_transfer_bill(withdrawal_id: int) -> str:
    out_bill_no = withdrawals.out_bill_no_of(withdrawal_id)
    try:
        bill = _query(out_bill_no)
    except PayOutcomeUnknown as e:
        log.warning("transfer %s: query failed (%s), next sweep asks again", out_bill_no, e)
        return "unknown"
    if bill is None:
        # Never made (the create job died before WeChat took it): the payout job makes it.
        get_queue("default").enqueue(pay_withdrawal, withdrawal_id)
        return "no bill"
    status = withdrawals.record_bill(withdrawal_id, bill).status
    start = withdrawals.bill_request(withdrawal_id)
    if start is not None:
        # Waiting for the user, but the create answered before the package existed: asking
        # again with the same number and parameters answers the bill with its package_info.
        try:
            bill = pay_gateway().create_transfer(
                start.out_bill_no,
                start.openid,
                start.amount_fen,
                start.description,
                user_name=start.real_name,
            )
        except (PayOutcomeUnknown, PayRefused) as e:
            log.warning("transfer %s: package not fetched (%s)", out_bill_no, e)
            return status
        status = withdrawals.record_bill(withdrawal_id, bill).status
    return status


def cancel_unconfirmed_transfers() -> int:
    """「撤销转账」 for bills the user has not confirmed within the merchant's time
    (merchants.transfer_cancel_minutes, 24 h by default). WeChat answers CANCELING, then
    CANCELLED by notify or query, which returns the money (held -> available) once."""
    ids = withdrawals.unconfirmed_bills()
    for withdrawal_id in ids:
        out_bill_no = withdrawals.out_bill_no_of(withdrawal_id)
        try:
            bill = pay_gateway().cancel_transfer(out_bill_no)
        except PayRefused as e:
            # Already confirmed, failed or cancelled: what it is now decides.
            log.info("transfer %s: cancel refused (%s), querying", out_bill_no, e)
            sync_transfer_bill(withdrawal_id)
            continue
        except PayOutcomeUnknown as e:
            log.warning("transfer %s: cancel outcome unknown (%s), next run", out_bill_no, e)
            continue
        withdrawals.record_bill(withdrawal_id, bill)
    return len(ids)

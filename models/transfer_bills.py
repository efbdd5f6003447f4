"""商家转账 bills and withdrawals: how WeChat's bill states move a withdrawal (pure, no I/O).

WeChat Pay documents a bill's states (「商家转账」, 转账单据状态): ACCEPTED (accepted, being
processed), PROCESSING, WAIT_USER_CONFIRM (the user must confirm receipt in WeChat),
TRANSFERING (confirmed, being paid), SUCCESS, FAIL, CANCELING and CANCELLED. The withdrawal
follows them: accepted or processing is `paying`, waiting for the user is `waiting_user`, a
cancel under way is `cancelling`, SUCCESS is `paid` (held -> paid out) and FAIL or CANCELLED is
`failed` (held -> available). An answer that would move the withdrawal backwards (a query
overtaken by a notify, a repeat) moves nothing, and a settled withdrawal never moves again.
"""

from __future__ import annotations

from models.states import WITHDRAWAL

# The withdrawal's payout channel (merchants.payout_channel, withdrawals.payout_via).
TRANSFER_BILLS = "transfer_bills"  # 商家转账 (APIv3), the default
WECHAT_V2 = "wechat_v2"  # 企业付款到零钱 (v2), for merchants who still have it
MANUAL = "manual"  # paid by hand, recorded with `withdrawal mark-paid`
PAYOUT_CHANNELS = (TRANSFER_BILLS, WECHAT_V2, MANUAL)
# 「发起转账」: from 2,000 yuan a bill must carry the payee's real name (user_name), which WeChat
# checks against the name the user verified in WeChat.
TRANSFER_NAME_FROM_FEN = 200_000

PAYING, WAITING_USER, CANCELLING, PAID, FAILED = (
    "paying",
    "waiting_user",
    "cancelling",
    "paid",
    "failed",
)

BILL_STATES = {
    "ACCEPTED": PAYING,
    "PROCESSING": PAYING,
    "TRANSFERING": PAYING,
    "WAIT_USER_CONFIRM": WAITING_USER,
    "CANCELING": CANCELLING,
    "SUCCESS": PAID,
    "FAIL": FAILED,
    "CANCELLED": FAILED,
}
FINAL_BILL_STATES = frozenset({"SUCCESS", "FAIL", "CANCELLED"})
# The withdrawal states in which a bill may exist at WeChat and is not settled yet.
OPEN_STATES = (PAYING, WAITING_USER, CANCELLING)


def withdrawal_status_for(bill_state: str) -> str | None:
    """The withdrawal state a bill state means; None for a state WeChat has not documented."""
    return BILL_STATES.get(bill_state)


def next_status(current: str, bill_state: str) -> str | None:
    """Where a withdrawal in `current` goes on hearing that its bill is in `bill_state`, or
    None when it stays (the same state, an unknown state, a settled withdrawal, or a move the
    state machine does not allow, such as a cancel under way going back to waiting)."""
    target = withdrawal_status_for(bill_state)
    if target is None or target == current:
        return None
    if target not in WITHDRAWAL.get(current, set()):
        return None
    return target

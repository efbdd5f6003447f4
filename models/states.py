"""State machines as data: the allowed moves of every stateful model."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import object_session

from models.errors import InvalidTransition
from models.events import StatusChange

DISTRIBUTOR = {
    "pending": {"active", "rejected"},
    "rejected": {"pending"},
    "active": {"frozen"},
    "frozen": {"active"},
}
COMMISSION = {
    "pending": {"available", "reversed"},
    "available": {"reversed"},
    "reversed": set(),
}
# paying: the transfer is being made (v2, or a 商家转账 bill accepted or processing);
# waiting_user: the 商家转账 bill waits for the user to confirm receipt in WeChat (and, once
# confirmed, for WeChat to pay: TRANSFERING does not move it back);
# cancelling: the merchant asked WeChat to cancel an unconfirmed bill (models.transfer_bills).
WITHDRAWAL = {
    "requested": {"approved", "rejected"},
    "approved": {"paying"},
    "paying": {"paid", "failed", "waiting_user", "cancelling"},
    "waiting_user": {"paid", "failed", "cancelling"},
    "cancelling": {"paid", "failed"},
    "paid": set(),
    "failed": set(),
    "rejected": set(),
}
ORDER = {
    "pending_payment": {"paid", "cancelled"},
    "paid": {"shipped", "completed", "refunded"},
    "shipped": {"completed", "refunded"},
    "completed": {"refunded"},
    "cancelled": set(),
    "refunded": set(),
}

# A claimed coupon: locked by an unpaid order, used when it is paid, back to available when the
# order is cancelled.
USER_COUPON = {
    "available": {"locked"},
    "locked": {"used", "available"},
    "used": set(),
}
# A shopper's refund request: the merchant approves or refuses it; approved, WeChat Pay refunds
# it (refunded) or refuses for good (failed, which the merchant may approve again).
REFUND_REQUEST = {
    "requested": {"approved", "refused", "cancelled"},
    "approved": {"refunded", "failed"},
    "failed": {"approved"},
    "refused": set(),
    "refunded": set(),
    "cancelled": set(),
}


def check_transition(machine: Mapping[str, set[str]], what: str, current: str, new: str) -> None:
    if new not in machine.get(current, set()):
        raise InvalidTransition(
            f"{what} cannot go from {current} to {new}", what=what, current=current, new=new
        )


class StatusMixin:
    """`set_status()` is the only way a stateful model changes state: it refuses a forbidden move
    with InvalidTransition and records the move in `status_changes`."""

    TRANSITIONS: Mapping[str, set[str]] = {}

    def set_status(self, new: str, note: str | None = None) -> None:
        current = self.status
        check_transition(self.TRANSITIONS, self.__tablename__, current, new)
        self.status = new
        session = object_session(self)
        if session is not None:
            if self.id is None:
                session.flush()
            session.add(
                StatusChange(
                    entity=self.__tablename__,
                    entity_id=self.id,
                    from_status=current,
                    to_status=new,
                    note=note,
                )
            )

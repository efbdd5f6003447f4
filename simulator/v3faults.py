"""Faults injected through the driver API (/sim/pay/v3/faults), taken by the APIv3 endpoints and
the notify sender when they match: each is used up once per `times`."""

from __future__ import annotations

from typing import Any

from .store import Store

FAULT_MATCH_KEYS = ("out_trade_no", "out_refund_no", "out_bill_no", "openid")


def take_fault(
    store: Store, kinds: tuple[str, ...], api: str | None, fields: dict[str, Any]
) -> dict[str, Any] | None:
    """The first matching injected fault, used up once."""
    with store.lock:
        for fault in store.v3_faults:
            if fault["kind"] not in kinds or fault["times"] <= 0:
                continue
            if fault.get("api") not in (None, "any", api):
                continue
            wanted = {k: fault[k] for k in FAULT_MATCH_KEYS if fault.get(k)}
            if all(fields.get(k) == v for k, v in wanted.items()):
                fault["times"] -= 1
                return fault
    return None

"""Binding decisions: first/last touch, who may be bound, self, cycles, inactive targets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.binding import BindingRule, Shopper, decide_binding
from models.errors import InvalidRule

FIRST = BindingRule()
LAST = BindingRule(mode="last_touch", validity_days=30)
ANY = BindingRule(scope="any_without_upline")
FRESH = Shopper(current_upline_id=None, has_paid_orders=False, own_distributor_id=None)


@pytest.mark.parametrize(
    ("rule", "shopper", "target", "active", "ancestors", "outcome", "reason"),
    [
        (FIRST, FRESH, 5, True, set(), "bind", ""),
        (FIRST, Shopper(5, False, None), 5, True, set(), "keep", "already_bound"),
        (FIRST, Shopper(4, False, None), 5, True, set(), "refuse", "already_bound"),
        (LAST, Shopper(4, False, None), 5, True, set(), "rebind", ""),
        (LAST, Shopper(5, False, None), 5, True, set(), "refresh", "already_bound"),
        (FIRST, Shopper(None, True, None), 5, True, set(), "refuse", "not_new"),
        (ANY, Shopper(None, True, None), 5, True, set(), "bind", ""),
        (FIRST, FRESH, 5, False, set(), "refuse", "target_inactive"),
        (FIRST, Shopper(None, False, 5), 5, True, set(), "refuse", "self"),
        (FIRST, Shopper(None, False, 9), 5, True, {7, 9, 11}, "refuse", "cycle"),
        (FIRST, Shopper(None, False, 9), 5, True, {7, 8}, "bind", ""),
    ],
)
def test_binding_decision(rule, shopper, target, active, ancestors, outcome, reason):
    decision = decide_binding(rule, shopper, target, active, ancestors)
    assert (decision.outcome, decision.reason) == (outcome, reason)


def test_last_touch_bindings_expire_after_their_validity():
    at = datetime(2026, 11, 1, tzinfo=UTC)
    assert LAST.expires_at(at) == at + timedelta(days=30)
    assert FIRST.expires_at(at) is None


@pytest.mark.parametrize(
    "kwargs", [{"mode": "sometimes"}, {"scope": "everyone"}, {"validity_days": 0}]
)
def test_bad_binding_settings_are_refused(kwargs):
    with pytest.raises(InvalidRule):
        BindingRule(**kwargs)

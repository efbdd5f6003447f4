"""Applications under each policy, reviews, codes, binding rules, ancestors and team counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from infra.clock import now
from models import Binding, Distributor, DomainEvent, db
from models.errors import ApplicationRefused, InvalidTransition
from services import distributors
from services.binding import bind_shopper, expire_bindings
from services.distributors import CODE_ALPHABET, CODE_LENGTH
from tests.factories import (
    make_chain,
    make_distributor,
    make_paid_order,
    make_product,
    make_user,
    set_policy,
)


def events(kind):
    return db.session.scalars(select(DomainEvent).where(DomainEvent.kind == kind)).all()


def test_audit_policy_waits_for_the_merchant(ctx):
    set_policy(application_policy="audit")
    user = make_user()
    applied = distributors.apply(user.id)
    assert applied.status == "pending" and applied.joined_at is None
    assert distributors.apply(user.id).id == applied.id  # applying twice is harmless
    approved = distributors.approve(applied.id)
    assert approved.status == "active" and approved.joined_at is not None
    assert approved.tier.name == "普通"
    assert len(events("application_approved")) == 1


def test_rejection_needs_a_reason_and_the_user_may_apply_again(ctx):
    set_policy(application_policy="audit")
    applied = distributors.apply(make_user().id)
    with pytest.raises(ApplicationRefused):
        distributors.reject(applied.id, "  ")
    rejected = distributors.reject(applied.id, "资料不全")
    assert (rejected.status, rejected.reject_reason) == ("rejected", "资料不全")
    assert events("application_rejected")[0].payload == {"reason": "资料不全"}
    again = distributors.apply(rejected.user_id)
    assert again.status == "pending" and again.reject_reason is None


def test_auto_policy_approves_at_once(ctx):
    set_policy(application_policy="auto")
    assert distributors.apply(make_user().id).status == "active"


def test_spend_policy_approves_once_completed_spend_reaches_the_threshold(ctx):
    from services.orders import complete_order

    set_policy(application_policy="spend", spend_threshold_fen=10_000)
    user = make_user()
    assert distributors.apply(user.id).status == "pending"
    order = make_paid_order(user, [(make_product(6_000).id, 1)])
    complete_order(order.id)
    assert db.session.scalar(select(Distributor.status).where(Distributor.user_id == user.id)) == (
        "pending"
    )
    order = make_paid_order(user, [(make_product(4_000).id, 1)])
    complete_order(order.id)
    db.session.rollback()
    assert db.session.scalar(select(Distributor.status).where(Distributor.user_id == user.id)) == (
        "active"
    )


def test_codes_are_short_unique_and_from_an_unambiguous_alphabet(ctx):
    codes = {make_distributor().code for _ in range(20)}
    assert len(codes) == 20
    assert all(len(c) == CODE_LENGTH and set(c) <= set(CODE_ALPHABET) for c in codes)


def test_a_pending_distributor_cannot_be_frozen_and_freezing_is_reversible(ctx):
    set_policy(application_policy="audit")
    applied = distributors.apply(make_user().id)
    with pytest.raises(InvalidTransition):
        distributors.freeze(applied.id, "x")
    distributors.approve(applied.id)
    assert distributors.freeze(applied.id, "风控").status == "frozen"
    assert distributors.unfreeze(applied.id).status == "active"


def test_ancestors_and_team_counts_follow_the_binding_at_join(ctx):
    a, b, c, d, e = make_chain(5)
    assert (e.upline_id, e.ancestor2_id, e.ancestor3_id) == (d.id, c.id, b.id)
    db.session.expire_all()
    top = db.session.get(Distributor, a.id)
    assert (top.team_l1_count, top.team_l2_count, top.team_l3_count) == (1, 1, 1)
    assert distributors.team_counts_check() == []


def test_team_check_finds_and_fixes_a_drifted_count(ctx):
    a, _b = make_chain(2)
    row = db.session.get(Distributor, a.id)
    row.team_l1_count = 7
    db.session.commit()
    assert distributors.team_counts_check() == [(a.id, (7, 0, 0), (1, 0, 0))]
    distributors.team_counts_check(fix=True)
    assert distributors.team_counts_check() == []


class TestBinding:
    def test_first_touch_is_permanent(self, ctx):
        first, second = make_distributor(), make_distributor()
        shopper = make_user()
        assert bind_shopper(shopper.id, first.code).decision.outcome == "bind"
        result = bind_shopper(shopper.id, second.code)
        assert (result.decision.outcome, result.decision.reason) == ("refuse", "already_bound")
        assert db.session.get(Binding, shopper.id).distributor_id == first.id

    def test_last_touch_rebinds_and_expires(self, ctx):
        set_policy(binding_mode="last_touch", binding_validity_days=7)
        first, second = make_distributor(), make_distributor()
        shopper = make_user()
        bind_shopper(shopper.id, first.code)
        assert bind_shopper(shopper.id, second.code).decision.outcome == "rebind"
        assert db.session.get(Binding, shopper.id).distributor_id == second.id
        assert expire_bindings(now() + timedelta(days=8)) == 1
        assert db.session.get(Binding, shopper.id) is None

    def test_never_to_oneself(self, ctx):
        me = make_distributor()
        assert bind_shopper(me.user_id, me.code).decision.reason == "self"

    def test_never_a_cycle_even_deeper_than_three_levels(self, ctx):
        set_policy(binding_scope="any_without_upline")
        chain = make_chain(5)  # chain[0] is the top, with no upline of its own
        top, deepest = chain[0], chain[-1]
        result = bind_shopper(top.user_id, deepest.code)
        assert (result.decision.outcome, result.decision.reason) == ("refuse", "cycle")
        assert db.session.get(Binding, top.user_id) is None

    def test_new_users_only_refuses_a_returning_customer(self, ctx):
        set_policy(application_policy="auto")
        distributor = make_distributor()
        customer = make_user()
        make_paid_order(customer, [(make_product().id, 1)])
        assert bind_shopper(customer.id, distributor.code).decision.reason == "not_new"
        set_policy(binding_scope="any_without_upline")
        assert bind_shopper(customer.id, distributor.code).decision.outcome == "bind"

    def test_unknown_code_and_inactive_distributor_are_refused(self, ctx):
        shopper = make_user()
        assert bind_shopper(shopper.id, "nosuch").decision.reason == "unknown_code"
        frozen = make_distributor()
        distributors.freeze(frozen.id, "x")
        assert bind_shopper(shopper.id, frozen.code).decision.reason == "target_inactive"
        assert db.session.scalar(select(func.count()).select_from(Binding)) == 0

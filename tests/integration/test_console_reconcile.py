"""The console's reconcile page on both databases: it runs the ledger check (and, if asked, the
team recount) and says the result in words; running it changes nothing and writes no audit row,
but the log says who ran it."""

from __future__ import annotations

import logging

from sqlalchemy import func, select, update

from models import AuditEntry, Distributor, LedgerAccount, db
from models.ledger import PENDING, account_key
from tests.factories import make_chain, make_paid_order, make_product, make_shopper
from tests.support.console import post_form, signed_in_as


def seed(app) -> tuple[int, str]:
    """A paid order under a two-level chain: pending commission on the ledger."""
    with app.app_context():
        _top, middle = make_chain(2)
        make_paid_order(make_shopper(bound_to=middle), [(make_product(10_000).id, 1)])
        found = middle.id, account_key(PENDING, middle.id)
        db.session.rollback()
        return found


def test_a_clean_ledger_reconciles_and_the_log_names_who_ran_it(app, client, caplog):
    seed(app)
    signed_in_as(client, app, "finance", "cashier")
    page = client.get("/console/reconcile")
    assert page.status_code == 200 and 'data-testid="reconcile-form"' in page.text
    assert 'data-testid="reconcile-result"' not in page.text
    with caplog.at_level(logging.INFO, logger="web.console.reconcile"):
        answer = post_form(client, "/console/reconcile", {"teams": "1"})
    assert answer.status_code == 200
    assert 'data-ok="true"' in answer.text and "账目一致" in answer.text
    assert "已核对团队人数" in answer.text
    assert any("reconcile run by cashier" in r.getMessage() for r in caplog.records)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_corrupted_balance_and_team_count_are_shown_in_words(app, client):
    middle_id, key = seed(app)
    with app.app_context():
        db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.key == key)
            .values(balance_fen=LedgerAccount.balance_fen + 7)
        )
        db.session.execute(
            update(Distributor).where(Distributor.id == middle_id).values(team_l1_count=5)
        )
        db.session.commit()
    signed_in_as(client, app, "owner")
    answer = post_form(client, "/console/reconcile")
    assert 'data-ok="false"' in answer.text and "发现不一致" in answer.text
    assert f"账户 {key} 的余额" in answer.text  # cached balance vs its entries
    assert f"分销员 #{middle_id} 的待结算余额" in answer.text  # pending vs commissions
    assert "团队人数记录为" not in answer.text  # not asked
    with_teams = post_form(client, "/console/reconcile", {"teams": "1"})
    assert f"分销员 #{middle_id} 的团队人数记录为 5 / 0 / 0，实际为 0 / 0 / 0" in with_teams.text


def test_reconcile_is_for_finance_and_the_owner(app, client):
    answer = client.get("/console/reconcile")
    assert answer.status_code == 302 and "/console/login" in answer.location
    signed_in_as(client, app, "operator")
    assert client.get("/console/reconcile").status_code == 403
    assert post_form(client, "/console/reconcile").status_code == 403


def test_a_post_without_the_form_token_is_refused(app, client):
    signed_in_as(client, app, "finance")
    assert client.post("/console/reconcile").status_code == 400

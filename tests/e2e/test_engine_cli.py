"""The engine's operator commands, run as real processes."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from models import LedgerAccount, db
from tests.e2e.test_cli import run_cli
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, mature


@pytest.fixture
def env(app):
    return {
        "FENXIAO_MODE": "test",
        "INSTANCE_PATH": app.config["INSTANCE_PATH"],
        "DATABASE_URL": app.config["DATABASE_URL"],
        "REDIS_URL": app.config["REDIS_URL"],
    }


def test_settle_then_reconcile_passes_and_a_tampered_balance_fails(app, env):
    with app.app_context():
        [distributor] = make_chain(1)
        mature(make_paid_order(make_shopper(distributor), [(make_product(10_000).id, 1)]))
        distributor_id = distributor.id
    settled = run_cli("settle", env=env)
    assert settled.returncode == 0, settled.stderr
    assert "settled 1 commission(s)" in settled.stdout
    good = run_cli("reconcile", env=env)
    assert good.returncode == 0 and "OK: the ledger reconciles" in good.stdout
    with app.app_context():
        db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.key == f"d:{distributor_id}:available")
            .values(balance_fen=LedgerAccount.balance_fen + 1)
        )
        db.session.commit()
    bad = run_cli("reconcile", env=env)
    assert bad.returncode == 1
    assert f"account d:{distributor_id}:available: cached 1001 != entries 1000" in bad.stdout


def test_rules_command_refuses_four_levels_in_one_line(env):
    result = run_cli("rules", "--levels", "4", "--rates", "10,5,2", env=env)
    assert result.returncode == 1
    assert "invalid_rule" in result.stderr and "Traceback" not in result.stderr
    ok = run_cli("rules", "--levels", "3", "--rates", "10,5,2.5", env=env)
    assert ok.returncode == 0, ok.stderr
    assert "rule set v1: 3 level(s), (1000, 500, 250) bps" in ok.stdout
    assert "warning: level 3" in ok.stdout


def test_team_check_reports_no_mismatch(app, env):
    with app.app_context():
        make_chain(3)
    result = run_cli("team", "check", env=env)
    assert result.returncode == 0 and "0 mismatch(es)" in result.stdout

"""The CLI commands, run in-process through Flask's test CLI runner: migrations and the seed, the
engine's operator commands, and the WeChat menu.

What is about a fresh process stays in tests/e2e: a start-up error printed as one line, the cron
scheduler stopping on SIGTERM, the worker process, the font checks at start-up, the demo runner.
"""

from __future__ import annotations

import json

import pytest
import requests
from click.testing import Result
from sqlalchemy import update

from demo_identity import DEMO_WECHAT
from infra.procutil import free_port
from models import LedgerAccount, db
from simulator import create_app as create_simulator
from tests.conftest import test_config
from tests.factories import make_chain, make_paid_order, make_product, make_shopper, mature
from tests.simulator.conftest import serve
from web import create_app
from workers.wechat import MENU_FILE


@pytest.fixture
def cli(app):
    return app.test_cli_runner()


def assert_refused_in_one_line(result: Result, *phrases: str) -> None:
    """Exit 1 through click (a SystemExit, not an uncaught exception: no traceback), with the
    reason on the last line of stderr."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    last = result.stderr.strip().splitlines()[-1]
    for phrase in phrases:
        assert phrase in last, result.stderr


# -- migrations and the seed --------------------------------------------------------------------
def test_db_upgrade_then_seed_twice_is_idempotent(cli):
    upgraded = cli.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    first = cli.invoke(args=["seed"])
    second = cli.invoke(args=["seed"])
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert "created" in first.stdout or "already there" in first.stdout
    assert "already there" in second.stdout


# -- the engine's operator commands -------------------------------------------------------------
def test_settle_then_reconcile_passes_and_a_tampered_balance_fails(app, cli):
    with app.app_context():
        [distributor] = make_chain(1)
        mature(make_paid_order(make_shopper(distributor), [(make_product(10_000).id, 1)]))
        distributor_id = distributor.id
    settled = cli.invoke(args=["settle"])
    assert settled.exit_code == 0, settled.output
    assert "settled 1 commission(s)" in settled.stdout
    good = cli.invoke(args=["reconcile"])
    assert good.exit_code == 0 and "OK: the ledger reconciles" in good.stdout
    with app.app_context():
        db.session.execute(
            update(LedgerAccount)
            .where(LedgerAccount.key == f"d:{distributor_id}:available")
            .values(balance_fen=LedgerAccount.balance_fen + 1)
        )
        db.session.commit()
    bad = cli.invoke(args=["reconcile"])
    assert bad.exit_code == 1
    assert f"account d:{distributor_id}:available: cached 1001 != entries 1000" in bad.stdout


def test_rules_command_refuses_four_levels_in_one_line(cli):
    result = cli.invoke(args=["rules", "--levels", "4", "--rates", "10,5,2"])
    assert_refused_in_one_line(result, "invalid_rule")
    ok = cli.invoke(args=["rules", "--levels", "3", "--rates", "10,5,2.5"])
    assert ok.exit_code == 0, ok.output
    assert "rule set v1: 3 level(s), (1000, 500, 250) bps" in ok.stdout
    assert "warning: level 3" in ok.stdout


def test_team_check_reports_no_mismatch(app, cli):
    with app.app_context():
        make_chain(3)
    result = cli.invoke(args=["team", "check"])
    assert result.exit_code == 0 and "0 mismatch(es)" in result.stdout


# -- the WeChat menu ----------------------------------------------------------------------------
@pytest.fixture
def sim_url():
    with serve(create_simulator({"FENXIAO_MODE": "test"})) as url:
        yield url


def wechat_cli(redis_url: str, tmp_path, api_base: str):
    """An app that needs no database, talking to the WeChat API at `api_base`."""
    database = f"sqlite:///{tmp_path}/x.db"
    config = test_config(database, redis_url, tmp_path, WECHAT_API_BASE=api_base)
    return create_app(config).test_cli_runner()


def test_the_menu_command_creates_the_menu_from_the_repo(sim_url, redis_url, tmp_path):
    result = wechat_cli(redis_url, tmp_path, sim_url).invoke(args=["wechat", "menu"])
    assert result.exit_code == 0, result.output
    created = requests.get(f"{sim_url}/sim/menu", timeout=5).json()
    keys = json.dumps(created, ensure_ascii=False)
    for key in ("JOIN", "POSTER", "EARNINGS", "WITHDRAW", "TEAM", "MATERIAL", "HELP"):
        assert key in keys
    # The first button opens the shop, at this deployment's address.
    assert created["default"] is False
    shop = created["menu"]["button"][0]
    assert (shop["type"], shop["name"], shop["url"]) == (
        "view",
        "商城",
        "http://127.0.0.1:5000/shop",
    )
    assert "{shop_url}" in MENU_FILE.read_text()


def test_the_menu_command_reports_an_unreachable_api_in_one_line(redis_url, tmp_path):
    unreachable = f"http://127.0.0.1:{free_port()}"
    result = wechat_cli(redis_url, tmp_path, unreachable).invoke(args=["wechat", "menu"])
    assert_refused_in_one_line(result, "Error: cannot reach the WeChat API")
    assert result.stderr.strip().splitlines()[-1].startswith("Error: cannot reach the WeChat API")
    assert DEMO_WECHAT["WECHAT_APPSECRET"] not in result.output

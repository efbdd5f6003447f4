"""The CLI as fresh processes: bad configuration stops start-up with one clear line, and the cron
scheduler registers with RQ and stops on SIGTERM. Commands that need no process of their own run
in-process in tests/integration/test_cli.py."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
import redis

from infra.procutil import free_port
from tests.conftest import REPO, flask_cli, wait_for


def run_cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FENXIAO_", "WECHAT_"))}
    return subprocess.run(
        flask_cli(*args),
        env={**base, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def assert_one_clear_line(result: subprocess.CompletedProcess, *phrases: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for phrase in phrases:
        assert phrase in lines[0]


@pytest.mark.parametrize("command", [("db", "upgrade"), ("worker",), ("seed",)])
def test_unknown_database_scheme_exits_with_one_line(command, tmp_path):
    result = run_cli(
        *command,
        env={"FENXIAO_MODE": "demo", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "mysql://x/y"},
    )
    assert_one_clear_line(result, "DATABASE_URL", "mysql")


def test_unreachable_redis_exits_with_one_line(tmp_path):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    result = run_cli(
        "worker", env={"FENXIAO_MODE": "demo", "INSTANCE_PATH": str(tmp_path), "REDIS_URL": dead}
    )
    assert_one_clear_line(result, "cannot reach Redis", dead)


def test_production_mode_without_credentials_exits_with_one_line(tmp_path):
    result = run_cli("db", "upgrade", env={"INSTANCE_PATH": str(tmp_path)})
    assert_one_clear_line(result, "WECHAT_TOKEN", "WECHAT_APPID")


def test_cron_registers_with_rq_and_stops_on_sigterm(redis_url, tmp_path):
    from rq.cron_scheduler_registry import get_keys

    env = {
        "FENXIAO_MODE": "test",
        "INSTANCE_PATH": str(tmp_path),
        "REDIS_URL": redis_url,
        "DATABASE_URL": f"sqlite:///{tmp_path}/x.db",
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("FENXIAO_", "WECHAT_"))}
    proc = subprocess.Popen(flask_cli("cron"), env={**base, **env}, cwd=REPO)
    connection = redis.Redis.from_url(redis_url)
    try:
        wait_for(lambda: get_keys(connection), message="the cron scheduler to register")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    assert get_keys(connection) == []

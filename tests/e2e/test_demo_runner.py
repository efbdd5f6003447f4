"""`make demo`'s runner brings everything up, /healthz is green, and Ctrl-C leaves no process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import urllib.request

import psutil
import pytest

from infra.procutil import free_port
from tests.conftest import REPO, flask_cli, wait_for

pytestmark = pytest.mark.slow


def get_json(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)
    except OSError:
        return None, None


def test_demo_comes_up_healthy_and_ctrl_c_stops_every_process(tmp_path):
    port, sim_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FENXIAO_", "WECHAT_"))}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(FENXIAO_MODE="demo", INSTANCE_PATH=str(tmp_path / "instance"), PYTHONUNBUFFERED="1")
    runner = subprocess.Popen(
        flask_cli("demo", "--port", str(port), "--simulator-port", str(sim_port)),
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(runner.stdout), daemon=True).start()
    try:
        wait_for(
            lambda: runner.poll() is not None or any("demo is up" in line for line in output),
            timeout=60,
            message="the demo to come up",
        )
        assert runner.poll() is None, "".join(output)
        status, health = get_json(f"http://127.0.0.1:{port}/healthz")
        assert status == 200, health
        assert health["database"]["ok"] and health["redis"]["ok"]
        assert health["workers"]["count"] == 1
        assert health["workers"]["cron_schedulers"] == 1
        assert get_json(f"http://127.0.0.1:{sim_port}/healthz")[0] == 200
        printed = "".join(output)
        assert f"http://127.0.0.1:{sim_port}/" in printed
        assert f"http://127.0.0.1:{port}/healthz" in printed
        # The account's own menu, with the shop's button at this demo's address.
        assert "menu created" in printed
        menu = get_json(f"http://127.0.0.1:{sim_port}/sim/menu")[1]
        assert menu["default"] is False
        assert menu["menu"]["button"][0]["url"] == f"http://127.0.0.1:{port}/shop"

        family = psutil.Process(runner.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in family)
        for part in ("redis-server", "gunicorn", "worker", "cron", "simulator"):
            assert part in names
        runner.send_signal(signal.SIGINT)
        assert runner.wait(30) == 0, "".join(output)
    finally:
        if runner.poll() is None:
            runner.kill()
    _gone, alive = psutil.wait_procs(family, timeout=5)
    assert alive == [], f"orphans: {[p.cmdline() for p in alive]}"
    assert get_json(f"http://127.0.0.1:{port}/healthz") == (None, None)
    assert not (tmp_path / "instance" / "redis.sock").exists()

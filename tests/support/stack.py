"""The whole system over real HTTP for a test: the app served on a port, the WeChat simulator
(its API, WeChat Pay APIv3 and its pages) on another, and real worker processes configured like
the app, all on the test's database and Redis."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

import simulator
from demo_identity import DEMO_PAY_PUBLIC_KEY_ID
from infra.jobs import get_queue
from models import Withdrawal, db
from tests.conftest import REPO, flask_cli, subprocess_env, test_config
from tests.support.serving import serve, wait_until
from web import create_app


class Stack:
    def __init__(self, app, sim_url: str, app_url: str):
        self.app, self.sim_url, self.app_url = app, sim_url, app_url
        self.workers: list[subprocess.Popen] = []

    def sim(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.sim_url + path, timeout=30, **kwargs)

    def start_worker(self) -> subprocess.Popen:
        """A real worker process, configured like the app (the simulator as WeChat)."""
        from rq import Worker

        from infra.redis_client import get_redis

        env = subprocess_env(
            self.app,
            WECHAT_API_BASE=self.sim_url,
            WECHAT_PAY_V3_API_BASE=self.sim_url,
            WECHAT_PAY_NOTIFY_BASE=self.app_url,
            PUBLIC_BASE_URL=self.app_url,
        )
        before = Worker.count(connection=get_redis(self.app))
        proc = subprocess.Popen(
            flask_cli("worker", "--name", f"transfer-worker-{os.getpid()}-{len(self.workers)}"),
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.workers.append(proc)

        def registered():
            """the worker registers"""
            return proc.poll() is not None or Worker.count(connection=get_redis(self.app)) > before

        wait_until(registered)
        assert proc.poll() is None
        return proc

    def stop(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    # -- reading the app's database ------------------------------------------------------------
    def withdrawal(self, withdrawal_id: int) -> Withdrawal:
        with self.app.app_context():
            row = db.session.get(Withdrawal, withdrawal_id)
            db.session.expunge(row)
            db.session.rollback()
            return row

    def wait_status(self, withdrawal_id: int, status: str) -> Withdrawal:
        def reached():
            """the withdrawal reaches the status"""
            row = self.withdrawal(withdrawal_id)
            return row if row.status == status else None

        reached.__doc__ = f"withdrawal {withdrawal_id} is {status}"
        return wait_until(reached)

    def enqueue(self, func_path: str, *args) -> None:
        with self.app.app_context():
            get_queue("default").enqueue(func_path, *args)

    def bills(self) -> list[dict]:
        return self.sim("GET", "/sim/pay/v3/bills").json()["bills"]


@pytest.fixture(name="stack")
def stack_fixture(database_url, redis_url, tmp_path):
    instance = tmp_path / "instance"
    app = create_app(test_config(database_url, redis_url, instance))
    sim = simulator.create_app(
        {
            "FENXIAO_MODE": "test",
            "SIM_PAYV3_KEY_DIR": str(instance / "wechat_pay"),
            "WECHAT_PAY_MCH_ID": app.config["WECHAT_PAY_MCH_ID"],
            "WECHAT_PAY_PUBLIC_KEY_ID": DEMO_PAY_PUBLIC_KEY_ID,
            "SIM_PAYV3_CANCEL_SECONDS": 0.2,
            "SIM_PAYV3_NOTIFY_RETRY_DELAYS": "0.05,0.05",
        }
    )
    with serve(sim) as sim_url, serve(app) as app_url:
        app.config["WECHAT_PAY_V3_API_BASE"] = sim_url
        app.config["WECHAT_PAY_NOTIFY_BASE"] = app_url
        app.config["WECHAT_API_BASE"] = sim_url
        app.config["PUBLIC_BASE_URL"] = app_url  # the address pages are signed for (JS-SDK)
        live = Stack(app, sim_url, app_url)
        try:
            yield live
        finally:
            live.stop()
    with app.app_context():
        db.engine.dispose()

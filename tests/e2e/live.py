"""A live stack for end-to-end tests: the web app, an RQ worker and the WeChat simulator, each a
real process on real ports, talking over HTTP exactly as in production."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import requests

from infra.procutil import free_port
from tests.conftest import REPO, wait_for


@dataclass
class LiveStack:
    web_url: str
    sim_url: str
    env: dict
    processes: list = field(default_factory=list)

    def sim(self, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, self.sim_url + path, timeout=30, **kwargs)

    def stop(self) -> None:
        for proc in reversed(self.processes):
            proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {timeout}s")


def start_stack(database_url: str, redis_url: str, instance: str, aes_key: str | None) -> LiveStack:
    web_port, sim_port = free_port(), free_port()
    web_url, sim_url = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sim_port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FENXIAO_", "WECHAT_", "SIM_"))}
    env.update(
        FENXIAO_MODE="test",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        INSTANCE_PATH=instance,
        WECHAT_API_BASE=sim_url,
        PUBLIC_BASE_URL=web_url,
        SIM_WEBHOOK_URL=f"{web_url}/wechat",
        SIMULATOR_PORT=str(sim_port),
        PYTHONUNBUFFERED="1",
        SIM_TEMPLATE_EVENT_DELAY="0.05",
    )
    if aes_key:
        env["WECHAT_AES_KEY"] = aes_key
    stack = LiveStack(web_url, sim_url, env)
    flask = [sys.executable, "-m", "flask"]
    log = open(os.path.join(instance, "stack.log"), "ab")  # noqa: SIM115 - lives with the stack
    sim = subprocess.Popen(
        [*flask, "--app", "simulator", "run", "--port", str(sim_port), "--no-reload"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.processes.append(sim)
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{web_port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--control-socket",
            os.path.join(instance, "g.ctl"),
            "web:create_app()",
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.processes.append(web)
    worker = subprocess.Popen(
        [*flask, "--app", "web", "worker"],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack.processes.append(worker)
    try:
        _wait_http(f"{sim_url}/healthz", sim)
        _wait_http(f"{web_url}/healthz", web)
    except Exception:
        stack.stop()
        raise
    return stack


def poll(predicate, timeout: float = 30, interval: float = 0.1, message: str = "condition"):
    return wait_for(predicate, timeout=timeout, interval=interval, message=message)

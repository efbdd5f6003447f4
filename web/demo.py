"""`make demo`: one command that brings up the whole system on embedded defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from flask import Flask
from flask_migrate import upgrade

from infra.procutil import http_ok
from infra.redis_server import EmbeddedRedis, ping
from infra.supervisor import Service, ServiceFailed, Supervisor
from services.demo_seed import DEMO_STAFF, seed_demo


def run_demo(app: Flask, host: str, port: int, simulator_port: int | None) -> int:
    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    cfg = app.config
    simulator_port = simulator_port or cfg["SIMULATOR_PORT"]
    base = f"http://{host}:{port}"
    env = {
        "FENXIAO_MODE": cfg["FENXIAO_MODE"],
        "INSTANCE_PATH": cfg["INSTANCE_PATH"],
        "DATABASE_URL": cfg["DATABASE_URL"],
        "SIMULATOR_PORT": str(simulator_port),
        "WECHAT_API_BASE": cfg["WECHAT_API_BASE"]
        if cfg["FENXIAO_MODE"] == "production"
        else f"http://{host}:{simulator_port}",
        "PUBLIC_BASE_URL": cfg.get("PUBLIC_BASE_URL") if port == 5000 else base,
        "PYTHONUNBUFFERED": "1",
    }
    flask = [sys.executable, "-m", "flask"]
    try:
        if not cfg.get("REDIS_URL"):
            redis = EmbeddedRedis(cfg["INSTANCE_PATH"])
            supervisor.start(Service("redis", redis.command(), ready=lambda: ping(redis.url)))
            env["REDIS_URL"] = redis.url
        else:
            env["REDIS_URL"] = cfg["REDIS_URL"]
        with app.app_context():
            upgrade()
            supervisor.say("demo", seed_demo())
        supervisor.start(Service("worker", [*flask, "--app", "web", "worker"], env))
        supervisor.start(Service("cron", [*flask, "--app", "web", "cron"], env))
        supervisor.start(
            Service(
                "simulator",
                [
                    *flask,
                    "--app",
                    "simulator",
                    "run",
                    "--host",
                    host,
                    "--port",
                    str(simulator_port),
                    "--no-reload",
                ],
                env,
                ready=lambda: http_ok(f"http://{host}:{simulator_port}/healthz"),
            )
        )
        create_menu(supervisor, flask, env)
        supervisor.start(
            Service(
                "web",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--bind",
                    f"{host}:{port}",
                    "--workers",
                    "2",
                    "--threads",
                    "4",
                    "--access-logfile",
                    "-",
                    "--control-socket",
                    str(Path(cfg["INSTANCE_PATH"]) / "gunicorn.ctl"),
                    "web:create_app()",
                ],
                env,
                ready=lambda: http_ok(f"{base}/healthz"),
            ),
            timeout=60,
        )
        print_urls(supervisor, app, base, f"http://{host}:{simulator_port}")
        return supervisor.watch()
    except ServiceFailed as e:
        supervisor.say("demo", f"could not start: {e}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        supervisor.say("demo", "stopping everything...")
        supervisor.stop_all()
        supervisor.say("demo", "stopped.")


def create_menu(supervisor: Supervisor, flask: list[str], env: dict[str, str]) -> None:
    """The account's own menu (bot/menu.json, with the 商城 button) in the simulator, as
    `flask --app web wechat menu` makes it for a real account."""
    done = subprocess.run(
        [*flask, "--app", "web", "wechat", "menu"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = (done.stdout + done.stderr).strip().splitlines()
    supervisor.say("demo", lines[-1] if lines else f"menu: exit {done.returncode}")


def print_urls(supervisor: Supervisor, app: Flask, base: str, simulator: str) -> None:
    lines = [
        "Fenxiao demo is up.",
        f"  WeChat simulator (chat page): {simulator}/",
        f"  health:                       {base}/healthz",
    ]
    if "shop" in app.blueprints:
        lines.append(f"  shop:                         {base}/shop")
    if "console" in app.blueprints:
        lines.append(f"  merchant console:             {base}/console")
        for username, password, role in DEMO_STAFF:
            lines.append(f"    login ({role}):{' ' * (18 - len(role))}{username} / {password}")
    lines.append("Press Ctrl-C to stop everything.")
    for line in lines:
        supervisor.say("demo", line)

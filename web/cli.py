"""Flask CLI commands: worker, cron, seed and demo (`flask --app web <command>`)."""

from __future__ import annotations

import logging
import sys

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from infra.jobs import QUEUE_NAMES
from infra.redis_client import get_redis
from render.fonts import poster_font
from services.demo_seed import seed_demo
from web.console_cli import console_group
from web.demo import run_demo
from web.engine_cli import ENGINE_COMMANDS
from web.material_cli import material_group
from web.poster_cli import poster_group
from web.shop_cli import shop_group
from web.wechat_cli import wechat_group
from workers.schedule import build_cron_scheduler
from workers.worker import build_worker

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:

    commands = (
        worker_command,
        cron_command,
        seed_command,
        demo_command,
        wechat_group,
        material_group,
        poster_group,
        shop_group,
        console_group,
    )
    for command in (*commands, *ENGINE_COMMANDS):
        app.cli.add_command(command)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queues are empty.")
@click.option("--queues", default=None, help="Comma-separated queues (default: high,default,low).")
@click.option("--name", default=None, help="Worker name (default: RQ's host.pid name).")
@with_appcontext
def worker_command(burst: bool, queues: str | None, name: str | None) -> None:
    """Run an RQ worker with the scheduler on the app's queues."""

    chosen = tuple(q.strip() for q in queues.split(",")) if queues else QUEUE_NAMES
    unknown = set(chosen) - set(QUEUE_NAMES)
    if unknown:
        raise click.UsageError(f"unknown queue(s): {', '.join(sorted(unknown))}")
    app = current_app._get_current_object()
    app.config["POSTER_FONT_PATH"] = poster_font(app.config.get("POSTER_FONT_PATH"))
    worker = build_worker(app, queues=chosen, name=name)
    worker.work(burst=burst, with_scheduler=True, logging_level="INFO")


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Run RQ's cron scheduler, which enqueues the project's periodic jobs."""

    build_cron_scheduler(get_redis()).start()


@click.command("seed")
@with_appcontext
def seed_command() -> None:
    """Create the demo merchant and its data; running it again changes nothing."""

    click.echo(seed_demo())


@click.command("demo")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=5000, type=int, help="The web app's port.")
@click.option("--simulator-port", default=None, type=int)
@with_appcontext
def demo_command(host: str, port: int, simulator_port: int | None) -> None:
    """Migrate, seed, and run web, worker, cron, Redis and the simulator until Ctrl-C."""

    poster_font(current_app.config.get("POSTER_FONT_PATH"))  # fail before starting anything
    sys.exit(run_demo(current_app._get_current_object(), host, port, simulator_port))

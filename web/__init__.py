"""The Fenxiao web app: `create_app()` is the one WSGI entry point and the one wiring place."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from babel import Locale
from flask import Flask, g, has_app_context, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

import bot
from infra import jobs, redis_client
from infra.config import REPO_ROOT, load_config
from models import db
from render.fonts import poster_font
from services import audit, events, notifications, sender_cards
from web import api, assets, cli, console, errors, health, me, params, pay_notify, shop, shop_links

SUPPORTED_LOCALES = ("zh_CN", "en")

babel = Babel()
csrf = CSRFProtect()
migrate = Migrate()


class SessionInterface(SecureCookieSessionInterface):
    """WeChat's webhook carries no cookie, and it is the busiest path: it gets a null session
    instead of a signing serializer built per request."""

    def open_session(self, app: Flask, request):
        if request.path == "/wechat":
            return self.make_null_session(app)
        return super().open_session(app, request)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: embedded defaults, then the environment, then `config` (which wins)."""
    settings = load_config(config)
    Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config.update(settings)
    app.session_interface = SessionInterface()
    if click.get_current_context(silent=True) is None:
        # Serving (gunicorn, tests): posters need their font. CLI commands check where needed
        # (worker, demo), so `db upgrade` and the like run on a machine without one.
        app.config["POSTER_FONT_PATH"] = poster_font(settings.get("POSTER_FONT_PATH"))
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(settings))
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    db.init_app(app)
    install_listeners_and_handlers()
    migrate.init_app(app, db, directory=str(REPO_ROOT / "migrations"), render_as_batch=True)
    redis_client.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)

    params.init_app(app)  # <id:...> in routes: before the blueprints
    errors.init_app(app)  # the error pages, for every blueprint (JSON under /api/)
    app.register_blueprint(assets.bp)  # WeUI from node_modules (npm ci)
    app.register_blueprint(health.bp)
    app.register_blueprint(shop_links.bp)
    app.register_blueprint(shop.bp)
    app.register_blueprint(me.bp)
    console.init_app(app)  # /console: Flask-Login, roles, the audit log
    app.register_blueprint(pay_notify.bp)
    csrf.exempt(pay_notify.bp)  # WeChat Pay signs its notifies; there is no form token
    api.init_app(app)  # /api/v1 and its OpenAPI document (CSRF: see web.api)
    bot.init_app(app)
    csrf.exempt(app.blueprints["wechat"])  # WeChat signs its requests; there is no form token
    cli.init_app(app)
    return app


def install_listeners_and_handlers() -> None:
    """The one place where session listeners and domain-event handlers are installed."""
    jobs.install_listeners()  # jobs go out after commit
    events.install_listeners()  # one publish run asked for per transaction
    sender_cards.install_listeners()  # every commit that changes a sender invalidates their card
    audit.install_listeners()  # console changes write their audit entries in their flush
    notifications.subscribe_all()  # every domain event kind has its handler


def engine_options(settings: Mapping[str, Any]) -> dict[str, Any]:
    if settings["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return {"connect_args": {"timeout": 10}}
    # Connections are recycled before PostgreSQL or a proxy would drop them, instead of pinging
    # the server at every checkout (a round trip on every request).
    return {"pool_pre_ping": False, "pool_recycle": 600, "pool_size": 5, "max_overflow": 10}


# Parsed once: flask_babel would otherwise parse the locale name on every request.
LOCALES = {name: Locale.parse(name) for name in SUPPORTED_LOCALES}


def select_locale() -> Locale:
    """The WeChat user's language in bot replies; the browser's on pages; Chinese by default."""
    user = g.get("fx_user") if has_app_context() else None
    if user is not None:
        return LOCALES["en" if (user.language or "").startswith("en") else "zh_CN"]
    if has_request_context():
        return LOCALES[request.accept_languages.best_match(SUPPORTED_LOCALES) or "zh_CN"]
    return LOCALES["zh_CN"]

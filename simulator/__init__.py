"""The WeChat simulator: a separate Flask app playing WeChat's servers and the WeChat client.

It answers the API calls the project makes (access token, QR codes, media, messages, menu, users,
web OAuth, WeChat Pay v2), pushes signed (or safe-mode encrypted) XML to the bot's webhook as a
user's phone would cause WeChat to, and serves a chat page where a person acts as any user.

State lives in memory, so it runs as ONE process: `flask --app simulator run` (threaded).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import api, driver, inspection, media, messaging, oauth, pay, paydriver, tokens
from .config import load_config
from .store import EXTENSION, Store


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(load_config(config))
    app.json.ensure_ascii = False  # Chinese stays readable in the driver API's JSON
    app.json.sort_keys = False
    app.extensions[EXTENSION] = Store(app.config)
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    for module in (tokens, api, media, messaging, oauth, pay, paydriver, driver, inspection):
        app.register_blueprint(module.bp)

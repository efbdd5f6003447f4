"""The WeChat simulator: a separate Flask app playing WeChat's servers and the WeChat client.

It answers the API calls the project makes (access token, QR codes, media, messages, menu, users,
web OAuth, WeChat Pay v2 and APIv3), pushes signed (or safe-mode encrypted) XML to the bot's
webhook as a user's phone would cause WeChat to, and serves a chat page where a person acts as
any user.

State lives in memory, so it runs as ONE process: `flask --app simulator run` (threaded).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from . import (
    api,
    driver,
    inspection,
    jssdk,
    media,
    messaging,
    oauth,
    pay,
    pay_v3,
    paydriver,
    paydriver_v3,
    tokens,
    transfer_bills,
)
from .config import load_config
from .store import EXTENSION, Store


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(load_config(config))
    app.json.ensure_ascii = False  # Chinese stays readable in the driver API's JSON
    app.json.sort_keys = False
    app.extensions[EXTENSION] = Store(app.config)
    pay_v3.init_app(app)  # the APIv3 platform key: generated once per app, kept over /sim/reset
    register_blueprints(app)
    return app


def register_blueprints(app: Flask) -> None:
    modules = (tokens, api, media, messaging, oauth, pay, paydriver, driver, inspection, jssdk)
    modules += (pay_v3, transfer_bills, paydriver_v3)
    for module in modules:
        app.register_blueprint(module.bp)

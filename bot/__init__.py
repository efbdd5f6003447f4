"""The WeChat official-account bot: webhook, dispatch, handlers."""

from __future__ import annotations

from flask import Flask

from bot.dispatch import build_robot
from bot.webhook import ROBOT, bp


def init_app(app: Flask) -> None:
    app.extensions[ROBOT] = build_robot(app.config["WECHAT_TOKEN"])
    app.register_blueprint(bp)

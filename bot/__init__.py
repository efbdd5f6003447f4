"""The WeChat official-account bot: webhook, dispatch, handlers, outbound client."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bot import notifications
    from bot.dispatch import build_robot
    from bot.webhook import ROBOT, bp

    app.extensions[ROBOT] = build_robot(app.config["WECHAT_TOKEN"])
    app.register_blueprint(bp)
    notifications.register()

"""The WeChat simulator: a separate Flask app playing WeChat's servers and client (filled in by
the bot issue)."""

from __future__ import annotations

from flask import Flask, jsonify


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})

    @app.get("/")
    def index():
        return "<!doctype html><meta charset=utf-8><title>微信模拟器</title><h1>微信模拟器</h1>"

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app

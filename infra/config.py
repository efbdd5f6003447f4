"""Configuration: embedded defaults, then the environment, then the mapping given to create_app."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from demo_identity import DEMO_NOTICE_TEMPLATE_ID, DEMO_PAY_PUBLIC_KEY_ID, DEMO_WECHAT

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
    "WECHAT_PAY_PRIVATE_KEY",
    "WECHAT_PAY_CERT_SERIAL",
    "WECHAT_PAY_APIV3_KEY",
    "WECHAT_PAY_PUBLIC_KEY",
    "WECHAT_PAY_PUBLIC_KEY_ID",
    "WECHAT_PAY_CERT_DIR",
    "WECHAT_PAY_NOTIFY_BASE",
    "WECHAT_PAY_V3_API_BASE",
    "WECHAT_MAX_CLOCK_SKEW",
    "WECHAT_TEMPLATE_ID",
    "POSTER_FONT_PATH",
    "MERCHANT_API_TOKEN",
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
    if not cfg.get("WECHAT_PAY_V3_API_BASE"):
        # APIv3 paths start with /v3/, so the simulator serves them from its root.
        cfg["WECHAT_PAY_V3_API_BASE"] = (
            V3_API_BASE if mode == "production" else cfg["WECHAT_API_BASE"].rstrip("/")
        )
    if not cfg.get("WECHAT_PAY_NOTIFY_BASE"):
        cfg["WECHAT_PAY_NOTIFY_BASE"] = cfg["PUBLIC_BASE_URL"]
    if mode in ("demo", "test"):
        demo_pay_keys(instance, cfg)
        if not cfg.get("MERCHANT_API_TOKEN"):
            # The merchant endpoints of /api/v1 (web.api): made once per instance, kept beside
            # secret_key. In production, unset means those endpoints answer 403.
            path = persist_once(instance / "merchant_api_token", secrets.token_hex(24).encode())
            cfg["MERCHANT_API_TOKEN"] = path.read_text().strip()
    elif cfg.get("WECHAT_PAY_MCH_ID") and not legacy_v2_only(cfg):
        check_pay_v3(cfg)
    cfg["TESTING"] = mode == "test" or bool(cfg.get("TESTING"))
    if mode == "test" and "STAFF_PASSWORD_HASHING" not in raw:
        # Console passwords in tests: still argon2id, at its cheapest (thousands of sign-ins
        # would otherwise spend minutes hashing). Production keeps argon2-cffi's defaults.
        cfg["STAFF_PASSWORD_HASHING"] = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}
    cfg["WECHAT_MAX_CLOCK_SKEW"] = int(cfg["WECHAT_MAX_CLOCK_SKEW"])
    cfg["SETTLEMENT_WORKERS"] = _positive_int("SETTLEMENT_WORKERS", cfg["SETTLEMENT_WORKERS"])
    if not cfg.get("WECHAT_TEMPLATE_ID") and mode != "production":
        cfg["WECHAT_TEMPLATE_ID"] = DEMO_NOTICE_TEMPLATE_ID

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


# WeChat Pay APIv3 (wechat.pay_v3). The signing key, its certificate serial and the APIv3 key
# are the merchant's; WeChat's side is either its platform public key with its id (「微信支付公钥」,
# the mode WeChat gives new merchants) or a directory of platform certificates (「平台证书」).
V3_API_BASE = "https://api.mch.weixin.qq.com"
PAY_V3_REQUIRED = ("WECHAT_PAY_PRIVATE_KEY", "WECHAT_PAY_CERT_SERIAL", "WECHAT_PAY_APIV3_KEY")
PAY_KEY_DIR = "wechat_pay"


PAY_V3_NAMES = (
    *PAY_V3_REQUIRED,
    "WECHAT_PAY_PUBLIC_KEY",
    "WECHAT_PAY_PUBLIC_KEY_ID",
    "WECHAT_PAY_CERT_DIR",
)


def legacy_v2_only(cfg: Mapping[str, Any]) -> bool:
    """A deployment that pays through WeChat Pay v2 (its API key set) and names nothing of
    APIv3 keeps starting as it did; a change of channel comes with the APIv3 set."""
    return bool(cfg.get("WECHAT_PAY_API_KEY")) and not any(cfg.get(n) for n in PAY_V3_NAMES)


def check_pay_v3(cfg: dict[str, Any]) -> None:
    """Outside demo and test mode, a merchant id means Pay is on: its APIv3 set must be whole."""
    missing = [n for n in PAY_V3_REQUIRED if not cfg.get(n)]
    has_public_key = bool(cfg.get("WECHAT_PAY_PUBLIC_KEY") and cfg.get("WECHAT_PAY_PUBLIC_KEY_ID"))
    if not has_public_key and not cfg.get("WECHAT_PAY_CERT_DIR"):
        missing.append("WECHAT_PAY_PUBLIC_KEY + WECHAT_PAY_PUBLIC_KEY_ID (or WECHAT_PAY_CERT_DIR)")
    if missing:
        raise ConfigError(
            f"WECHAT_PAY_MCH_ID is set but WeChat Pay APIv3 lacks: {', '.join(missing)} "
            "(unset WECHAT_PAY_MCH_ID to run without Pay)"
        )
    if len(str(cfg["WECHAT_PAY_APIV3_KEY"]).encode()) != 32:
        raise ConfigError("WECHAT_PAY_APIV3_KEY must be 32 bytes (the APIv3 key set in 商户平台)")
    try:
        serialization.load_pem_private_key(read_pem(cfg["WECHAT_PAY_PRIVATE_KEY"]).encode(), None)
    except (OSError, ValueError, TypeError) as e:
        raise ConfigError(
            f"WECHAT_PAY_PRIVATE_KEY is not a readable PEM private key ({one_line(e)})"
        ) from e
    if has_public_key:
        try:
            serialization.load_pem_public_key(read_pem(cfg["WECHAT_PAY_PUBLIC_KEY"]).encode())
        except (OSError, ValueError) as e:
            raise ConfigError(
                f"WECHAT_PAY_PUBLIC_KEY is not a readable PEM public key ({one_line(e)})"
            ) from e
    elif not Path(cfg["WECHAT_PAY_CERT_DIR"]).is_dir():
        raise ConfigError(f"WECHAT_PAY_CERT_DIR {cfg['WECHAT_PAY_CERT_DIR']!r} is not a directory")


def one_line(error: Exception) -> str:
    """cryptography's messages run over several lines; a ConfigError is one."""
    return " ".join(str(error).split())[:200]


def read_pem(value: str) -> str:
    """A PEM setting is the PEM text itself or the path of a file holding it."""
    value = str(value)
    if value.lstrip().startswith("-----BEGIN"):
        return value
    return Path(value).read_text()


def cert_serial(public_key) -> str:
    """A stable serial for a generated demo key: 40 hex digits, as WeChat's serials are."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = hashes.Hash(hashes.SHA1())
    digest.update(der)
    return digest.finalize().hex().upper()


_generated_key: list[bytes] = []  # one RSA key per process: tests build many instances


def demo_pay_keys(instance: Path, cfg: dict[str, Any]) -> None:
    """Demo and test mode: the merchant's key pair and APIv3 key, made once per instance and kept
    under instance/wechat_pay/ (as secret_key is), where the simulator reads the public half and
    the APIv3 key. The platform public key is the simulator's to write there (see the report)."""
    folder = instance / PAY_KEY_DIR
    if not cfg.get("WECHAT_PAY_PRIVATE_KEY"):
        if not _generated_key:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            _generated_key.append(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
        private_path = persist_once(folder / "merchant_private_key.pem", _generated_key[0])
        private = serialization.load_pem_private_key(private_path.read_bytes(), None)
        public_pem = private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        persist_once(folder / "merchant_public_key.pem", public_pem)
        cfg["WECHAT_PAY_PRIVATE_KEY"] = str(private_path)
        if not cfg.get("WECHAT_PAY_CERT_SERIAL"):
            cfg["WECHAT_PAY_CERT_SERIAL"] = cert_serial(private.public_key())
    if not cfg.get("WECHAT_PAY_APIV3_KEY"):
        path = persist_once(folder / "apiv3_key", secrets.token_hex(16).encode())
        cfg["WECHAT_PAY_APIV3_KEY"] = path.read_text().strip()
    if not cfg.get("WECHAT_PAY_CERT_DIR"):
        if not cfg.get("WECHAT_PAY_PUBLIC_KEY"):
            cfg["WECHAT_PAY_PUBLIC_KEY"] = str(folder / "platform_public_key.pem")
        if not cfg.get("WECHAT_PAY_PUBLIC_KEY_ID"):
            cfg["WECHAT_PAY_PUBLIC_KEY_ID"] = DEMO_PAY_PUBLIC_KEY_ID


def persist_once(path: Path, content: bytes) -> Path:
    """Write `content` to `path` unless it exists; concurrent starters agree on one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        # Written aside and hard-linked into place, so no reader ever sees a half-written file.
        tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path

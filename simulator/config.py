"""The simulator's settings: embedded defaults, then the environment, then the dict (which wins).

Names shared with the main app (WECHAT_*, FENXIAO_MODE, PUBLIC_BASE_URL) mean the same thing, so
one environment configures both sides of the conversation.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

# The demo credentials are the fallback: the simulator is never WeChat itself.
from demo_identity import DEMO_PAY_PUBLIC_KEY_ID, DEMO_WECHAT, PEOPLE

DAY = 86400

# name -> (default, type); strings from the environment are converted with the type.
SETTINGS: dict[str, tuple[Any, type]] = {
    "FENXIAO_MODE": ("demo", str),
    "INSTANCE_PATH": (None, str),  # the app's instance folder (demo: its WeChat Pay keys)
    "PUBLIC_BASE_URL": (None, str),
    "WECHAT_TOKEN": (DEMO_WECHAT["WECHAT_TOKEN"], str),
    "WECHAT_APPID": (DEMO_WECHAT["WECHAT_APPID"], str),
    "WECHAT_APPSECRET": (DEMO_WECHAT["WECHAT_APPSECRET"], str),
    "WECHAT_AES_KEY": (None, str),
    "WECHAT_PAY_MCH_ID": (DEMO_WECHAT["WECHAT_PAY_MCH_ID"], str),
    "WECHAT_PAY_API_KEY": (DEMO_WECHAT["WECHAT_PAY_API_KEY"], str),
    "SIM_ACCOUNT_ID": ("gh_f3n51a0d3m0a", str),  # the account's original id (ToUserName)
    "SIM_WEBHOOK_URL": (None, str),  # default: PUBLIC_BASE_URL + /wechat
    "SIM_DELIVERY_TIMEOUT": (5.0, float),
    "SIM_DELIVERY_TRIES": (3, int),
    "SIM_TOKEN_TTL": (7200, int),
    "SIM_TOKEN_GRACE": (300, int),
    "SIM_TOKEN_DAILY_LIMIT": (2000, int),
    "SIM_MEDIA_TTL": (3 * DAY, int),
    "SIM_MEDIA_MAX_BYTES": (2 * 1024 * 1024, int),
    "SIM_QR_PERMANENT_LIMIT": (100_000, int),
    "SIM_CS_WINDOW": (48 * 3600, int),
    "SIM_CS_QUOTA_MESSAGE": (5, int),  # custom messages allowed after one user message
    "SIM_CS_QUOTA_EVENT": (3, int),  # per minute after a click / subscribe / scan
    "SIM_TEMPLATE_DAILY_LIMIT": (100_000, int),
    "SIM_MASS_MONTHLY_QUOTA": (4, int),  # a service account's monthly mass sends
    "SIM_TEMPLATE_EVENT_DELAY": (0.2, float),  # before TEMPLATESENDJOBFINISH goes out
    "SIM_NOTIFY_TIMEOUT": (5.0, float),
    # WeChat Pay's documented notify schedule after a failed first try (seconds).
    "SIM_NOTIFY_RETRY_DELAYS": ("15,15,30,180,1800,1800,1800,1800,3600", str),
    "SIM_TRANSFER_MIN_FEN": (30, int),  # 企业付款 refuses less than 0.30 yuan
    # WeChat Pay APIv3 (see pay_v3.py). The WECHAT_PAY_* names mean what they mean to the app:
    # the merchant's APIv3 key (32 bytes), its private key (PEM text or file; the simulator uses
    # only the public half) and certificate serial, and the platform public key id the app expects.
    "WECHAT_PAY_APIV3_KEY": (None, str),  # else SIM_PAYV3_KEY_DIR/apiv3_key, else a demo key
    "WECHAT_PAY_PRIVATE_KEY": (None, str),
    "WECHAT_PAY_CERT_SERIAL": (None, str),
    "WECHAT_PAY_PUBLIC_KEY_ID": (DEMO_PAY_PUBLIC_KEY_ID, str),
    "SIM_PAYV3_MERCHANT_PUBLIC_KEY": (None, str),  # or the merchant's public key or certificate
    # The app's demo key folder: the merchant's public key and APIv3 key are read from it when
    # they appear; the platform key pair is kept and published in it. Demo mode's default is
    # INSTANCE_PATH/wechat_pay, where the app's demo writes them.
    "SIM_PAYV3_KEY_DIR": (None, str),
    "SIM_PAYV3_PLATFORM_KEY": (None, str),  # PEM text or file; default: generated at start
    "SIM_PAYV3_SERIAL_MODE": ("public_key", str),  # or "certificate": what Wechatpay-Serial names
    "SIM_PAYV3_CLOCK_SKEW": (300, int),  # a request's timestamp may be this far off (seconds)
    # APIv3's notify schedule after a failed try (seconds):
    # 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h.
    "SIM_PAYV3_NOTIFY_RETRY_DELAYS": (
        "15,15,30,180,600,1200,1800,1800,1800,3600,10800,10800,10800,21600,21600",
        str,
    ),
    "SIM_PAYV3_REFUND_SECONDS": (1.0, float),  # a refund's PROCESSING before SUCCESS
    "SIM_PAYV3_CANCEL_SECONDS": (1.0, float),  # a bill's CANCELING before CANCELLED
    "SIM_SEED_USERS": (None, str),  # "openid:nickname,..."; demo mode adds the seeded people
}


def load_config(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the environment, then overrides; typed, with the derived defaults filled."""
    cfg: dict[str, Any] = {name: default for name, (default, _) in SETTINGS.items()}
    cfg.update({name: os.environ[name] for name in SETTINGS if os.environ.get(name)})
    cfg.update(overrides or {})
    for name, (_, kind) in SETTINGS.items():
        if isinstance(cfg[name], str) and kind in (int, float):
            cfg[name] = kind(cfg[name])
    if not cfg.get("SIM_WEBHOOK_URL"):
        base = (cfg.get("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/")
        cfg["SIM_WEBHOOK_URL"] = base + "/wechat"
    for name in ("SIM_NOTIFY_RETRY_DELAYS", "SIM_PAYV3_NOTIFY_RETRY_DELAYS"):
        if isinstance(cfg[name], str):
            cfg[name] = [float(d) for d in cfg[name].split(",") if d.strip()]
    if not cfg.get("SIM_PAYV3_KEY_DIR") and cfg["FENXIAO_MODE"] == "demo" and cfg["INSTANCE_PATH"]:
        cfg["SIM_PAYV3_KEY_DIR"] = os.path.join(cfg["INSTANCE_PATH"], "wechat_pay")
    # Uploads over the media limit must reach the view, which answers like WeChat (40009).
    cfg.setdefault("MAX_CONTENT_LENGTH", 16 * 1024 * 1024)
    cfg["SIM_SEED_USERS"] = seed_users(cfg)
    return cfg


def seed_users(cfg: Mapping[str, Any]) -> dict[str, str]:
    """openid -> nickname of the users present from the start (the demo's seeded people)."""
    raw = cfg.get("SIM_SEED_USERS")
    if isinstance(raw, Mapping):
        return dict(raw)
    users: dict[str, str] = {}
    if raw is None and cfg.get("FENXIAO_MODE") == "demo":
        users.update(PEOPLE)  # so the demo's seeded distributors can chat and be paid
    for item in (raw or "").split(","):
        openid, _, nickname = item.strip().partition(":")
        if openid:
            users[openid] = nickname or openid
    return users

"""The simulator's in-memory state: one lock-protected store per app, on app.extensions.

`flask run` serves requests on threads and deliveries run on background threads, so every read
and write of shared state happens under `store.lock` (re-entrant, so helpers may nest). Network
calls (webhook deliveries, pay notifies) are made outside the lock.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app

from .template_library import SEEDED, private_template

EXTENSION = "fenxiao.simulator"
CHINA = timezone(timedelta(hours=8))  # WeChat's daily and monthly limits reset in Beijing time
ALPHABET = string.ascii_letters + string.digits + "-_"


def random_id(length: int, alphabet: str = ALPHABET) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class User:
    openid: str
    nickname: str
    language: str = "zh_CN"
    unionid: str = ""
    subscribed: bool = False
    subscribe_time: int | None = None
    subscribe_scene: str = "ADD_SCENE_OTHERS"
    qr_scene_str: str = ""
    created_at: float = 0.0
    # The customer-service window: the last interaction, its kind, and the sends since then.
    last_interaction: float | None = None
    last_interaction_kind: str | None = None  # "message" | "event"
    cs_sends: list[float] = field(default_factory=list)
    last_create_time: int = 0  # CreateTime of the last push, kept strictly increasing
    conversation: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Token:
    value: str
    issued_at: float
    expires_at: float
    replaced_at: float | None = None


@dataclass
class QrCode:
    ticket: str
    url: str
    scene: str
    action_name: str
    created_at: float
    expires_at: float | None  # None: permanent

    @property
    def permanent(self) -> bool:
        return self.expires_at is None


@dataclass
class Media:
    media_id: str
    type: str
    content_type: str
    data: bytes
    created_at: float


class Store:
    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.lock = threading.RLock()
        self.offset = 0.0  # the test clock: seconds added to the real time
        self.reset()

    def now(self) -> float:
        return time.time() + self.offset

    def china_now(self) -> datetime:
        return datetime.fromtimestamp(self.now(), CHINA)

    def reset(self) -> None:
        """Forget everything (but the configuration); the seeded users come back as followers."""
        with self.lock:
            self.offset = 0.0
            self.seq = 0
            self.users: dict[str, User] = {}
            self.tokens: dict[str, Token] = {}
            self.current_token: str | None = None
            self.counters: dict[str, int] = {}  # e.g. "token:2026-01-01", "mass:2026-01"
            self.qrcodes: dict[str, QrCode] = {}  # by ticket
            self.qr_by_url: dict[str, QrCode] = {}
            self.media: dict[str, Media] = {}
            self.menu: dict[str, Any] | None = None
            self.templates: list[dict[str, Any]] = []  # every template message sent
            # The account's own templates (template_library), by template_id.
            self.private_templates: dict[str, dict[str, Any]] = {
                template_id: private_template(template_id, short_id)
                for template_id, short_id in SEEDED.items()
            }
            self.mass: list[dict[str, Any]] = []
            self.oauth_codes: dict[str, dict[str, Any]] = {}
            self.sns_tokens: dict[str, dict[str, Any]] = {}
            self.deliveries: list[dict[str, Any]] = []
            self.orders: dict[str, dict[str, Any]] = {}  # by out_trade_no
            self.refunds: dict[str, dict[str, Any]] = {}  # by out_refund_no
            self.transfers: dict[str, dict[str, Any]] = {}  # by partner_trade_no
            self.transfer_faults: list[dict[str, Any]] = []
            # The JS-SDK (jssdk): live jsapi tickets (-> expiry) and every page's wx.config answer.
            self.jsapi_tickets: dict[str, float] = {}
            self.jssdk_configs: list[dict[str, Any]] = []
            # WeChat Pay APIv3 (pay_v3, transfer_bills): its own orders, refunds, bills, faults.
            self.v3_orders: dict[str, dict[str, Any]] = {}  # by out_trade_no
            self.v3_refunds: dict[str, dict[str, Any]] = {}  # by out_refund_no
            self.v3_bills: dict[str, dict[str, Any]] = {}  # by out_bill_no
            self.v3_faults: list[dict[str, Any]] = []
            self.v3_notifies: list[dict[str, Any]] = []  # every delivery attempt
            for openid, nickname in self.config.get("SIM_SEED_USERS", {}).items():
                self.add_user(openid=openid, nickname=nickname, subscribed=True)

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def count(self, key: str, by: int = 1) -> int:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + by
            return self.counters[key]

    # -- users --------------------------------------------------------------------------------
    def add_user(
        self,
        openid: str | None = None,
        nickname: str | None = None,
        language: str = "zh_CN",
        subscribed: bool = False,
    ) -> User:
        with self.lock:
            openid = openid or "o" + random_id(27)
            number = len(self.users) + 1
            user = User(
                openid=openid,
                nickname=nickname or f"微信用户{number}",
                language=language,
                unionid="u" + random_id(27),
                created_at=self.now(),
            )
            if subscribed:
                user.subscribed, user.subscribe_time = True, int(self.now())
            self.users[openid] = user
            return user

    def user(self, openid: str) -> User | None:
        with self.lock:
            return self.users.get(openid)

    def record(self, openid: str, kind: str, **fields: Any) -> dict[str, Any]:
        """Append an entry to the user's conversation, as the user's phone would show it."""
        with self.lock:
            entry = {"id": self.next_seq(), "kind": kind, "time": int(self.now()), **fields}
            self.users[openid].conversation.append(entry)
            return entry

    def interact(self, openid: str, kind: str) -> None:
        """A user message or event opens the 48 h window and starts a new send quota."""
        with self.lock:
            user = self.users[openid]
            user.last_interaction, user.last_interaction_kind = self.now(), kind
            user.cs_sends = []


def get_store(app=None) -> Store:
    return (app or current_app).extensions[EXTENSION]

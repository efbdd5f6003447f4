"""Poster rules, with no I/O: the poster cache key, the invite QR code's scene and renewal, when an
uploaded media_id is still good, and who may have posters and material at all.

WeChat docs followed: 「生成带参数的二维码」 (temporary QR_STR_SCENE codes last at most 30 days)
and 「新增临时素材」 (a temporary media_id lasts 3 days).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import astuple, dataclass
from datetime import datetime, timedelta

SCENE_PREFIX = "d_"  # an invite QR code's scene is d_<distributor code>
INVITE_QR_SECONDS = 30 * 86400  # WeChat's maximum for a temporary code
QR_RENEW_BEFORE = timedelta(days=3)  # a poster drawn now stays scannable for 3 days at least
MEDIA_LIFETIME = timedelta(days=3)
MEDIA_RENEW_BEFORE = timedelta(hours=1)
NOT_A_DISTRIBUTOR = "none"  # the status told to someone with no distributor row at all


@dataclass(frozen=True)
class PosterKey:
    """Everything a poster's pixels depend on. Any change renders a new poster."""

    distributor_id: int
    product_id: int | None
    template_version: int
    qr_content: str
    avatar_version: str
    product_version: str = ""
    shop_name: str = ""  # an invite poster names the shop: a renamed shop, new posters

    @property
    def digest(self) -> str:
        """The key as stored (`posters.cache_key`, unique): sha256 of every part (but an empty
        shop_name, so that posters whose pixels don't show it keep the keys they had)."""
        parts = astuple(self)
        if not self.shop_name:
            parts = parts[:-1]
        return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()


def avatar_version(nickname: str, avatar_url: str | None) -> str:
    """The version of what the poster shows of the distributor: nickname and avatar."""
    return hashlib.sha1(f"{nickname}\n{avatar_url or ''}".encode()).hexdigest()[:16]


def product_version(title: str, price_fen: int, images: list[str] | None) -> str:
    """The version of what a product poster shows of the product: title, price and images."""
    shown = json.dumps([title, price_fen, images], ensure_ascii=False)
    return hashlib.sha1(shown.encode()).hexdigest()[:16]


def product_link(base_url: str, product_id: int, code: str) -> str:
    """The shop link a product poster's QR code carries (docs/architecture.md: /p/<id>?d=<code>)."""
    return f"{base_url.rstrip('/')}/p/{product_id}?d={code}"


def invite_scene(code: str) -> str:
    """The scene of a distributor's invite QR code; a scan or follow with it binds to them."""
    return f"{SCENE_PREFIX}{code}"


def qr_needs_renewal(expires_at: datetime | None, at: datetime) -> bool:
    """An invite QR code is renewed once it has less than QR_RENEW_BEFORE left."""
    return expires_at is None or at >= expires_at - QR_RENEW_BEFORE


def media_valid(expires_at: datetime | None, at: datetime) -> bool:
    """A cached media_id is used only while it has a margin left (renewed a little early)."""
    return expires_at is not None and at < expires_at - MEDIA_RENEW_BEFORE


def media_expires_at(uploaded_at: datetime) -> datetime:
    """When temporary media uploaded at `uploaded_at` stops being accepted by WeChat."""
    return uploaded_at + MEDIA_LIFETIME


@dataclass(frozen=True)
class Inactive:
    """Why someone may not have posters or material: their distributor status ("none" when they
    are no distributor at all) and, when frozen or rejected, the merchant's reason."""

    status: str
    reason: str = ""


def inactive(
    status: str | None, frozen_reason: str | None = None, reject_reason: str | None = None
) -> Inactive | None:
    """None for an active distributor; else their status (None: no distributor) and the reason
    that goes with it: the freeze's reason when frozen, else the last rejection's."""
    if status == "active":
        return None
    if status is None:
        return Inactive(NOT_A_DISTRIBUTOR)
    reason = frozen_reason if status == "frozen" else reject_reason
    return Inactive(status, reason or "")

"""Each distributor's invite QR code: a temporary QR_STR_SCENE code from WeChat (scene d_<code>,
30 days), kept in `invite_qrcodes` and renewed, under a Redis lock, shortly before it expires.

WeChat docs followed: 「生成带参数的二维码」 (the answer's `url` is the QR content, drawn locally).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from infra.clock import now
from infra.db import unit_of_work
from infra.redis_client import get_redis
from models import InviteQrCode, db
from models.poster_rules import INVITE_QR_SECONDS, invite_scene, qr_needs_renewal
from wechat.gateway import official_account

log = logging.getLogger(__name__)

LOCK_SECONDS = 60


def live_url(distributor_id: int) -> str | None:
    """The distributor's invite QR content if their code is not due for renewal, else None."""
    row = db.session.get(InviteQrCode, distributor_id)
    if row is None or qr_needs_renewal(row.expires_at, now()):
        return None
    return row.url


def invite_qr_url(distributor_id: int, code: str) -> str:
    """The distributor's live invite QR content, created or renewed (under a lock) as needed."""
    url = live_url(distributor_id)
    if url is not None:
        return url

    with get_redis().lock(
        f"poster:qr:{distributor_id}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS
    ):
        db.session.rollback()  # see what the previous holder committed
        url = live_url(distributor_id)
        if url is not None:
            return url
        return renew_invite_qr(distributor_id, code).url


def renew_invite_qr(distributor_id: int, code: str) -> InviteQrCode:
    """A new temporary QR_STR_SCENE code with scene d_<code>, valid 30 days."""

    scene = invite_scene(code)
    answer = official_account().create_scene_qrcode(scene, INVITE_QR_SECONDS)
    expires_at = now() + timedelta(seconds=int(answer.get("expire_seconds", INVITE_QR_SECONDS)))
    with unit_of_work():
        row = db.session.get(InviteQrCode, distributor_id)
        if row is None:
            row = InviteQrCode(distributor_id=distributor_id)
            db.session.add(row)
        row.scene, row.ticket, row.url = scene, answer["ticket"], answer["url"]
        row.expires_at, row.created_at = expires_at, now()
    log.info("invite QR code for distributor %s renewed until %s", distributor_id, expires_at)
    return row

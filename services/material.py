"""Promo material (素材): the merchant adds copy text and up to 9 images; `素材` sends the newest
published item to a distributor as customer-service messages (images, then the text)."""

from __future__ import annotations

import io
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from wechatpy.exceptions import WeChatClientException

from infra.clock import now
from infra.db import unit_of_work
from infra.jobs import HIGH, PendingJob, get_queue
from infra.redis_client import get_redis
from models import Product, PromoImage, PromoMaterial, User, db
from models.errors import DomainError, NotFound
from models.material import MAX_IMAGES
from models.poster_rules import media_expires_at, media_valid
from services.posters import load_subject, refusal, upload_image
from wechat.outbound import send_image, send_text

log = logging.getLogger(__name__)

MAX_TEXT = 2000
IMAGE_MAX_BYTES = 2 * 1024 * 1024  # WeChat's limit for an image sent as temporary media
IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}
QUOTA_ERRORS = (45047, 45015)  # out of the customer-service quota, or of the 48 h window
SEND_JOB = "workers.material.send_material"
PAGE_PATH = "/me/material"


class InvalidMaterial(DomainError):
    code = "invalid_material"


# -- pure rules ---------------------------------------------------------------------------------
def check_material(text: str, images: list[bytes]) -> list[str]:
    """The images' content types, or InvalidMaterial saying what is wrong."""
    if not text.strip() and not images:
        raise InvalidMaterial("material needs text or at least one image")
    if len(text) > MAX_TEXT:
        raise InvalidMaterial(f"the text is longer than {MAX_TEXT} characters")
    if len(images) > MAX_IMAGES:
        raise InvalidMaterial(f"at most {MAX_IMAGES} images, not {len(images)}")
    return [image_type(data, i + 1) for i, data in enumerate(images)]


def image_type(data: bytes, number: int) -> str:
    if len(data) > IMAGE_MAX_BYTES:
        raise InvalidMaterial(f"image {number} is over 2 MB")
    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise InvalidMaterial(f"image {number} is not a readable picture ({e})") from None
    if kind not in IMAGE_TYPES:
        raise InvalidMaterial(f"image {number} is {kind}; WeChat takes JPEG or PNG")
    return IMAGE_TYPES[kind]


# -- the merchant's side ------------------------------------------------------------------------
def add_material(
    text: str,
    images: list[bytes] = (),
    product_id: int | None = None,
    publish_at: datetime | None = None,
) -> PromoMaterial:
    """Store a material item, published at `publish_at` (now by default)."""
    images = list(images)
    types = check_material(text, images)
    if publish_at is not None and publish_at.tzinfo is None:
        raise InvalidMaterial("publish_at needs a time zone")
    with unit_of_work():
        if product_id is not None and db.session.get(Product, product_id) is None:
            raise NotFound(f"no product {product_id}", what="product")
        material = PromoMaterial(
            text=text.strip(), product_id=product_id, publish_at=publish_at or now()
        )
        db.session.add(material)
        for position, (data, content_type) in enumerate(zip(images, types, strict=True)):
            db.session.add(
                PromoImage(
                    material=material, position=position, data=data, content_type=content_type
                )
            )
    return material


def list_material(published_only: bool = False, at: datetime | None = None) -> list[PromoMaterial]:
    """Material, newest publish time first (with images, and products for their links)."""
    stmt = select(PromoMaterial).options(selectinload(PromoMaterial.images))
    if published_only:
        stmt = stmt.where(PromoMaterial.publish_at <= (at or now()))
    return list(
        db.session.scalars(stmt.order_by(PromoMaterial.publish_at.desc(), PromoMaterial.id.desc()))
    )


def newest_published(at: datetime | None = None) -> PromoMaterial | None:
    return db.session.scalar(
        select(PromoMaterial)
        .where(PromoMaterial.publish_at <= (at or now()))
        .order_by(PromoMaterial.publish_at.desc(), PromoMaterial.id.desc())
        .limit(1)
    )


# -- the distributor's side ---------------------------------------------------------------------
@dataclass(frozen=True)
class MaterialAnswer:
    """`sending` (how many images, the page listing all material), `none` or `inactive`."""

    kind: str
    images: int = 0
    page_url: str = ""
    status: str = ""
    reason: str = ""


def request_material(distributor_id: int) -> MaterialAnswer:
    """`素材`: queue the newest published item for sending, and say so at once."""
    subject = load_subject(distributor_id)
    refused = refusal(subject)
    if refused is not None:
        return MaterialAnswer("inactive", status=refused.status, reason=refused.reason)
    material = newest_published()
    if material is None:
        return MaterialAnswer("none")
    images = len(material.images)
    material_id = material.id
    db.session.rollback()

    nonce = secrets.token_hex(8)
    PendingJob(
        get_queue(HIGH),
        SEND_JOB,
        (material_id, subject.user_id, nonce),
        {},
        {"job_id": f"material-{nonce}"},
    ).enqueue()
    page = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + PAGE_PATH
    return MaterialAnswer("sending", images=images, page_url=page)


def send_material(material_id: int, user_id: int, nonce: str) -> int:
    """Send the item's images, then its text; each send recorded once. Returns how many went
    out. WeChat's customer-service quota (45047) ends the batch: the rest is on the page."""

    material = db.session.get(PromoMaterial, material_id)
    user = db.session.get(User, user_id)
    if material is None or user is None:
        return 0
    image_ids = [image.id for image in material.images]
    text = material.text
    sent = 0
    try:
        for position, image_id in enumerate(image_ids):
            media_id = image_media(image_id)
            if send_image(f"material:{material_id}:{nonce}:{position}", user, media_id):
                sent += 1
        if text and send_text(f"material:{material_id}:{nonce}:text", user, text):
            sent += 1
    except WeChatClientException as e:
        if e.errcode not in QUOTA_ERRORS:
            raise
        log.info("material %s to %s stopped after %s sends: %s", material_id, user.openid, sent, e)
    return sent


def image_media(image_id: int) -> str:
    """The image's temporary media_id, uploaded again once the cached one is expiring."""

    image = db.session.get(PromoImage, image_id)
    if media_valid(image.media_expires_at, now()):
        return image.media_id
    with get_redis().lock(f"material:media:{image_id}", timeout=60, blocking_timeout=60):
        db.session.rollback()
        image = db.session.get(PromoImage, image_id)
        if media_valid(image.media_expires_at, now()):
            return image.media_id
        extension = "png" if image.content_type == "image/png" else "jpg"
        media_id = upload_image(image.data, f"material-{image_id}.{extension}")
        with unit_of_work():
            image = db.session.get(PromoImage, image_id)
            image.media_id, image.media_expires_at = media_id, media_expires_at(now())
        return media_id


def material_or_404(material_id: int) -> PromoMaterial:
    material = db.session.get(PromoMaterial, material_id)
    if material is None:
        raise NotFound(f"no material {material_id}", what="material")
    return material

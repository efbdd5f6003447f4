"""Posters: render-once caching and the request flow (the bot's `海报`, the distributor's page).

A poster is keyed by (distributor, product, template version, QR content, avatar version, product
version: models.poster_rules.PosterKey); the key's sha256 is unique in `posters`, and rendering
happens under a Redis lock on that key, so the same key is never rendered twice, even by
concurrent workers. The JPEG is kept, so an expired media_id (temporary media lasts 3 days) is
renewed by uploading it again, not by rendering.

WeChat docs followed: 「新增临时素材」 (media_id valid 3 days). The invite QR code a poster carries
is services.invite_qr's.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass

import requests
from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from infra.clock import now
from infra.db import insert_ignore, unit_of_work
from infra.jobs import HIGH, PendingJob, get_queue
from infra.redis_client import get_redis
from models import Distributor, Poster, PosterTemplate, Product, ProductPhoto, User, db
from models.base import begin_write
from models.identifiers import parse_id
from models.poster_rules import (
    Inactive,
    PosterKey,
    avatar_version,
    inactive,
    media_expires_at,
    media_valid,
    product_link,
    product_version,
)
from render import compose
from render.compose import PosterContent
from render.design import PosterDesign, default_design
from services import invite_qr
from services.catalog import first_photo_ids
from services.merchant import merchant
from texts import messages
from wechat.gateway import official_account
from wechat.outbound import send_image

log = logging.getLogger(__name__)

PENDING_SECONDS = 120  # one poster job per distributor and product at a time
LOCK_SECONDS = 120
IMAGE_CACHE_SECONDS = 7 * 86400
IMAGE_MAX_BYTES = 2 * 1024 * 1024
MAKE_JOB = "workers.posters.make_poster"


# -- reading the current state (the bot's fast path: reads only) --------------------------------
@dataclass(frozen=True)
class Subject:
    """The distributor (and product) a poster is for, as plain data."""

    distributor_id: int
    inactive: Inactive | None  # None while the distributor is active
    code: str
    user_id: int
    openid: str
    nickname: str
    avatar_url: str | None
    product: Product | None = None
    shop_name: str = ""  # the merchant's, named on invite posters


def load_subject(distributor_id: int, product_id: int | None = None) -> Subject | None:
    row = db.session.execute(
        select(Distributor, User)
        .join(User, User.id == Distributor.user_id)
        .where(Distributor.id == distributor_id)
    ).first()
    if row is None:
        return None
    d, user = row
    product = db.session.get(Product, product_id) if product_id is not None else None
    return Subject(
        d.id,
        inactive(d.status, d.frozen_reason, d.reject_reason),
        d.code,
        user.id,
        user.openid,
        user.nickname or "",
        user.avatar_url,
        product,
        merchant().name,
    )


def refusal(subject: Subject | None) -> Inactive | None:
    """Why `subject` may not have posters or material (None: they may)."""
    return inactive(None) if subject is None else subject.inactive


def find_product(keyword: str) -> Product | None:
    """The on-sale product whose title contains `keyword` (the oldest first), or by its id."""
    keyword = keyword.strip()
    product_id = parse_id(keyword)  # digits past the id range are a keyword that matches nothing
    if product_id is not None:
        found = db.session.get(Product, product_id)
        if found is not None and found.on_sale:
            return found
    pattern = "%" + keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return db.session.scalar(
        select(Product)
        .where(Product.on_sale.is_(True), Product.title.ilike(pattern, escape="\\"))
        .order_by(Product.id)
        .limit(1)
    )


def template_version() -> int | None:
    return db.session.scalar(select(func.max(PosterTemplate.version)))


def current_key(subject: Subject, version: int, invite_url: str) -> PosterKey:
    """The key of the subject's poster now: an invite poster carries their invite QR code's
    content, a product poster the product's shop link with their code."""
    product = subject.product
    if product is None:
        return PosterKey(
            subject.distributor_id,
            None,
            version,
            invite_url,
            avatar_version(subject.nickname, subject.avatar_url),
            shop_name=subject.shop_name,
        )
    return PosterKey(
        subject.distributor_id,
        product.id,
        version,
        product_link(base_url(), product.id, subject.code),
        avatar_version(subject.nickname, subject.avatar_url),
        product_version(product.title, product.price_fen, shown_images(product)),
    )


def base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"]


def known_key(subject: Subject) -> PosterKey | None:
    """The subject's current cache key, when everything in it is known without the WeChat API
    (an invite poster needs a live QR code); None means only a job can tell."""
    version = template_version()
    invite_url = ""
    if subject.product is None:
        invite_url = invite_qr.live_url(subject.distributor_id)
        if invite_url is None:
            return None
    return None if version is None else current_key(subject, version, invite_url)


def cached_media(subject: Subject) -> str | None:
    """The media_id of this subject's current poster, if it is cached and still valid."""
    key = known_key(subject)
    if key is None:
        return None
    poster = db.session.execute(
        select(Poster.media_id, Poster.media_expires_at).where(Poster.cache_key == key.digest)
    ).first()
    if poster is None or not media_valid(poster.media_expires_at, now()):
        return None
    return poster.media_id


def cached_image(subject: Subject) -> bytes | None:
    """The JPEG of this subject's current poster, if it has been rendered."""
    key = known_key(subject)
    if key is None:
        return None
    return db.session.scalar(select(Poster.image).where(Poster.cache_key == key.digest))


@dataclass(frozen=True)
class PosterAnswer:
    """What the bot says: `image` (media_id), `making`, `already_making`, `no_product`,
    `sold_out` (the product's title in `reason`) or `inactive` (with the distributor's status
    and reason)."""

    kind: str
    media_id: str | None = None
    status: str = ""
    reason: str = ""


def request_poster(distributor_id: int, keyword: str | None = None) -> PosterAnswer:
    """`海报` / `海报 <keyword>`: the cached image at once, else a job on the `high` queue."""
    subject = load_subject(distributor_id)
    refused = refusal(subject)
    if refused is not None:
        return PosterAnswer("inactive", status=refused.status, reason=refused.reason)
    product = None
    if keyword:
        product = find_product(keyword)
        if product is None:
            return PosterAnswer("no_product")
        if product.sold_out:  # a poster for what nobody can buy would only disappoint
            return PosterAnswer("sold_out", reason=product.title)
        subject = load_subject(distributor_id, product.id)
    media_id = cached_media(subject)
    product_id = product.id if product else None
    db.session.rollback()  # end the read transaction before talking to Redis
    if media_id:
        return PosterAnswer("image", media_id=media_id)
    if not enqueue_poster(distributor_id, product_id, send=True):
        return PosterAnswer("already_making")
    return PosterAnswer("making")


def _pending_key(distributor_id: int, product_id: int | None) -> str:
    return f"poster:pending:{distributor_id}:{product_id or 0}"


def enqueue_poster(distributor_id: int, product_id: int | None, send: bool) -> bool:
    """Queue one poster job; False when one for the same poster is already on its way."""

    nonce = secrets.token_hex(8)
    if not get_redis().set(
        _pending_key(distributor_id, product_id), nonce, nx=True, ex=PENDING_SECONDS
    ):
        return False
    job_args = (distributor_id, product_id, nonce if send else None)
    try:
        PendingJob(get_queue(HIGH), MAKE_JOB, job_args, {}, {"job_id": f"poster-{nonce}"}).enqueue()
    except Exception:
        clear_pending(distributor_id, product_id)  # the next request may try again at once
        raise
    return True


def clear_pending(distributor_id: int, product_id: int | None) -> None:

    get_redis().delete(_pending_key(distributor_id, product_id))


# -- the template (the merchant's design, versioned) ---------------------------------------------
def active_template_row() -> PosterTemplate:
    """The newest template version; the renderer's default design is stored as version 1 when
    there is none."""
    row = db.session.scalar(select(PosterTemplate).order_by(PosterTemplate.version.desc()).limit(1))
    if row is not None:
        return row

    # Version 1 exactly, inserted once: concurrent first posters must agree on one template.
    definition = default_design().to_dict()
    with unit_of_work():
        db.session.execute(
            insert_ignore(
                PosterTemplate.__table__,
                [{"version": 1, "definition": definition, "note": "default", "created_at": now()}],
                ["version"],
            )
        )
    return db.session.scalar(
        select(PosterTemplate).order_by(PosterTemplate.version.desc()).limit(1)
    )


def publish_template(definition: dict, note: str = "") -> PosterTemplate:
    """Store a new template version (it becomes the active one). ValueError on bad data."""

    PosterDesign.from_dict(definition)  # refuse bad data before storing it
    with unit_of_work():
        version = (db.session.scalar(select(func.max(PosterTemplate.version))) or 0) + 1
        row = PosterTemplate(version=version, definition=definition, note=note[:200])
        db.session.add(row)
        try:
            db.session.flush()
        except IntegrityError:  # another publisher took this version a moment ago
            db.session.rollback()
            return db.session.scalar(
                select(PosterTemplate).where(PosterTemplate.version == version)
            )
    return row


_DESIGNS: dict[tuple, PosterDesign] = {}


def design_of(row: PosterTemplate) -> PosterDesign:
    """The renderer's design for a stored template version, built once per process (the
    renderer prepares fonts and static layers per design). Rows are never edited, so a version
    and its creation time name one definition (even across databases, as in the tests)."""

    key = (row.version, row.created_at)
    design = _DESIGNS.get(key)
    if design is None:
        design = PosterDesign.from_dict({**row.definition, "version": row.version})
        if len(_DESIGNS) > 16:
            _DESIGNS.clear()
        _DESIGNS[key] = design
    return design


# -- making a poster (the job's side) -----------------------------------------------------------
@dataclass(frozen=True)
class ReadyPoster:
    id: int
    media_id: str | None
    user_id: int


def ensure_poster(
    distributor_id: int, product_id: int | None, upload: bool = True
) -> ReadyPoster | None:
    """The poster for the current key, rendered at most once, and (with `upload`) uploaded while
    its media_id is missing or expiring. None when the distributor is not active (or the product
    is gone)."""

    subject = load_subject(distributor_id, product_id)
    if refusal(subject) is not None:
        return None
    if product_id is not None and subject.product is None:
        return None
    template = active_template_row()
    invite_url = (
        "" if product_id is not None else invite_qr.invite_qr_url(distributor_id, subject.code)
    )
    key = current_key(subject, template.version, invite_url)
    with get_redis().lock(
        f"poster:render:{key.digest}", timeout=LOCK_SECONDS, blocking_timeout=LOCK_SECONDS
    ):
        db.session.rollback()  # see what the previous holder committed
        poster = db.session.scalar(select(Poster).where(Poster.cache_key == key.digest))
        image = None  # the JPEG (a deferred column) is read only when it must be uploaded
        if poster is None or not poster.image_size:
            image = render(subject, template, key)
            poster = store_render(key, image)
        if upload and not media_valid(poster.media_expires_at, now()):
            image = image if image is not None else poster.image
            poster = store_media(poster.id, upload_image(image, f"poster-{poster.id}.jpg"))
        return ReadyPoster(poster.id, poster.media_id, subject.user_id)


def render(subject: Subject, template: PosterTemplate, key: PosterKey) -> bytes:
    """The poster's JPEG. The renderer is called through its module, so that tests can count
    renders by patching render.compose.render_poster."""

    product = subject.product
    content = PosterContent(
        kind="product" if product else "invite",
        nickname=subject.nickname or messages.a_distributor(),
        qr_content=key.qr_content,
        invitation=messages.poster_invitation("product" if product else "invite", key.shop_name),
        caption=messages.poster_caption(),
        avatar=fetch_image(subject.avatar_url),
        product_title=product.title if product else None,
        price_fen=product.price_fen if product else None,
        product_image=product_picture(product) if product else None,
    )
    font = current_app.config.get("POSTER_FONT_PATH") or None
    return compose.render_poster(design_of(template), content, font_path=font)


def store_render(key: PosterKey, image: bytes) -> Poster:
    with unit_of_work():
        poster = db.session.scalar(select(Poster).where(Poster.cache_key == key.digest))
        if poster is None:
            poster = Poster(
                cache_key=key.digest,
                distributor_id=key.distributor_id,
                product_id=key.product_id,
                template_version=key.template_version,
                qr_content=key.qr_content,
                avatar_version=key.avatar_version,
                renders=0,
            )
            db.session.add(poster)
        poster.image, poster.image_size = image, len(image)
        poster.renders += 1
        poster.rendered_at = now()
        poster.media_id = poster.media_expires_at = None
    return poster


def store_media(poster_id: int, media_id: str) -> Poster:
    with unit_of_work():
        poster = db.session.get(Poster, poster_id)
        poster.media_id, poster.media_expires_at = media_id, media_expires_at(now())
    return poster


def upload_image(data: bytes, filename: str) -> str:
    """Upload temporary media (image) and return its media_id."""

    answer = official_account().upload_image(filename, data)
    return answer["media_id"]


def send_poster(poster: ReadyPoster, nonce: str) -> str:
    """Send the poster once for this request (a retried job sends nothing twice)."""

    begin_write()
    user = db.session.get(User, poster.user_id)
    sent = send_image(f"poster:{poster.id}:{nonce}", user, poster.media_id)
    return "sent" if sent is not None else "already sent"


def shown_images(product: Product) -> list[str]:
    """What the poster shows of the product's pictures: its first stored photo (by id), else
    its image URLs; a new photo makes a new poster."""
    photo_id = first_photo_ids([product.id]).get(product.id)
    return [f"photo:{photo_id}"] if photo_id else list(product.images or [])


def product_picture(product: Product) -> bytes | None:
    """The product's first stored photo, else its first image URL fetched."""
    photo_id = first_photo_ids([product.id]).get(product.id)
    if photo_id:
        return db.session.get(ProductPhoto, photo_id).data
    return fetch_image((product.images or [None])[0])


def fetch_image(url: str | None) -> bytes | None:
    """An avatar or product picture, fetched once and kept in Redis; None when unavailable
    (the renderer then draws a generated default)."""
    if not url or not url.startswith(("http://", "https://")):
        return None

    cache = get_redis()
    key = "poster:image:" + hashlib.sha1(url.encode()).hexdigest()
    data = cache.get(key)
    if data is not None:
        return data or None
    try:
        response = requests.get(url, timeout=5)
        response.raise_for_status()
        data = response.content if len(response.content) <= IMAGE_MAX_BYTES else b""
    except requests.RequestException as e:
        log.warning("could not fetch %s for a poster: %s", url, e)
        return None  # not cached: the next poster tries again
    cache.set(key, data, ex=IMAGE_CACHE_SECONDS)
    return data or None

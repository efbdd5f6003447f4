"""Temporary media (新增临时素材): upload, download, and expiry after SIM_MEDIA_TTL (3 days)."""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from .images import sniff
from .store import Media, Store, get_store, random_id
from .tokens import ApiError, requires_token

bp = Blueprint("media", __name__)

THUMB_MAX_BYTES = 64 * 1024
OTHER_MAX_BYTES = {"voice": 2 * 1024 * 1024, "video": 10 * 1024 * 1024}
CONTENT_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}


@bp.post("/cgi-bin/media/upload")
@requires_token
def upload():
    store, media_type = get_store(), request.args.get("type", "")
    if media_type not in ("image", "thumb", "voice", "video"):
        raise ApiError(40004, "invalid media type")
    upload = request.files.get("media")
    data = upload.read() if upload else b""
    if not data:
        raise ApiError(41005, "media data missing")
    content_type = check_upload(store, media_type, data)
    media = save_media(store, media_type, content_type, data)
    id_field = "thumb_media_id" if media_type == "thumb" else "media_id"  # WeChat's quirk
    return jsonify(
        {"type": media_type, id_field: media.media_id, "created_at": int(media.created_at)}
    )


def check_upload(store: Store, media_type: str, data: bytes) -> str:
    """The stored Content-Type, or WeChat's error for a wrong type (40005) or size (40009...)."""
    if media_type in OTHER_MAX_BYTES:
        if len(data) > OTHER_MAX_BYTES[media_type]:
            raise ApiError(40006, "invalid media size")
        return "application/octet-stream"
    kind = sniff(data)
    allowed = ("jpeg",) if media_type == "thumb" else ("jpeg", "png")
    if kind not in allowed:
        raise ApiError(40005, "invalid file type")
    limit = THUMB_MAX_BYTES if media_type == "thumb" else store.config["SIM_MEDIA_MAX_BYTES"]
    if len(data) > limit:
        raise ApiError(40009, "invalid image size")
    return CONTENT_TYPES[kind]


def save_media(store: Store, media_type: str, content_type: str, data: bytes) -> Media:
    with store.lock:
        media = Media(random_id(64), media_type, content_type, data, store.now())
        store.media[media.media_id] = media
        return media


def live_media(store: Store, media_id: str) -> Media | None:
    """The media if it exists and has not expired: after SIM_MEDIA_TTL it is gone (40007)."""
    with store.lock:
        media = store.media.get(media_id)
        if media and store.now() < media.created_at + store.config["SIM_MEDIA_TTL"]:
            return media
        return None


@bp.get("/cgi-bin/media/get")
@requires_token
def download():
    media = live_media(get_store(), request.args.get("media_id", ""))
    if media is None:
        raise ApiError(40007, "invalid media_id")
    return media_response(media)


@bp.get("/sim/media/<media_id>")
def show(media_id: str):
    """For the chat page: a picture the user once received stays on the phone after expiry."""
    media = get_store().media.get(media_id)
    if media is None:
        abort(404)
    return media_response(media, "inline")


def media_response(media: Media, disposition: str = "attachment") -> Response:
    extension = {"image/jpeg": "jpg", "image/png": "png"}.get(media.content_type, "bin")
    filename = f"{media.media_id}.{extension}"
    return Response(
        media.data,
        mimetype=media.content_type,
        headers={"Content-Disposition": f'{disposition}; filename="{filename}"'},
    )

"""The poster job (queue `high`): render once, upload, cache the media_id, send the image."""

from __future__ import annotations

from services import posters


def make_poster(distributor_id: int, product_id: int | None, nonce: str | None) -> str:
    """Safe to run twice: the render is cached by key and the send is recorded by `nonce`.
    Without a nonce the poster is only made ready (e.g. for the distributor's web page)."""
    try:
        poster = posters.ensure_poster(distributor_id, product_id, upload=nonce is not None)
        if poster is None:
            return "not active"
        return posters.send_poster(poster, nonce) if nonce else "ready"
    finally:
        posters.clear_pending(distributor_id, product_id)

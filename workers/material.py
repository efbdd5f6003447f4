"""The material job (queue `high`): the newest promo material as customer-service messages."""

from __future__ import annotations

from services import material


def send_material(material_id: int, user_id: int, nonce: str) -> int:
    """Safe to run twice: each image and the text are recorded once per (material, nonce)."""
    return material.send_material(material_id, user_id, nonce)

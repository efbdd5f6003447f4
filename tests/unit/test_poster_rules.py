"""The poster cache's pure rules: the key, and when a media_id or an invite QR code is renewed."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from models.poster_rules import (
    PosterKey,
    avatar_version,
    media_valid,
    product_link,
    qr_needs_renewal,
)

BASE = PosterKey(7, None, 1, "http://weixin.qq.com/q/abc", avatar_version("小美", None))
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "change",
    [
        {"distributor_id": 8},
        {"product_id": 3},
        {"template_version": 2},
        {"qr_content": "http://weixin.qq.com/q/abd"},
        {"avatar_version": avatar_version("小美", "https://x/a.png")},
        {"avatar_version": avatar_version("小美美", None)},
        {"product_version": "0123"},
    ],
)
def test_a_change_to_any_part_of_the_key_is_a_new_key(change):
    assert replace(BASE, **change).digest != BASE.digest


def test_the_same_parts_are_the_same_key():
    assert PosterKey(*BASE.__dict__.values()).digest == BASE.digest
    assert len(BASE.digest) == 64


@pytest.mark.parametrize(
    ("expires_in", "valid"),
    [
        (None, False),
        (timedelta(days=3), True),
        (timedelta(minutes=61), True),
        (timedelta(minutes=59), False),
        (timedelta(0), False),
        (-timedelta(days=1), False),
    ],
)
def test_a_media_id_is_used_only_with_an_hour_to_spare(expires_in, valid):
    assert media_valid(None if expires_in is None else AT + expires_in, AT) is valid


@pytest.mark.parametrize(
    ("expires_in", "renew"),
    [
        (None, True),
        (timedelta(days=30), False),
        (timedelta(days=3, seconds=1), False),
        (timedelta(days=3), True),
        (timedelta(hours=1), True),
    ],
)
def test_an_invite_qr_code_is_renewed_three_days_before_it_expires(expires_in, renew):
    assert qr_needs_renewal(None if expires_in is None else AT + expires_in, AT) is renew


def test_a_product_link_is_the_contract_shop_url_with_the_code():
    assert product_link("https://shop.example.com/", 42, "ab3k9xyz") == (
        "https://shop.example.com/p/42?d=ab3k9xyz"
    )

"""The poster rules: the cache key, the invite scene, when a media_id or an invite QR code is
renewed, and who is told they may not have posters or material, and why."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.poster_rules import (
    INVITE_QR_SECONDS,
    MEDIA_LIFETIME,
    QR_RENEW_BEFORE,
    SCENE_PREFIX,
    Inactive,
    PosterKey,
    avatar_version,
    inactive,
    invite_scene,
    media_expires_at,
    media_valid,
    product_link,
    product_version,
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


@pytest.mark.parametrize(
    ("shown", "changed"),
    [
        (("普洱茶饼", 16_800, ["https://x/1.jpg"]), ("普洱茶饼 357g", 16_800, ["https://x/1.jpg"])),
        (("普洱茶饼", 16_800, ["https://x/1.jpg"]), ("普洱茶饼", 16_900, ["https://x/1.jpg"])),
        (("普洱茶饼", 16_800, ["https://x/1.jpg"]), ("普洱茶饼", 16_800, ["https://x/2.jpg"])),
        (("普洱茶饼", 16_800, ["https://x/1.jpg"]), ("普洱茶饼", 16_800, [])),
        (("普洱茶饼", 16_800, []), ("普洱茶饼", 16_800, None)),
    ],
)
def test_a_change_to_what_a_product_poster_shows_is_a_new_product_version(shown, changed):
    assert product_version(*changed) != product_version(*shown)
    assert product_version(*shown) == product_version(*shown)


@pytest.mark.parametrize(
    ("key", "digest"),
    [
        (
            PosterKey(
                7,
                3,
                2,
                "https://shop.example.com/p/3?d=ab3k9xyz",
                avatar_version("小美", None),
                product_version("云南普洱熟茶饼 357g", 16_800, ["https://x/1.jpg"]),
            ),
            "57c955f49ae957a859699d1a40947e8f4a2dead8e28691d24076df1b31a48549",
        ),
        (
            PosterKey(
                7,
                None,
                1,
                "http://weixin.qq.com/q/abc",
                avatar_version("小美", "https://x/a.png"),
            ),
            "4477dfa3e8a5a64f8491047c6849defbad1ef14e0f50b0fae410d31af5c31658",
        ),
    ],
)
def test_the_key_digest_is_the_one_stored_for_posters_already_rendered(key, digest):
    """Posters cached before the rules moved keep their keys (digests taken from that code)."""
    assert key.digest == digest


@given(st.text(min_size=1, max_size=20))
def test_the_invite_scene_carries_the_code_after_the_prefix(code):
    scene = invite_scene(code)
    assert scene.startswith(SCENE_PREFIX) and scene[len(SCENE_PREFIX) :] == code


def test_a_scene_is_d_and_the_code():
    assert invite_scene("ab3k9xyz") == "d_ab3k9xyz"


MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
SPANS = st.timedeltas(min_value=timedelta(days=-40), max_value=timedelta(days=40))


@given(at=MOMENTS, expires_in=SPANS)
def test_a_kept_invite_qr_code_has_over_three_days_left_and_a_new_one_is_kept_26_days(
    at, expires_in
):
    if not qr_needs_renewal(at + expires_in, at):
        assert expires_in > QR_RENEW_BEFORE
        assert not qr_needs_renewal(at + expires_in, at - timedelta(seconds=1))  # nor earlier
    renewed = at + timedelta(seconds=INVITE_QR_SECONDS)
    assert not qr_needs_renewal(renewed, at + timedelta(days=26))


@given(at=MOMENTS, expires_in=SPANS)
def test_a_media_id_in_use_has_an_hour_left_and_was_valid_before(at, expires_in):
    if media_valid(at + expires_in, at):
        assert expires_in > timedelta(hours=1)
        assert media_valid(at + expires_in, at - timedelta(minutes=5))


@given(MOMENTS)
def test_fresh_media_is_valid_until_an_hour_before_its_three_days_end(uploaded_at):
    expires_at = media_expires_at(uploaded_at)
    assert expires_at - uploaded_at == MEDIA_LIFETIME == timedelta(days=3)
    assert media_valid(expires_at, uploaded_at + timedelta(days=2, hours=22, minutes=59))
    assert not media_valid(expires_at, uploaded_at + timedelta(days=2, hours=23))


@pytest.mark.parametrize(
    ("status", "frozen", "rejected", "expected"),
    [
        ("active", None, None, None),
        ("active", "old freeze", "old rejection", None),
        (None, None, None, Inactive("none")),
        ("pending", None, None, Inactive("pending")),
        ("pending", None, "资料不全", Inactive("pending", "资料不全")),
        ("rejected", None, "资料不全", Inactive("rejected", "资料不全")),
        ("rejected", "违规推广", None, Inactive("rejected")),
        ("frozen", "违规推广", "资料不全", Inactive("frozen", "违规推广")),
        ("frozen", None, "资料不全", Inactive("frozen")),
        ("frozen", "", None, Inactive("frozen")),
    ],
)
def test_who_is_refused_posters_and_material_and_why(status, frozen, rejected, expected):
    """`frozen` and `rejected`: the distributor's freeze and rejection reasons."""
    assert inactive(status, frozen, rejected) == expected

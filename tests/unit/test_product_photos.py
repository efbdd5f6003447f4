"""Drawn product photos: for every kind, a deterministic square JPEG under the size limit, with a
real picture on it (many colours, the product's own colour), different for each variant."""

from __future__ import annotations

import io
from functools import cache

import pytest
from PIL import Image

from render.product_photos import FRAMINGS, KINDS, draw_product_photo

RED = ((200, 30, 30), (40, 40, 40), (150, 170, 200))
GREEN = ((40, 150, 60), (230, 200, 80), (220, 200, 180))
MAX_BYTES = 120 * 1024


@cache
def photo(kind: str, variant: int, palette=RED) -> bytes:
    """One drawing per input for the whole module: drawing is what costs here."""
    return draw_product_photo(kind, palette, variant, label="好物")


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def share_of_red(image: Image.Image) -> float:
    """The share of pixels clearly red, as the RED palette's product is."""
    red, green, blue = (band.load() for band in image.convert("RGB").split())
    w, h = image.size
    hits = sum(
        1
        for y in range(0, h, 4)
        for x in range(0, w, 4)
        if red[x, y] > green[x, y] + 80 and red[x, y] > blue[x, y] + 80
    )
    return hits / ((w // 4) * (h // 4))


def test_there_are_at_least_twelve_kinds_of_product():
    assert len(KINDS) >= 12


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_draws_the_same_square_jpeg_under_120_kb_for_the_same_inputs(kind):
    assert draw_product_photo(kind, RED, 1, label="好物") == photo(kind, 1)
    for variant in range(len(FRAMINGS)):
        image = opened(photo(kind, variant))
        assert (image.format, image.size) == ("JPEG", (800, 800))
        assert len(photo(kind, variant)) < MAX_BYTES


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_a_picture_in_its_palette_not_a_flat_placeholder(kind):
    image = opened(photo(kind, 0)).convert("RGB")
    assert len(image.getcolors(1 << 20)) > 2_000
    darkest, lightest = image.convert("L").getextrema()
    assert lightest - darkest > 150
    assert share_of_red(image) > 0.01  # the product is there, in its colour
    assert share_of_red(opened(photo(kind, 0, GREEN))) < 0.001


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_variant_of_a_kind_is_a_different_photo(kind):
    assert len({photo(kind, v) for v in range(len(FRAMINGS))}) == len(FRAMINGS)


def test_the_label_is_printed_on_the_product():
    assert draw_product_photo("tea_tin", GREEN, 0, label="龙井") != draw_product_photo(
        "tea_tin", GREEN, 0, label="白茶"
    )


def test_the_size_sets_both_sides():
    assert opened(draw_product_photo("mug", RED, 1, size=400)).size == (400, 400)


def test_an_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown product kind 'spaceship'.*tea_tin"):
        draw_product_photo("spaceship", RED, 0)

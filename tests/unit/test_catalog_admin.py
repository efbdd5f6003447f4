"""The merchant's catalogue rules (models.catalog_rules) and the photo check
(services.catalog_admin.prepare_photo): pure, no database."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from models.catalog_rules import (
    MAX_EDGE,
    SkuLine,
    Spec,
    check_skus,
    commission,
    commission_inputs,
    from_price,
    moved,
    parse_spec,
    price_fen,
    product_title,
    resized,
    spec_input,
    stock_after,
    stock_count,
)
from models.commission import ProductCommission
from models.errors import ProductRefused
from services.catalog_admin import MAX_UPLOAD_BYTES, prepare_photo


def reason(call, *args) -> str:
    with pytest.raises(ProductRefused) as refused:
        call(*args)
    return refused.value.params["reason"]


@pytest.mark.parametrize(
    ("text", "values", "shown"),
    [
        ("", {}, ""),
        ("颜色:红", {"颜色": "红"}, "红"),
        ("颜色：红 / 尺码：M", {"颜色": "红", "尺码": "M"}, "红 / M"),
        (" 颜色=蓝；尺码=XL ", {"颜色": "蓝", "尺码": "XL"}, "蓝 / XL"),
    ],
)
def test_a_spec_is_read_from_name_value_pairs(text, values, shown):
    spec = parse_spec(text)
    assert (spec.values, spec.text) == (values, shown)
    assert parse_spec(spec_input(spec.values)) == spec  # the form shows what it reads back


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("红", "spec_pair"),
        ("颜色:", "spec_pair"),
        ("颜色:红/颜色:蓝", "spec_twice"),
        ("a:1/b:2/c:3/d:4", "spec_many"),
        ("颜色:红\x00", "spec_invalid"),
        ("颜色:" + "红" * 17, "spec_part_long"),
    ],
)
def test_a_spec_that_cannot_be_read_is_refused(text, why):
    assert reason(parse_spec, text) == why


@pytest.mark.parametrize(("text", "fen"), [("12.5", 1250), ("¥9.90", 990), ("１２", 1200)])
def test_a_price_in_yuan_is_fen(text, fen):
    assert price_fen(text) == fen


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "price_missing"), ("0", "price_invalid"), ("-1", "price_invalid"),
     ("1.234", "price_invalid"), ("abc", "price_invalid"), ("100000000", "price_high")],
)  # fmt: skip
def test_a_price_that_is_not_one_is_refused(text, why):
    assert reason(price_fen, text) == why


def test_stock_is_a_whole_number_within_bounds():
    assert (stock_count(""), stock_count("７"), stock_count("1000000")) == (0, 7, 1_000_000)
    assert reason(stock_count, "-1") == "stock_invalid"
    assert reason(stock_count, "1.5") == "stock_invalid"
    assert reason(stock_count, "1000001") == "stock_high"


@pytest.mark.parametrize(
    ("current", "seen", "wanted", "stored"),
    [
        (10, 10, 15, 15),  # nothing sold meanwhile
        (8, 10, 15, 13),  # two sold while the form was open stay sold
        (8, 10, 10, 8),  # unchanged: whatever it is now
        (1, 10, 0, 0),  # never below zero
    ],
)
def test_a_stock_edit_is_applied_as_a_difference(current, seen, wanted, stored):
    assert stock_after(current, seen, wanted) == stored


def test_no_override_is_none_and_an_override_is_what_the_engine_builds():
    assert commission("", ["5"]).kind is None
    percent = commission("percent", ["12.5", "5", ""])
    assert ProductCommission(percent.kind, tuple(percent.values)).values == (1250, 500, 0)
    assert commission("fixed", ["1.5", "0", ""]).values == [150, 0, 0]
    assert commission_inputs("percent", [1250, 500, 0]) == ["12.5", "5", "0"]
    assert commission_inputs("fixed", [150, 0, 0]) == ["1.50", "0.00", "0.00"]


@pytest.mark.parametrize(
    ("kind", "values", "why"),
    [
        ("percent", ["60", "50", "0"], "commission_over_100"),
        ("percent", ["101", "", ""], "commission_over_100"),
        ("percent", ["1", "1", "1", "1"], "commission_levels"),
        ("percent", ["-1", "", ""], "commission_negative"),
        ("fixed", ["x", "", ""], "commission_fixed_invalid"),
        ("percent", ["", "", ""], "commission_empty"),
        ("bonus", ["1", "", ""], "commission_kind"),
    ],
)
def test_an_override_the_engine_would_refuse_is_refused(kind, values, why):
    assert reason(commission, kind, values) == why


def test_trailing_empty_levels_past_three_are_not_a_fourth_level():
    assert commission("percent", ["10", "5", "", ""]).values == [1000, 500, 0]


def line(spec: str, price: int = 100, on_sale: bool = True) -> SkuLine:
    return SkuLine(parse_spec(spec), price, on_sale)


def test_several_skus_on_sale_need_a_spec_each_with_the_same_names_and_none_alike():
    check_skus([line("")])  # one default SKU is fine
    check_skus([line("颜色:红"), line("颜色:蓝"), line("", on_sale=False)])
    assert reason(check_skus, []) == "skus_missing"
    assert reason(check_skus, [line("颜色:红"), line("")]) == "spec_missing"
    assert reason(check_skus, [line("颜色:红"), line("尺码:M")]) == "spec_names_differ"
    assert reason(check_skus, [line("颜色:红"), line("颜色:红")]) == "spec_duplicate"


def test_the_products_price_is_its_lowest_on_sale_else_lowest_at_all():
    assert from_price([line("a:1", 500), line("a:2", 300, on_sale=False)]) == 500
    assert from_price([line("a:1", 500, False), line("a:2", 300, False)]) == 300
    assert from_price([]) == 0


def test_a_title_is_needed_and_bounded():
    assert product_title("  茶  ") == "茶"
    assert reason(product_title, " ") == "title_missing"
    assert reason(product_title, "x" * 129) == "title_long"


@pytest.mark.parametrize(
    ("size", "expected"),
    [((800, 600), (800, 600)), ((2400, 1600), (1200, 800)), ((1000, 5000), (240, 1200))],
)
def test_a_photo_is_resized_to_its_longest_side(size, expected):
    assert resized(*size) == expected


def test_a_photo_moves_one_place_and_stays_at_the_ends():
    assert moved([1, 2, 3], 3, "up") == [1, 3, 2]
    assert moved([1, 2, 3], 1, "up") == [1, 2, 3]
    assert moved([1, 2, 3], 1, "down") == [2, 1, 3]
    assert reason(moved, [1, 2], 9, "up") == "photo_move"


def image_bytes(fmt: str, size=(1600, 900), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (10, 120, 200) if mode == "RGB" else (10, 120, 200, 128)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_jpeg_png_and_webp_are_stored_as_jpeg_no_larger_than_the_max_edge(fmt):
    photo = prepare_photo(image_bytes(fmt))
    assert (photo.width, photo.height, photo.content_type) == (MAX_EDGE, 675, "image/jpeg")
    stored = Image.open(io.BytesIO(photo.data))
    assert stored.format == "JPEG" and stored.size == (MAX_EDGE, 675)


def test_a_transparent_png_is_flattened_on_white():
    photo = prepare_photo(image_bytes("PNG", (10, 10), "RGBA"))
    assert Image.open(io.BytesIO(photo.data)).mode == "RGB"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "photo_empty"),
        (b"GIF89a not really", "photo_type"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "photo_svg"),
        (b'\xef\xbb\xbf<?xml version="1.0"?><svg/>', "photo_svg"),
        (b"\x89PNG\r\n\x1a\n broken", "photo_type"),
        (b"\0" * (MAX_UPLOAD_BYTES + 1), "photo_large"),
    ],
)
def test_anything_but_an_accepted_image_is_refused_by_its_content(data, why):
    assert reason(prepare_photo, data) == why


def test_a_gif_and_a_bmp_are_refused_though_pillow_reads_them():
    assert reason(prepare_photo, image_bytes("GIF", (4, 4))) == "photo_type"
    assert reason(prepare_photo, image_bytes("BMP", (4, 4))) == "photo_type"


def test_spec_equality_is_by_values_and_text():
    assert Spec({"a": "1"}, "1") == parse_spec("a:1")

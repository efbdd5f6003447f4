"""What a delivery address may be: the fields as stored, and the first wrong one named."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.addresses import PROVINCES, parse_address
from models.errors import InvalidAddress
from models.pricing import province_key

GOOD = {
    "name": "张三",
    "phone": "13800138000",
    "province": "广东省",
    "city": "深圳市",
    "district": "南山区",
    "detail": "科技园路1号",
}


def with_(**changes) -> dict:
    return {**GOOD, **changes}


def refused_field(fields) -> str:
    with pytest.raises(InvalidAddress) as caught:
        parse_address(fields)
    assert caught.value.code == "invalid_address"
    return caught.value.params["field"]


def test_a_good_address_is_stored_as_given():
    assert parse_address(GOOD) == GOOD


def test_unknown_keys_are_ignored_and_every_value_is_trimmed():
    fields = {k: f"  {v}\u3000" for k, v in GOOD.items()} | {"is_default": True, "x": object()}
    assert parse_address(fields) == GOOD


def test_a_missing_district_is_empty():
    fields = dict(GOOD)
    del fields["district"]
    assert parse_address(fields)["district"] == ""


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("13800138000", "13800138000"),
        ("138 0013 8000", "13800138000"),
        ("138-0013-8000", "13800138000"),
        ("+86 138 0013 8000", "13800138000"),
        ("8613800138000", "13800138000"),
        ("１３８００１３８０００", "13800138000"),  # full-width digits from a Chinese keyboard
        ("010-12345678", "010-12345678"),
        ("010 12345678", "010-12345678"),
        ("0755-1234567", "0755-1234567"),
        ("01012345678", "01012345678"),
        ("021-12345678-123", "021-12345678-123"),
    ],
)
def test_mobile_numbers_are_stored_as_digits_and_landlines_with_hyphens(typed, stored):
    assert parse_address(with_(phone=typed))["phone"] == stored


@pytest.mark.parametrize(
    "phone",
    [
        "",
        "1380013800",  # 10 digits
        "138001380000",  # 12 digits
        "23800138000",  # not from 1
        "1380013800a",
        "+1 138 0013 8000",
        "٢٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits
        "1٣800138000",
        "10-12345678",  # an area code starts with 0 and has 3 or 4 digits
        "010-123456",  # 6 digits after the area code
        "010-123456789",
        "010--12345678x",
        "138.0013.8000",
    ],
)
def test_anything_else_is_not_a_phone_number(phone):
    assert refused_field(with_(phone=phone)) == "phone"


def test_there_are_34_provincial_level_divisions():
    assert len(set(PROVINCES)) == 34
    assert len({province_key(p) for p in PROVINCES}) == 34


@pytest.mark.parametrize("full", PROVINCES)
def test_every_province_is_stored_by_its_full_name_given_either_name(full):
    assert parse_address(with_(province=full))["province"] == full
    assert parse_address(with_(province=province_key(full)))["province"] == full


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("北京", "北京市"),
        ("新疆", "新疆维吾尔自治区"),
        ("内蒙古", "内蒙古自治区"),
        ("广西", "广西壮族自治区"),
        ("黑龙江", "黑龙江省"),
        ("香港", "香港特别行政区"),
        (" 广 东 省 ", "广东省"),
    ],
)
def test_short_province_names_are_stored_in_full(typed, stored):
    assert parse_address(with_(province=typed))["province"] == stored


@pytest.mark.parametrize("province", ["", "省", "市", "广州", "东京都", "California", "北京北京"])
def test_a_province_outside_the_list_is_refused(province):
    assert refused_field(with_(province=province)) == "province"


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", ""),
        ("name", "   "),
        ("name", "张" * 33),
        ("city", ""),
        ("city", "市" * 33),
        ("district", "区" * 33),
        ("detail", ""),
        ("detail", "1"),
        ("detail", "路" * 121),
    ],
)
def test_lengths_are_checked_after_trimming(field, value):
    assert refused_field(with_(**{field: value})) == field


@pytest.mark.parametrize(
    "field, value",
    [("name", "张" * 32), ("name", "A"), ("city", "市" * 32), ("district", ""), ("detail", "1号")],
)
def test_the_bounds_themselves_are_accepted(field, value):
    assert parse_address(with_(**{field: value}))[field] == value


@pytest.mark.parametrize("field", ["name", "phone", "province", "city", "district", "detail"])
@pytest.mark.parametrize("value", [None, 13800138000, True, ["张三"], b"\xe5\xbc\xa0"])
def test_values_that_are_not_text_are_refused(field, value):
    assert refused_field(with_(**{field: value})) == field


@pytest.mark.parametrize("field", ["name", "phone", "province", "city", "district", "detail"])
@pytest.mark.parametrize("bad", ["\x00", "\n", "\t", "\x1b", "\u202e", "\u200b", "\x7f"])
def test_control_and_format_characters_are_refused_anywhere(field, bad):
    assert refused_field(with_(**{field: GOOD[field][:1] + bad + GOOD[field][1:]})) == field


def test_the_first_wrong_field_in_the_forms_order_is_named():
    assert refused_field(with_(name="", phone="x", detail="")) == "name"
    assert refused_field(with_(phone="x", province="x")) == "phone"
    assert refused_field(with_(city="", detail="")) == "city"


@pytest.mark.parametrize("fields", [None, "张三", ["name"], 1])
def test_an_address_must_be_a_mapping(fields):
    assert refused_field(fields) == "address"


@given(st.dictionaries(st.sampled_from([*GOOD, "other"]), st.text(max_size=40)))
def test_whatever_is_sent_it_is_refused_by_name_or_stored_stably(fields):
    try:
        stored = parse_address(fields)
    except InvalidAddress as refused:
        assert refused.params["field"] in GOOD
        return
    assert set(stored) == set(GOOD)
    assert parse_address(stored) == stored  # what is stored reads back as itself

"""A delivery address from outside (a form, the JSON API, WeChat's address picker), checked with
no I/O: the fields as they are stored, or InvalidAddress naming the first field that is wrong.

What is accepted: a name of 1 to 32 characters; a mainland mobile number (11 digits from 1, with
spaces, hyphens or +86 allowed around them) or a landline with its area code (010-12345678,
0755 1234567, an extension after a hyphen); one of the 34 provincial-level divisions, by its
full or short name (北京 and 北京市, 新疆 and 新疆维吾尔自治区), stored by its full name; a city
of 1 to 32, a district of up to 32 and the rest of the address of 2 to 120 characters. Every
value is a string, trimmed; control and format characters are refused anywhere (they hide text
and break the parcel label); keys other than these are ignored."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from models.errors import InvalidAddress
from models.pricing import province_key

FIELDS = ("name", "phone", "province", "city", "district", "detail")
# (shortest, longest) after trimming; the longest match the columns of models.shop.Address.
LENGTHS = {"name": (1, 32), "city": (1, 32), "district": (0, 32), "detail": (2, 120)}

PROVINCES = (
    "北京市",
    "天津市",
    "上海市",
    "重庆市",
    "河北省",
    "山西省",
    "辽宁省",
    "吉林省",
    "黑龙江省",
    "江苏省",
    "浙江省",
    "安徽省",
    "福建省",
    "江西省",
    "山东省",
    "河南省",
    "湖北省",
    "湖南省",
    "广东省",
    "海南省",
    "四川省",
    "贵州省",
    "云南省",
    "陕西省",
    "甘肃省",
    "青海省",
    "台湾省",
    "内蒙古自治区",
    "广西壮族自治区",
    "西藏自治区",
    "宁夏回族自治区",
    "新疆维吾尔自治区",
    "香港特别行政区",
    "澳门特别行政区",
)
# Matched by the short name that shipping matches regions by, so the two never disagree.
_BY_KEY = {province_key(name): name for name in PROVINCES}

# [0-9], not \d: \d also matches Arabic-Indic and other digits that no phone dials.
_MOBILE = re.compile(r"(?:\+?86)?(1[0-9]{10})")
_LANDLINE = re.compile(r"0[0-9]{2,3}-?[0-9]{7,8}(?:-[0-9]{1,6})?")
_SEPARATORS = re.compile(r"[\s\-]+")


def parse_address(fields: Mapping) -> dict[str, str]:
    """The address's fields as stored ({name, phone, province, city, district, detail}), or
    InvalidAddress(field=...) for the first that is missing or wrong."""
    if not isinstance(fields, Mapping):
        raise InvalidAddress("an address is a mapping of fields", field="address")
    return {name: _field(fields, name) for name in FIELDS}  # checked in the form's order


def _field(fields: Mapping, name: str) -> str:
    text = _text(fields, name)
    if name == "phone":
        return _phone(text)
    if name == "province":
        return _province(text)
    shortest, longest = LENGTHS[name]
    if not shortest <= len(text) <= longest:
        raise InvalidAddress(f"{name} must be {shortest} to {longest} characters", field=name)
    return text


def _text(fields: Mapping, name: str) -> str:
    # A missing field is empty (and refused below unless it may be); a present one is a string.
    value = fields.get(name, "")
    if not isinstance(value, str):
        raise InvalidAddress(f"{name} must be text", field=name)
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise InvalidAddress(f"{name} has control characters", field=name)
    return value.strip()


def _phone(text: str) -> str:
    # NFKC: full-width digits from a Chinese keyboard are the digits they look like.
    normalized = unicodedata.normalize("NFKC", text)
    mobile = _MOBILE.fullmatch(_SEPARATORS.sub("", normalized))
    if mobile:
        return mobile.group(1)
    landline = _SEPARATORS.sub("-", normalized)
    if _LANDLINE.fullmatch(landline):
        return landline
    raise InvalidAddress("not a mobile or landline number", field="phone")


def _province(text: str) -> str:
    full = _BY_KEY.get(province_key(text))
    if full is None:
        raise InvalidAddress("not a province of China", field="province")
    return full

"""Ids and distributor codes from outside (URL paths, query strings, chat text, QR scenes), checked
with no I/O before anything reaches the database: a checked value, or None for anything else.

An id is what a primary key holds: ASCII digits only, no sign, no spaces, from 1 to the key's
largest value. Most keys (users, distributors, products, promo material, orders, withdrawals) are
INTEGER: PostgreSQL takes nothing past 2**31-1 (SQLAlchemy casts the parameter to INTEGER, and
"integer out of range" is an error), and SQLite is held to the same so both answer alike. The
high-volume tables' keys (models.base.BigId: ledger entries, commissions, events, messages, share
events) are BIGINT, up to 2**63-1. A distributor code is what `services.distributors.new_code`
makes: CODE_LENGTH characters of CODE_ALPHABET (typed codes may come with spaces around them or in
capitals)."""

from __future__ import annotations

import re

INT_ID_MAX = 2**31 - 1  # an INTEGER key (the default)
BIG_ID_MAX = 2**63 - 1  # a BIGINT key (models.base.BigId)
_MAX_DIGITS = len(str(BIG_ID_MAX))  # 19: longer (leading zeros aside) is out of range anyway

CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: codes are read aloud too
CODE_LENGTH = 8
_CODE = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")


def parse_id(text: object, maximum: int = INT_ID_MAX) -> int | None:
    """'42' -> 42; None for anything that is not a row id up to `maximum`: '0', '-1', '+1',
    ' 1', '１２３', '²', '1_000', '2147483648' (past INTEGER), non-strings."""
    if not isinstance(text, str) or not text.isascii() or not text.isdigit():
        return None
    significant = text.lstrip("0")
    if len(significant) > _MAX_DIGITS:  # checked before int(): no huge conversions
        return None
    value = int(significant or "0")
    return value if 1 <= value <= maximum else None


def parse_code(text: object) -> str | None:
    """' AB23CD45 ' -> 'ab23cd45'; None for anything a distributor code can never be."""
    if not isinstance(text, str):
        return None
    code = text.strip()
    if len(code) != CODE_LENGTH or not code.isascii():  # ASCII first: 'K' (Kelvin) lowers to 'k'
        return None
    code = code.lower()
    return code if _CODE.fullmatch(code) else None


REAL_NAME_MAX = 32
# A real name as WeChat verifies it: Chinese characters (with the middle dot of transliterated
# names, 「·」), or Latin letters with spaces, hyphens and apostrophes for foreign names.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_REAL_NAME = re.compile(f"[{_HAN}]+(?:·[{_HAN}]+)*|[A-Za-z]+(?:[ '\\-][A-Za-z]+)*")
_MIDDLE_DOTS = str.maketrans(dict.fromkeys("\u2022\u2027\u2219\u30fb\uff0e\uff65", "·"))


def parse_real_name(text: object) -> str | None:
    """' 张三 ' -> '张三', '阿依古丽・买买提' -> '阿依古丽·买买提' (the middle dot made one);
    None for anything a person's real name cannot be: digits, symbols, control characters,
    one character, more than REAL_NAME_MAX, Chinese mixed with Latin."""
    if not isinstance(text, str):
        return None
    name = " ".join(text.split()).translate(_MIDDLE_DOTS)
    if not 2 <= len(name) <= REAL_NAME_MAX or not _REAL_NAME.fullmatch(name):
        return None
    return name


def mask_real_name(name: str) -> str:
    """'张三' -> '*三', '欧阳娜娜' -> '***娜': what a page shows of a stored real name."""
    return "*" * (len(name) - 1) + name[-1]

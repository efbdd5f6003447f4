"""Checked ids and distributor codes: what may reach the database, and what never does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.identifiers import (
    BIG_ID_MAX,
    CODE_ALPHABET,
    CODE_LENGTH,
    INT_ID_MAX,
    mask_real_name,
    parse_code,
    parse_id,
    parse_real_name,
)
from services.distributors import new_code

BAD_TEXT = [
    "",
    " ",
    "0",
    "00",
    "-1",
    "+1",
    "-0",
    " 1",
    "1 ",
    "1\n",
    "1.0",
    "1e3",
    "0x10",
    "1_000",
    "１２３",  # full-width digits
    "٣",  # Arabic-Indic digit
    "²",  # isdigit() but not a number int() reads
    "①",
    "12😀",
    "1\x00",
    "\x00",
    "\x01",
    "\u202e1",
    "1; DROP TABLE products",
    "' OR 1=1 --",
    str(2**31),
    str(2**63),
    str(2**64),
    str(10**30),
    "9" * 10_000,
    "1" * 5_000,  # past Python's int() digit limit: must not raise
]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", 1),
        ("42", 42),
        ("007", 7),
        (str(INT_ID_MAX), INT_ID_MAX),
        ("0" * 10_000 + "5", 5),
    ],
)
def test_ids_in_range_are_read(text, value):
    assert parse_id(text) == value


@pytest.mark.parametrize("text", BAD_TEXT, ids=lambda t: repr(t)[:24])
def test_anything_else_is_not_an_id(text):
    assert parse_id(text) is None


@pytest.mark.parametrize("value", [None, 5, 5.0, b"5", ["5"]])
def test_only_text_is_read_as_an_id(value):
    assert parse_id(value) is None


def test_the_largest_ids_are_the_largest_integer_and_bigint():
    assert (INT_ID_MAX, BIG_ID_MAX) == (2_147_483_647, 9_223_372_036_854_775_807)
    assert parse_id(str(INT_ID_MAX + 1)) is None  # INTEGER keys by default
    assert parse_id(str(INT_ID_MAX + 1), BIG_ID_MAX) == INT_ID_MAX + 1
    assert parse_id(str(BIG_ID_MAX), BIG_ID_MAX) == BIG_ID_MAX
    assert parse_id(str(BIG_ID_MAX + 1), BIG_ID_MAX) is None


@pytest.mark.parametrize("maximum", [INT_ID_MAX, BIG_ID_MAX])
@given(n=st.integers(min_value=-(2**70), max_value=2**70))
def test_a_number_is_an_id_exactly_when_it_is_in_range(maximum, n):
    assert parse_id(str(n), maximum) == (n if 1 <= n <= maximum else None)


@pytest.mark.parametrize("maximum", [INT_ID_MAX, BIG_ID_MAX])
@given(text=st.text())
def test_any_text_gives_none_or_an_id_in_range(maximum, text):
    value = parse_id(text, maximum)
    assert value is None or (1 <= value <= maximum and str(value) == text.lstrip("0"))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("ab23cd45", "ab23cd45"),
        (" ab23cd45 ", "ab23cd45"),
        ("AB23CD45", "ab23cd45"),
        ("zzzzzzzz", "zzzzzzzz"),
    ],
)
def test_codes_are_read_as_typed(text, code):
    assert parse_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        *BAD_TEXT,
        "ab23cd4",  # too short
        "ab23cd456",  # too long
        "ab23cd4o",  # o, 0, 1, l, i are not in the alphabet
        "ab23cd40",
        "ab23cd41",
        "ab23cd4l",
        "ab23cd4i",
        "ab23 d45",
        "ab23cd4\u212a",  # the Kelvin sign lowers to an ASCII k
        "ab23cd4\x00",
        "ab23\x01d45",
        "ab23\u202ed45",
        "ａｂ２３ｃｄ４５",  # full-width
        "ab23cd4😀",
        "'; --x",
        "d_ab23cd45",
        "ab23cd45" * 1_250,  # 10,000 characters
    ],
    ids=lambda t: repr(t)[:24],
)
def test_anything_else_is_not_a_code(text):
    assert parse_code(text) is None


@pytest.mark.parametrize("value", [None, 12345678, b"ab23cd45"])
def test_only_text_is_read_as_a_code(value):
    assert parse_code(value) is None


def test_every_code_the_service_makes_is_read_back():
    for _ in range(500):
        code = new_code()
        assert parse_code(code) == code


@given(st.text(alphabet=CODE_ALPHABET, min_size=CODE_LENGTH, max_size=CODE_LENGTH))
def test_every_code_of_the_alphabet_and_length_is_read(code):
    assert parse_code(code) == code


@given(st.text())
def test_any_text_gives_none_or_a_code_of_the_alphabet(text):
    code = parse_code(text)
    assert code is None or (len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 张三 ", "张三"),
        ("欧阳娜娜", "欧阳娜娜"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),  # the katakana middle dot, made one
        ("John  Smith", "John Smith"),
        ("O'Neil", "O'Neil"),
        ("Jean-Luc Picard", "Jean-Luc Picard"),
        ("张", None),  # one character
        ("张3", None),
        ("张 三", None),  # a space inside a Chinese name
        ("张三John", None),  # scripts mixed
        ("<b>张三</b>", None),
        ("张\x00三", None),
        ("张三\u202e", None),  # a direction override
        ("·张三", None),
        ("x" * 33, None),
        ("", None),
        (None, None),
        (12, None),
    ],
)
def test_a_real_name_is_a_persons_name_or_nothing(text, expected):
    assert parse_real_name(text) == expected


def test_a_real_name_is_shown_masked_but_its_last_character():
    assert (mask_real_name("张三"), mask_real_name("欧阳娜娜")) == ("*三", "***娜")

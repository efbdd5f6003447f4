"""Yuan text, fen, and the largest-remainder allocation."""

from __future__ import annotations

import pytest

from models.errors import InvalidAmount
from models.money import allocate, format_yuan, parse_yuan


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("12.5", 1250),
        ("12.50", 1250),
        ("1", 100),
        ("0.01", 1),
        (" 100 ", 10_000),
        ("¥3.2", 320),
        ("5元", 500),
        ("１２．５", 1250),
        ("٣", None),
        ("①", None),
        ("1 2", None),
        ("￥ 8", 800),
    ],
)
def test_parse_yuan(text, fen):
    if fen is None:
        with pytest.raises(InvalidAmount):
            parse_yuan(text)
    else:
        assert parse_yuan(text) == fen


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("abc", "not_a_number"),
        ("-5", "not_a_number"),
        ("0", "not_positive"),
        ("0.00", "not_positive"),
        ("1.234", "too_many_decimals"),
        ("", "not_a_number"),
        ("1e3", "not_a_number"),
        ("12.", "not_a_number"),
    ],
)
def test_parse_yuan_refuses_with_a_reason(text, reason):
    with pytest.raises(InvalidAmount) as err:
        parse_yuan(text)
    assert err.value.params["reason"] == reason


@pytest.mark.parametrize(
    ("fen", "text"), [(1250, "12.50"), (1, "0.01"), (0, "0.00"), (-5, "-0.05")]
)
def test_format_yuan(fen, text):
    assert format_yuan(fen) == text


def test_allocate_is_exact_and_proportional():
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]
    assert allocate(1001, [3000, 7000]) == [300, 701]
    assert allocate(0, [5, 5]) == [0, 0]
    assert sum(allocate(997, [13, 29, 31, 7])) == 997


def test_allocate_refuses_negative_amounts_and_empty_weights():
    with pytest.raises(InvalidAmount):
        allocate(-1, [5, 5])
    with pytest.raises(InvalidAmount):
        allocate(3, [0, 0])

"""Money rules with no I/O: integer fen, yuan text, largest-remainder allocation."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from models.errors import InvalidAmount

BPS = 10_000  # basis points in a whole
_YUAN = re.compile(r"^(\d{1,9})(?:\.(\d{1,2}))?$", re.ASCII)


def parse_yuan(text: str) -> int:
    """'12.5' -> 1250 fen. Refuses negatives, zero, non-numbers and more than 2 decimals."""
    raw = str(text)
    if any(unicodedata.category(ch) == "No" for ch in raw):  # ①, ², ½ are not amounts
        raise InvalidAmount(f"{text!r} is not an amount in yuan", reason="not_a_number")
    # NFKC turns full-width digits and dots (common from Chinese keyboards) into ASCII.
    cleaned = unicodedata.normalize("NFKC", raw).strip()
    cleaned = cleaned.removeprefix("¥").removesuffix("元").strip()
    if re.fullmatch(r"\d+\.\d{3,}", cleaned, re.ASCII):
        raise InvalidAmount(f"{text!r} has more than 2 decimals", reason="too_many_decimals")
    match = _YUAN.match(cleaned)
    if not match:
        raise InvalidAmount(f"{text!r} is not an amount in yuan", reason="not_a_number")
    fen = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if fen <= 0:
        raise InvalidAmount(f"{text!r} must be more than zero", reason="not_positive")
    return fen


def format_yuan(fen: int) -> str:
    """1250 -> '12.50'; -5 -> '-0.05'."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def percent_of(amount_fen: int, bps: int) -> int:
    """`bps` basis points of `amount_fen`, rounded down to the fen."""
    return amount_fen * bps // BPS


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` fen over `weights` in proportion, by the largest-remainder method.

    The parts add up to `total` exactly; ties in remainder go to the earlier weight.
    """
    if total < 0 or any(w < 0 for w in weights):
        raise InvalidAmount("allocation needs non-negative amounts")
    weight_sum = sum(weights)
    if not weights or weight_sum == 0:
        if total:
            raise InvalidAmount("cannot allocate a non-zero amount over zero weights")
        return [0] * len(weights)
    floors = [total * w // weight_sum for w in weights]
    remainders = [total * w % weight_sum for w in weights]
    short = total - sum(floors)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
        floors[i] += 1
    return floors


_PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?%?$", re.ASCII)


def parse_percent(text: str) -> int:
    """'10' or '10.5%' -> basis points (1000, 1050), exactly; 0 to 100 %."""
    match = _PERCENT.match(unicodedata.normalize("NFKC", str(text)).strip())
    if not match:
        raise InvalidAmount(f"{text!r} is not a percentage", reason="not_a_percentage")
    bps = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if bps > BPS:
        raise InvalidAmount(f"{text!r} is over 100 %", reason="over_100")
    return bps

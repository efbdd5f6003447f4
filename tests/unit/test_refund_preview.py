"""The refund preview's rule: what a refund takes back from each commission, on the engine's own
reversal_due (the integration tests check it against what the engine books)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.commission import reversal_due
from models.refund_preview import CommissionState, LineState, by_level, reversals

CUP, PEN = 1, 2
LINES = [LineState(CUP, 10_000, 0), LineState(PEN, 6_000, 0)]
COMMISSIONS = [
    CommissionState(11, CUP, 101, 1, 1_000, 0, "pending"),
    CommissionState(12, CUP, 100, 2, 500, 0, "pending"),
    CommissionState(13, PEN, 101, 1, 600, 0, "available"),
    CommissionState(14, PEN, 100, 2, 300, 0, "available"),
]


def taken(per_line, lines=LINES, commissions=COMMISSIONS) -> dict[int, int]:
    return {r.commission_id: r.reverse_fen for r in reversals(per_line, lines, commissions)}


@pytest.mark.parametrize(
    ("per_line", "expected"),
    [
        ({CUP: 10_000, PEN: 6_000}, {11: 1_000, 12: 500, 13: 600, 14: 300}),  # all of it
        ({PEN: 3_000}, {13: 300, 14: 150}),  # half a line
        ({CUP: 3_333}, {11: 334, 12: 167}),  # what is left is rounded down, as commission is
        ({CUP: 1}, {11: 1, 12: 1}),
        ({PEN: 0}, {}),  # nothing refunded on the line: nothing reversed
    ],
)
def test_a_refund_takes_back_each_commission_on_its_lines_in_proportion(per_line, expected):
    assert taken(per_line) == expected


def test_a_reversed_commission_gives_nothing_more_and_a_partly_reversed_one_the_rest():
    lines = [LineState(CUP, 10_000, 5_000)]
    commissions = [
        CommissionState(11, CUP, 101, 1, 1_000, 500, "pending"),
        CommissionState(12, CUP, 100, 2, 500, 500, "reversed"),
    ]
    found = reversals({CUP: 5_000}, lines, commissions)
    assert [(r.commission_id, r.reverse_fen, r.whole) for r in found] == [(11, 500, True)]


def test_levels_sum_what_comes_from_pending_and_from_settled_commission():
    levels = by_level(reversals({CUP: 10_000, PEN: 3_000}, LINES, COMMISSIONS))
    assert [(lv.level, lv.beneficiary_id) for lv in levels] == [(1, 101), (2, 100)]
    first, second = levels
    assert (first.reverse_fen, first.pending_fen, first.available_fen) == (1_300, 1_000, 300)
    assert (second.reverse_fen, second.pending_fen, second.available_fen) == (650, 500, 150)
    assert (first.amount_fen, second.amount_fen) == (1_600, 800)


@given(
    amount=st.integers(0, 100_000),
    paid=st.integers(1, 1_000_000),
    parts=st.lists(st.integers(1, 1_000_000), min_size=1, max_size=5),
)
def test_refunds_one_after_another_reverse_what_one_refund_of_their_sum_would(amount, paid, parts):
    refunded, reversed_fen, status = 0, 0, "pending"
    for part in parts:
        part = min(part, paid - refunded)
        if part <= 0:
            break
        commission = CommissionState(1, CUP, 9, 1, amount, reversed_fen, status)
        for r in reversals({CUP: part}, [LineState(CUP, paid, refunded)], [commission]):
            reversed_fen += r.reverse_fen
            status = "reversed" if r.whole else status
        refunded += part
    assert reversed_fen == reversal_due(amount, paid, refunded)
    assert 0 <= reversed_fen <= amount

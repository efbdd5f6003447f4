"""plan_batches: how settlement cuts the due commissions (ordered by beneficiary) into batches."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.settlement import plan_batches

# (beneficiary, commission count) runs, turned into ordered (beneficiary, id) pairs.
runs = st.lists(st.integers(min_value=1, max_value=12), max_size=25)


def due_from(counts: list[int]) -> list[tuple[int, int]]:
    due, next_id = [], 1
    for beneficiary, count in enumerate(counts, start=1):
        for _ in range(count):
            due.append((beneficiary, next_id))
            next_id += 1
    return due


@given(runs, st.integers(min_value=1, max_value=10))
def test_every_commission_is_planned_once_in_order_and_batches_respect_the_size(counts, size):
    due = due_from(counts)
    plan = plan_batches(due, size)
    assert [i for batch in plan for i in batch] == [i for _b, i in due]
    assert all(1 <= len(batch) <= size for batch in plan)


@given(runs, st.integers(min_value=1, max_value=10))
def test_a_beneficiary_that_fits_in_a_batch_is_never_split(counts, size):
    due = due_from(counts)
    owner = dict((i, b) for b, i in due)
    plan = plan_batches(due, size)
    batches_of: dict[int, set[int]] = {}
    for n, batch in enumerate(plan):
        for i in batch:
            batches_of.setdefault(owner[i], set()).add(n)
    for beneficiary, count in enumerate(counts, start=1):
        if count <= size:
            assert len(batches_of[beneficiary]) == 1, (beneficiary, plan)


@given(runs, st.integers(min_value=1, max_value=10))
def test_only_a_batch_closed_by_a_beneficiary_that_would_not_fit_is_short(counts, size):
    """No wasted round trips: a batch is short only when the next beneficiary's commissions
    could not join it without being split (or it is the last)."""
    due = due_from(counts)
    owner = dict((i, b) for b, i in due)
    plan = plan_batches(due, size)
    for batch, following in itertools.pairwise(plan):
        if len(batch) < size:
            nxt = owner[following[0]]
            assert owner[batch[-1]] != nxt
            assert len(batch) + counts[nxt - 1] > size


def test_worked_example():
    due = [(1, i) for i in range(1, 8)] + [(2, 10), (2, 11), (3, 20), (3, 21), (3, 22)]
    assert plan_batches(due, 3) == [[1, 2, 3], [4, 5, 6], [7, 10, 11], [20, 21, 22]]
    assert plan_batches([], 3) == []


def test_a_batch_size_below_one_is_refused():
    with pytest.raises(ValueError):
        plan_batches([(1, 1)], 0)

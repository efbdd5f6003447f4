"""The what-if of a rule change, with no I/O: what recent orders would have paid in commission
under a proposed rule, per level, computed by the engine's own `compute_commissions`.

The service reads the orders (their lines, the chains snapshotted at checkout, the buyer) and
what was actually recorded for them; this module only adds up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from models.commission import MAX_LEVELS, Beneficiary, Line, Rule, compute_commissions


@dataclass(frozen=True)
class LineCase:
    """Order lines that the engine would treat alike: the same line (its id aside), the same
    chain (level 1 first) and the same buyer; `count` of them were paid."""

    line: Line
    chain: Sequence[Beneficiary]
    buyer_distributor_id: int | None = None
    count: int = 1


@dataclass(frozen=True)
class WhatIf:
    """Commission per level (index 0 is level 1) under the proposed rule and as recorded."""

    orders: int
    proposed_by_level: tuple[int, int, int]
    recorded_by_level: tuple[int, int, int]
    days: int = 30

    @property
    def proposed_fen(self) -> int:
        return sum(self.proposed_by_level)

    @property
    def recorded_fen(self) -> int:
        return sum(self.recorded_by_level)

    @property
    def difference_fen(self) -> int:
        return self.proposed_fen - self.recorded_fen

    def levels(self) -> list[tuple[int, int, int]]:
        """(level, proposed fen, recorded fen) for each level."""
        return [
            (level, self.proposed_by_level[level - 1], self.recorded_by_level[level - 1])
            for level in range(1, MAX_LEVELS + 1)
        ]


def by_level(cases: Iterable[LineCase], rule: Rule) -> tuple[int, int, int]:
    """What the lines of `cases` would pay at each level under `rule`.

    Each line is computed alone: compute_commissions caps and rounds every line by itself, so
    a line's shares do not depend on the order's other lines, and alike lines are computed once.
    """
    totals = [0] * MAX_LEVELS
    for case in cases:
        for share in compute_commissions((case.line,), case.chain, rule, case.buyer_distributor_id):
            totals[share.level - 1] += share.amount_fen * case.count
    return (totals[0], totals[1], totals[2])


def as_levels(recorded: Mapping[int, int]) -> tuple[int, int, int]:
    """{level: fen} (as a GROUP BY gives it) -> one figure per level, missing levels 0."""
    return tuple(int(recorded.get(level, 0) or 0) for level in range(1, MAX_LEVELS + 1))  # type: ignore[return-value]

"""What a refund will take back from each commission, before it is made: the same rule the
engine books with (models.commission.reversal_due on the line's refunded total after the
refund), applied to the commissions as they stand now. Pure: the console's preview and the
engine's reversal read the same numbers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from models.commission import reversal_due


@dataclass(frozen=True)
class LineState:
    line_id: int
    paid_fen: int
    refunded_fen: int  # refunded before this refund


@dataclass(frozen=True)
class CommissionState:
    commission_id: int
    line_id: int
    beneficiary_id: int
    level: int
    amount_fen: int
    reversed_fen: int
    status: str  # pending, available or reversed


@dataclass(frozen=True)
class Reversal:
    commission_id: int
    line_id: int
    beneficiary_id: int
    level: int
    amount_fen: int  # the commission as earned
    reversed_before_fen: int
    reverse_fen: int  # what this refund takes back
    status: str  # where it comes from: pending (not settled) or available (settled)

    @property
    def whole(self) -> bool:
        """This refund leaves nothing of the commission (it becomes reversed)."""
        return self.reversed_before_fen + self.reverse_fen == self.amount_fen


def reversals(
    per_line: Mapping[int, int],
    lines: Iterable[LineState],
    commissions: Iterable[CommissionState],
) -> list[Reversal]:
    """Each commission on a refunded line that a refund of `per_line` (line id -> fen) takes
    something back from, in commission order: what services.orders._reverse_commissions books."""
    by_id = {line.line_id: line for line in lines}
    out = []
    for c in sorted(commissions, key=lambda c: c.commission_id):
        fen = per_line.get(c.line_id, 0)
        line = by_id.get(c.line_id)
        if not fen or line is None or c.status == "reversed":
            continue
        due = reversal_due(c.amount_fen, line.paid_fen, line.refunded_fen + fen)
        delta = due - c.reversed_fen
        if delta <= 0:
            continue
        out.append(
            Reversal(
                c.commission_id,
                c.line_id,
                c.beneficiary_id,
                c.level,
                c.amount_fen,
                c.reversed_fen,
                delta,
                c.status,
            )
        )
    return out


@dataclass(frozen=True)
class LevelTotal:
    level: int
    beneficiary_id: int
    amount_fen: int  # commission earned on the order's refunded lines, this level
    reverse_fen: int
    pending_fen: int  # of reverse_fen, from commission not yet settled
    available_fen: int  # of reverse_fen, from settled commission (the balance may go negative)


def by_level(found: Iterable[Reversal]) -> list[LevelTotal]:
    """The reversals summed per (level, beneficiary), level 1 first."""
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in found:
        row = sums[(r.level, r.beneficiary_id)]
        row[0] += r.amount_fen
        row[1] += r.reverse_fen
        row[2 if r.status == "pending" else 3] += r.reverse_fen
    return [LevelTotal(level, who, *sums[(level, who)]) for level, who in sorted(sums)]

"""Moving a distributor under another upline, with no I/O: may the move be made, and what
changes for whom.

The tree is stored denormalised (models.people.Distributor): each distributor keeps their
upline and the two above it (`upline_id`, `ancestor2_id`, `ancestor3_id`), and each keeps the
size of their team at levels 1-3 (members that are active or frozen). Moving distributor M
under N therefore changes:

- M's own chain: (N, N's upline, N's ancestor2);
- the chain of M's level-1 members: their ancestor2 and ancestor3 become N and N's upline;
- the chain of M's level-2 members: their ancestor3 becomes N;
- nobody deeper: a member three or more levels under M keeps three uplines inside M's team;
- the team counts of M's old uplines (they lose M's team, level by level) and of the new ones
  (they gain it).

The tree itself has no depth limit (binding places anyone under any active distributor); the
cap of three levels is on what is stored and paid: a chain never holds more than three uplines,
so a move can never make commission reach further up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass

from models.errors import DomainError

Chain = tuple[int | None, int | None, int | None]  # (upline, ancestor2, ancestor3)
NO_CHAIN: Chain = (None, None, None)
# Who counts in a team (services.distributors.team_counts_check counts the same).
MEMBER_STATES = ("active", "frozen")

# Why a move is refused (texts.console_distributors.upline_refusal says each in words).
NOT_MEMBER, UNCHANGED, SELF, CYCLE, INACTIVE = (
    "not_member",
    "unchanged",
    "self",
    "cycle",
    "inactive",
)


class UplineRefused(DomainError):
    """A distributor cannot be moved under that upline (`reason`: one of the above). Kept
    here, with the rule, rather than in models.errors."""

    code = "upline_refused"


def chain_under(upline_id: int | None, upline_chain: Chain = NO_CHAIN) -> Chain:
    """The stored chain of a distributor placed directly under `upline_id` (whose own stored
    chain is `upline_chain`); no upline: no chain."""
    if upline_id is None:
        return NO_CHAIN
    return (upline_id, upline_chain[0], upline_chain[1])


def move_refusal(
    moved_id: int,
    moved_status: str,
    current_upline_id: int | None,
    new_upline_id: int | None,
    new_upline_status: str | None,
    new_upline_ancestors: Collection[int],
) -> str | None:
    """Why moving `moved_id` under `new_upline_id` (None: to the top, with no upline) is
    refused, or None when it may be made. `new_upline_ancestors` is the new upline's *whole*
    upline chain, at any depth: the move would make a cycle when the moved distributor is in
    it (the new upline is in the moved one's team)."""
    if moved_status not in MEMBER_STATES:
        return NOT_MEMBER
    if new_upline_id == current_upline_id:
        return UNCHANGED
    if new_upline_id is None:
        return None
    if new_upline_id == moved_id:
        return SELF
    if moved_id in new_upline_ancestors:
        return CYCLE
    if new_upline_status != "active":
        return INACTIVE
    return None


@dataclass(frozen=True)
class MovePlan:
    """What a move writes. Rows are named by their relation to the moved distributor, so one
    UPDATE per relation rewrites them however large the team is."""

    moved: Chain  # the moved distributor's new chain
    level1: tuple[int | None, int | None]  # new (ancestor2, ancestor3) of rows whose upline is M
    level2: int | None  # new ancestor3 of rows whose ancestor2 is M
    # the change of (team_l1, team_l2, team_l3) of each upline whose counts change
    team_deltas: dict[int, tuple[int, int, int]]


def plan_move(old_chain: Chain, new_chain: Chain, carried: tuple[int, int, int]) -> MovePlan:
    """The writes of a move from `old_chain` to `new_chain` (the moved distributor's stored
    chains). `carried` is how many team members (active or frozen) go with the move at each
    depth: the moved distributor themself (1 or 0), their level 1, their level 2."""
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for sign, chain in ((-1, old_chain), (1, new_chain)):
        for distance, ancestor in enumerate(chain):
            if ancestor is None:
                break
            for depth, members in enumerate(carried):
                level = distance + depth  # 0: the ancestor's level 1
                if level < len(chain):
                    deltas[ancestor][level] += sign * members
    return MovePlan(
        moved=new_chain,
        level1=(new_chain[0], new_chain[1]),
        level2=new_chain[0],
        team_deltas={a: (d[0], d[1], d[2]) for a, d in deltas.items() if any(d)},
    )

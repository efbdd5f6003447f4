"""Property tests of moving a distributor (models.upline_change) on random trees: after any
allowed move, every stored chain equals what walking the upline links gives and every team
count equals a recount; a move into one's own team (a cycle) is always refused."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from models.upline_change import (
    CYCLE,
    MEMBER_STATES,
    SELF,
    chain_under,
    move_refusal,
    plan_move,
)


@dataclass
class Tree:
    """A forest as the database holds it: upline links, stored chains and team counts."""

    upline: dict[int, int | None]
    status: dict[int, str]
    chain: dict[int, tuple]
    counts: dict[int, list[int]]

    def walk(self, node: int) -> tuple:
        """The three nearest uplines by following the links."""
        found, at = [], self.upline[node]
        while at is not None and len(found) < 3:
            found.append(at)
            at = self.upline[at]
        return tuple(found + [None] * (3 - len(found)))

    def ancestors(self, node: int) -> set[int]:
        found, at = set(), self.upline[node]
        while at is not None:
            assert at not in found, "a cycle in the tree"
            found.add(at)
            at = self.upline[at]
        return found

    def recount(self) -> dict[int, list[int]]:
        counts = {n: [0, 0, 0] for n in self.upline}
        for n in self.upline:
            if self.status[n] in MEMBER_STATES:
                for level, ancestor in enumerate(self.walk(n)):
                    if ancestor is not None:
                        counts[ancestor][level] += 1
        return counts


@st.composite
def trees(draw) -> Tree:
    """Members (active or frozen) each under an earlier active member or none, plus a few
    pending or rejected applicants outside the tree (no upline, no team)."""
    size = draw(st.integers(1, 25))
    upline: dict[int, int | None] = {}
    status: dict[int, str] = {}
    for n in range(1, size + 1):
        status[n] = draw(st.sampled_from(("active", "active", "active", "frozen")))
        actives = [m for m in range(1, n) if status[m] == "active"]
        upline[n] = draw(st.sampled_from([None, *actives])) if actives else None
    for n in range(size + 1, size + 1 + draw(st.integers(0, 3))):
        upline[n], status[n] = None, draw(st.sampled_from(("pending", "rejected")))
    tree = Tree(upline, status, {}, {})
    tree.chain = {n: tree.walk(n) for n in upline}
    tree.counts = tree.recount()
    return tree


def apply(tree: Tree, moved: int, target: int | None) -> str | None:
    """Do what the service does: ask the rule, then write the plan's rows."""
    target_chain = tree.chain[target] if target is not None else (None, None, None)
    reason = move_refusal(
        moved,
        tree.status[moved],
        tree.upline[moved],
        target,
        tree.status.get(target),
        tree.ancestors(target) if target is not None else set(),
    )
    if reason is not None:
        return reason
    carried = (
        1 if tree.status[moved] in MEMBER_STATES else 0,
        sum(
            1 for n in tree.upline if tree.chain[n][0] == moved and tree.status[n] in MEMBER_STATES
        ),
        sum(
            1 for n in tree.upline if tree.chain[n][1] == moved and tree.status[n] in MEMBER_STATES
        ),
    )
    plan = plan_move(tree.chain[moved], chain_under(target, target_chain), carried)
    for n in tree.upline:
        a1, a2, _a3 = tree.chain[n]
        if a1 == moved:
            tree.chain[n] = (a1, *plan.level1)
        elif a2 == moved:
            tree.chain[n] = (a1, a2, plan.level2)
    tree.chain[moved] = plan.moved
    tree.upline[moved] = plan.moved[0]
    for ancestor, delta in plan.team_deltas.items():
        tree.counts[ancestor] = [c + d for c, d in zip(tree.counts[ancestor], delta, strict=True)]
    return None


@given(trees(), st.data())
def test_after_any_allowed_moves_the_stored_chains_and_counts_equal_a_walk(tree, data):
    nodes = sorted(tree.upline)
    for _ in range(data.draw(st.integers(1, 6))):
        moved = data.draw(st.sampled_from(nodes))
        target = data.draw(st.sampled_from([None, *nodes]))
        apply(tree, moved, target)
        for n in nodes:
            tree.ancestors(n)  # no cycle
            assert tree.chain[n] == tree.walk(n), n
        assert tree.counts == tree.recount()


@given(trees(), st.data())
def test_a_move_under_oneself_or_into_ones_own_team_is_always_refused(tree, data):
    members = [n for n in tree.upline if tree.status[n] in MEMBER_STATES]
    moved = data.draw(st.sampled_from(members))
    team = [n for n in tree.upline if moved in tree.ancestors(n)]
    target = data.draw(st.sampled_from([moved, *team]))
    before = (dict(tree.upline), dict(tree.chain), {k: list(v) for k, v in tree.counts.items()})
    reason = apply(tree, moved, target)
    assert reason in (SELF, CYCLE)
    assert (tree.upline, tree.chain, tree.counts) == before

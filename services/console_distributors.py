"""The console's distributor pages: the application queue, the search, a distributor's detail
(chain, team, customers, orders, commissions, ledger, withdrawals), and the CSV rows of each
list. Reads only: the changes are services.distributors' approve, reject, freeze, unfreeze and
change_upline, which the views call inside `audited(...)`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from infra.clock import now
from models import (
    Binding,
    Distributor,
    LedgerAccount,
    LedgerEntry,
    LedgerTransaction,
    Order,
    Tier,
    User,
    db,
)
from models.errors import InvalidQuery, NotFound
from models.identifiers import parse_code, parse_id
from models.states import DISTRIBUTOR
from models.upline_change import MEMBER_STATES
from services import audit, centre
from services.ledger import balances
from services.paging import Page, keyset_page

STATUSES = tuple(DISTRIBUTOR)  # pending, active, frozen, rejected
# sort key -> (column, descending): keyset pages over (column, id)
SORTS = {
    "newest": (None, True),
    "team": ("team_l1_count", True),
    "sales": ("own_completed_sales_fen", True),
    "team_sales": ("team_completed_sales_fen", True),
}
LEVEL_COLUMNS = {1: "upline_id", 2: "ancestor2_id", 3: "ancestor3_id"}
SECTION_ROWS = 10  # rows of each section on the detail page; its own page lists the rest
EXPORT_BATCH = 500


def _with_people(query):
    return query.options(joinedload(Distributor.user), joinedload(Distributor.tier))


# -- the application queue ------------------------------------------------------------------------
def applications_query():
    """Pending applications, oldest first (the first waiting is the first served)."""
    return _with_people(select(Distributor).where(Distributor.status == "pending"))


def applications(
    cursor: str | None = None, limit: int = 50, newest_first: bool = False
) -> Page[Distributor]:
    return keyset_page(
        applications_query(),
        Distributor.id,
        cursor,
        limit,
        sort_column=Distributor.applied_at,
        descending=newest_first,
        kind=f"console:applications:{newest_first}",
    )


def all_applications(newest_first: bool = False) -> Iterator[Distributor]:
    order = (Distributor.applied_at, Distributor.id)
    order = tuple(c.desc() for c in order) if newest_first else order
    return _stream(applications_query().order_by(*order))


# -- the search -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Search:
    text: str = ""  # a code or an openid (exact), or part of a nickname
    status: str | None = None
    tier_id: int | None = None
    sort: str = "newest"

    def __post_init__(self):
        if self.status is not None and self.status not in STATUSES:
            raise InvalidQuery("unknown status", reason="status")
        if self.sort not in SORTS:
            raise InvalidQuery("unknown sort", reason="sort")


def search_query(s: Search):
    query = _with_people(select(Distributor).join(User, User.id == Distributor.user_id))
    text = s.text.strip()[:64]
    if text:
        matches = [User.openid == text, User.nickname.contains(text, autoescape=True)]
        code = parse_code(text)
        if code is not None:
            matches.append(Distributor.code == code)
        query = query.where(or_(*matches))
    if s.status is not None:
        query = query.where(Distributor.status == s.status)
    if s.tier_id is not None:
        query = query.where(Distributor.tier_id == s.tier_id)
    return query


def search(s: Search, cursor: str | None = None, limit: int = 50) -> Page[Distributor]:
    column, descending = SORTS[s.sort]
    return keyset_page(
        search_query(s),
        Distributor.id,
        cursor,
        limit,
        sort_column=getattr(Distributor, column) if column else None,
        descending=descending,
        kind=f"console:distributors:{s.sort}",
    )


def all_found(s: Search) -> Iterator[Distributor]:
    column, _descending = SORTS[s.sort]
    order = [getattr(Distributor, column).desc()] if column else []
    return _stream(search_query(s).order_by(*order, Distributor.id.desc()))


def tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.rank)))


def _stream(query) -> Iterator[Distributor]:
    """Every row of `query`, fetched a batch at a time (a CSV of every row the filters pick)."""
    yield from db.session.scalars(query.execution_options(yield_per=EXPORT_BATCH))


# -- one distributor ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChainLink:
    level: int
    distributor: Distributor


@dataclass(frozen=True)
class LedgerLine:
    id: int
    at: object  # datetime (UTC)
    account: str  # pending | available | held | paid_out
    kind: str  # the transaction's kind (commission, settlement, withdrawal...)
    reference: str
    amount_fen: int


@dataclass(frozen=True)
class Detail:
    distributor: Distributor
    chain: list[ChainLink]  # level 1 first, up to 3
    balances: dict[str, int]
    audit: list  # this distributor's audit entries, newest first


def get(distributor_id: int) -> Distributor:
    found = db.session.scalar(
        _with_people(select(Distributor).where(Distributor.id == distributor_id))
    )
    if found is None:
        raise NotFound("no such distributor", what="distributor")
    return found


def detail(distributor_id: int) -> Detail:
    distributor = get(distributor_id)
    ids = distributor.ancestor_ids
    found = (
        {
            d.id: d
            for d in db.session.scalars(
                _with_people(select(Distributor)).where(Distributor.id.in_(ids))
            )
        }
        if ids
        else {}
    )
    chain = [ChainLink(level, found[i]) for level, i in enumerate(ids, start=1) if i in found]
    return Detail(
        distributor,
        chain,
        balances(distributor_id),
        audit.for_record(Distributor.__tablename__, distributor_id, limit=SECTION_ROWS),
    )


def team(distributor_id: int, level: int, cursor=None, limit=SECTION_ROWS) -> Page[Distributor]:
    """Members at one level (1-3) under the distributor, newest first (by id, the order they
    applied in: joined_at is empty for someone never approved)."""
    if level not in LEVEL_COLUMNS:
        raise InvalidQuery("level is 1 to 3", reason="level")
    column = getattr(Distributor, LEVEL_COLUMNS[level])
    query = _with_people(select(Distributor)).where(
        column == distributor_id, Distributor.status.in_(MEMBER_STATES)
    )
    return keyset_page(query, Distributor.id, cursor, limit, kind=f"console:team{level}")


def customers(distributor_id: int, cursor=None, limit=SECTION_ROWS) -> Page[Binding]:
    """Shoppers bound to the distributor now (an unexpired binding), newest binding first."""
    query = (
        select(Binding)
        .options(joinedload(Binding.user))
        .where(
            Binding.distributor_id == distributor_id,
            or_(Binding.expires_at.is_(None), Binding.expires_at > now()),
        )
    )
    return keyset_page(
        query,
        Binding.user_id,
        cursor,
        limit,
        sort_column=Binding.bound_at,
        kind="console:customers",
    )


def orders(distributor_id: int, cursor=None, limit=SECTION_ROWS) -> Page[Order]:
    """Orders attributed to the distributor (their chain starts with them), newest first."""
    query = select(Order).where(Order.distributor_id == distributor_id)
    return keyset_page(query, Order.id, cursor, limit, kind="console:orders")


def commissions(distributor_id: int, cursor=None, limit=SECTION_ROWS):
    """What the distributor earned, newest first: the centre's own reader (buyers masked)."""
    return centre.commissions(distributor_id, cursor=cursor, limit=limit)


def withdrawals(distributor_id: int, cursor=None, limit=SECTION_ROWS):
    """The distributor's withdrawals with their steps: the centre's own reader."""
    return centre.withdrawals(distributor_id, cursor=cursor, limit=limit)


def ledger(distributor_id: int, cursor=None, limit=SECTION_ROWS) -> Page[LedgerLine]:
    """Entries on the distributor's four accounts, newest first."""
    accounts = dict(
        db.session.execute(
            select(LedgerAccount.id, LedgerAccount.kind).where(
                LedgerAccount.distributor_id == distributor_id
            )
        ).all()
    )
    if not accounts:
        return Page([], None)
    query = select(LedgerEntry).where(LedgerEntry.account_id.in_(accounts))
    page = keyset_page(query, LedgerEntry.id, cursor, limit, kind="console:ledger")
    txns = (
        dict(
            db.session.execute(
                select(LedgerTransaction.id, LedgerTransaction).where(
                    LedgerTransaction.id.in_({e.transaction_id for e in page.items})
                )
            ).all()
        )
        if page.items
        else {}
    )
    lines = [
        LedgerLine(
            e.id,
            e.created_at,
            accounts[e.account_id],
            txns[e.transaction_id].kind,
            txns[e.transaction_id].reference,
            int(e.amount_fen),
        )
        for e in page.items
    ]
    return Page(lines, page.next_cursor)


SECTIONS = {
    "team": team,
    "customers": customers,
    "orders": orders,
    "commissions": commissions,
    "ledger": ledger,
    "withdrawals": withdrawals,
}


def upline_by_code_or_id(text: str) -> int | None:
    """The distributor a typed code or id names (None: the field was left empty, meaning no
    upline); NotFound when it names nobody."""
    text = (text or "").strip()
    if not text:
        return None
    code = parse_code(text)
    found = None
    if code is not None:
        found = db.session.scalar(select(Distributor.id).where(Distributor.code == code))
    row_id = parse_id(text)
    if found is None and row_id is not None:
        found = db.session.scalar(select(Distributor.id).where(Distributor.id == row_id))
    if found is None:
        raise NotFound("no such upline", what="upline")
    return found

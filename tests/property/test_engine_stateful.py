"""A hypothesis state machine drives the engine through its services against the real database
(SQLite and PostgreSQL): binding, orders, payments and their duplicates, completion, refunds and
their repeats, settlement, withdrawals, reviews and payouts. After every step the books must
still balance (docs/money.md, "The ledger" and "Exactly once")."""

from __future__ import annotations

import contextlib
import itertools
from collections import defaultdict
from datetime import timedelta
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import engine as hypothesis_engine
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, inspect, select, update

from infra.clock import now
from infra.redis_client import get_redis
from models import (
    Base,
    Commission,
    CommissionCampaign,
    Distributor,
    DistributorDay,
    LedgerAccount,
    LedgerEntry,
    Order,
    OrderLine,
    Payment,
    Product,
    Refund,
    RuleSet,
    User,
    Withdrawal,
    db,
)
from models.commission import MAX_LEVELS, reversal_due
from models.errors import (
    BelowMinimum,
    InsufficientBalance,
    InvalidTransition,
    OrderError,
    OverDailyLimit,
)
from models.ledger import (
    AVAILABLE,
    COMMISSION_EXPENSE,
    DISTRIBUTOR_ACCOUNTS,
    FEE_INCOME,
    HELD,
    PAID_OUT,
    PENDING,
)
from models.money import BPS
from services import orders, sender_cards, settlement, withdrawals
from services.hot_reads import sender_row
from services.ledger import reconcile
from services.merchant import merchant
from services.rules import publish_rule_set
from tests.factories import make_chain, make_distributor, make_product, make_shopper, set_policy
from tests.factories import make_tier as new_tier
from tests.support.ledger_checks import assert_postings_match
from wechat.payouts import TransferResult, TransientPayoutError, use_payout_provider
from workers.payouts import pay_withdrawal

MAX_FREEZE_DAYS = 10
IN_FLIGHT = ("requested", "approved", "paying")
_numbers = itertools.count(1)


def reset_database() -> None:
    """Empty every table (children first) and the job queues: each example starts afresh."""
    db.session.rollback()
    present = set(inspect(db.engine).get_table_names())  # alembic_version is not a model
    for table in reversed(Base.metadata.sorted_tables):
        if table.name in present:
            db.session.execute(table.delete())
    db.session.commit()
    get_redis().flushdb()


class RecordingPayouts:
    """Plays WeChat Pay: answers as told, and is idempotent on the out-bill number. "lost_ok"
    pays but the answer never arrives (the job sees a transient error and retries later)."""

    def __init__(self):
        self.outcome = "ok"
        self.calls: list = []
        self.paid: dict[str, int] = {}  # out-bill number -> fen actually transferred

    def transfer(self, request):
        self.calls.append(request)
        if request.out_bill_no in self.paid:
            return TransferResult(True, f"pay-{request.out_bill_no}")
        if self.outcome == "fail":
            return TransferResult(False, reason="V2_ACCOUNT_SIMPLE_BAN: 无法给非实名用户付款")
        if self.outcome == "transient":
            raise TransientPayoutError("SYSTEMERROR")
        self.paid[request.out_bill_no] = request.amount_fen
        if self.outcome == "lost_ok":
            raise TransientPayoutError("read timed out")
        return TransferResult(True, f"pay-{request.out_bill_no}")


def _rates(levels: int, draw) -> tuple[int, int, int]:
    rates, left = [], BPS
    for level in range(1, MAX_LEVELS + 1):
        rate = min(draw(st.sampled_from([0, 300, 1_000, 2_500, 4_000, 7_000])), left)
        left -= rate if level <= levels else 0
        rates.append(rate if level <= levels else 0)
    return tuple(rates)


@st.composite
def rule_sets(draw) -> dict:
    levels = draw(st.integers(1, MAX_LEVELS))
    return {
        "levels": levels,
        "rates_bps": _rates(levels, draw),
        "max_share_bps": draw(st.sampled_from([1_500, 3_000, 5_000, 10_000, 0, 700])),
        "self_purchase": draw(st.booleans()),
        "freeze_days": draw(st.integers(0, MAX_FREEZE_DAYS)),
    }


@st.composite
def product_specs(draw) -> dict:
    kind = draw(st.sampled_from([None, "percent", "fixed"]))
    values = None
    if kind == "percent":
        values = list(_rates(MAX_LEVELS, draw))
    elif kind == "fixed":
        values = [draw(st.sampled_from([0, 1, 150, 900, 4_000])) for _ in range(MAX_LEVELS)]
    return {
        "price_fen": draw(st.sampled_from([9_900, 25_000, 1, 333, 1_999])),
        "commission_kind": kind,
        "commission_values": values,
    }


policies = st.fixed_dictionaries(
    {
        "withdraw_min_fen": st.sampled_from([100, 1, 1_000]),
        "withdraw_max_per_day_fen": st.sampled_from([None, 3_000, 20_000]),
        "withdraw_fee_bps": st.sampled_from([0, 60, 1_000]),
        "withdraw_auto_approve_max_fen": st.sampled_from([500, 5_000, None]),
    }
)
SEED_RULES = {"levels": 3, "rates_bps": (1_000, 500, 200), "max_share_bps": 5_000}


class EngineMachine(RuleBasedStateMachine):
    """Keeps ids, and the status it expects of each order and withdrawal; every other fact is
    read back from the database."""

    app = None  # set by the test

    def __init__(self):
        super().__init__()
        self.distributors: list[int] = []
        self.codes: dict[int, str] = {}
        self.buyers: list[int] = []  # user ids: shoppers, and distributors buying themselves
        self.products: list[int] = []
        self.orders: dict[int, str] = {}  # order id -> expected status
        self.txns: dict[str, str] = {}  # provider txn id -> order no
        self.refund_nos: dict[str, int] = {}  # refund no -> order id
        self.withdrawals: dict[int, str] = {}  # withdrawal id -> expected status
        self.tier_id: int | None = None
        self.changes = 0  # rule versions published and tiers changed, kept few
        self.repeats = 0  # duplicate deliveries, kept few
        self.completed = 0  # orders completed since the last settlement
        self.payouts = RecordingPayouts()

    def _with(self, *statuses: str, of: str = "orders") -> list[int]:
        return sorted(i for i, s in getattr(self, of).items() if s in statuses)

    # -- set-up ---------------------------------------------------------------------------

    @initialize(
        policy=policies,
        rules=rule_sets(),
        products=st.lists(product_specs(), min_size=1, max_size=3),
        tier_rates=st.tuples(*[st.sampled_from([None, 0, 2_000, 8_000])] * MAX_LEVELS),
        campaign=st.sampled_from([None, 20_000, 5_000]),
        seed_sales=st.lists(
            st.tuples(
                st.integers(0, MAX_LEVELS - 1),
                st.integers(1, 3),
                st.sampled_from(["settled", "completed", "paid", "part_refunded"]),
            ),
            min_size=1,
            max_size=3,
        ),
    )
    def set_up(self, policy, rules, products, tier_rates, campaign, seed_sales):
        """A merchant with a 3-deep chain, some sales (paid, completed or settled, so there is
        money in every state) and a withdrawal or two; then the rules drawn for this run."""
        reset_database()
        use_payout_provider(self.app, self.payouts)
        set_policy(withdraw_channels=["wechat"], payout_channel="wechat_v2", **policy)
        for distributor in make_chain(MAX_LEVELS):
            self._add_distributor(distributor)
        tier = new_tier("银牌", 1, l1_bps=tier_rates[0], l2_bps=tier_rates[1], l3_bps=tier_rates[2])
        self.tier_id = tier.id

        publish_rule_set(**SEED_RULES)
        seed_product = make_product(price_fen=20_000, stock=1_000_000).id
        for position, quantity, stage in sorted(seed_sales, key=lambda sale: sale[2] != "settled"):
            bound_to = SimpleNamespace(code=self.codes[self.distributors[position]])
            shopper = make_shopper(bound_to=bound_to)
            self.buyers.append(shopper.id)
            order = orders.create_order(shopper.id, [(seed_product, quantity)])
            self._pay(order.id, order.order_no, order.payable_fen)
            if stage == "part_refunded":  # then completed: due, and partly reversed
                refund_no = f"RF{next(_numbers)}"
                orders.refund_order(order.id, refund_no, amount_fen=order.payable_fen // 3)
                self.refund_nos[refund_no] = order.id
            if stage != "paid":
                orders.complete_order(order.id, at=now() - timedelta(days=MAX_FREEZE_DAYS + 1))
                self.orders[order.id] = "completed"
            if stage == "settled":
                settlement.settle_matured()
            else:
                self.completed += stage != "paid"
        auto = policy["withdraw_auto_approve_max_fen"]
        for distributor in self.distributors:  # withdrawals in flight, if the policy allows
            amount = self._balance(distributor, AVAILABLE) // 2
            if auto is not None and distributor == self.distributors[-1]:
                amount = min(amount, auto)  # one to be paid without review
            with contextlib.suppress(BelowMinimum, InsufficientBalance, OverDailyLimit):
                withdrawal = withdrawals.request_withdrawal(distributor, max(amount, 1))
                self.withdrawals[withdrawal.id] = withdrawal.status

        publish_rule_set(**rules)
        for spec in products:
            self.products.append(make_product(stock=1_000_000, **spec).id)
        if campaign:
            db.session.add(
                CommissionCampaign(
                    name="双倍佣金",
                    multiplier_bps=campaign,
                    starts_at=now() - timedelta(days=1),
                    ends_at=now() + timedelta(days=1),
                    product_ids=self.products[:1],
                )
            )
            db.session.commit()

    def _add_distributor(self, distributor) -> None:
        self.distributors.append(distributor.id)
        self.codes[distributor.id] = distributor.code
        self.buyers.append(distributor.user_id)

    # -- people and rules -------------------------------------------------------------------

    @precondition(lambda self: len(self.buyers) < 10)
    @rule(data=st.data(), as_distributor=st.booleans())
    def bind_new_shopper(self, data, as_distributor):
        """A new shopper scans a distributor's code; some apply and become distributors under
        them, so the tree grows deeper than three levels."""
        target = data.draw(st.sampled_from(self.distributors))
        if as_distributor and len(self.distributors) < 6:
            self._add_distributor(make_distributor(upline=db.session.get(Distributor, target)))
        else:
            shopper = make_shopper(bound_to=SimpleNamespace(code=self.codes[target]))
            self.buyers.append(shopper.id)

    @precondition(lambda self: self.changes < 2)
    @rule(data=st.data(), rules=rule_sets())
    def change_rules(self, data, rules):
        """A new rule version, or a distributor moved to the tier with its own rates. Neither
        changes a commission already created (it keeps its version, rate and base)."""
        self.changes += 1
        if data.draw(st.booleans()):
            publish_rule_set(**rules)
            return
        distributor = data.draw(st.sampled_from(self.distributors))
        db.session.execute(
            update(Distributor).where(Distributor.id == distributor).values(tier_id=self.tier_id)
        )
        db.session.commit()

    # -- orders ---------------------------------------------------------------------------

    @precondition(lambda self: len(self._with("pending_payment")) < 2)
    @rule(data=st.data())
    def create_order(self, data):
        user_id = data.draw(st.sampled_from(self.buyers))
        items = data.draw(
            st.lists(
                st.tuples(st.sampled_from(self.products), st.integers(1, 5)), min_size=1, max_size=3
            )
        )
        prices = dict(db.session.execute(select(Product.id, Product.price_fen)).all())
        goods = sum(prices[p] * q for p, q in items)
        discount = data.draw(st.one_of(st.just(0), st.integers(0, goods - 1)))
        shipping = data.draw(st.sampled_from([0, 800]))
        order = orders.create_order(user_id, items, discount, shipping)
        assert order.payable_fen == goods - discount + shipping
        self.orders[order.id] = "pending_payment"

    def _order(self, order_id: int) -> Order:
        db.session.expire_all()
        return db.session.get(Order, order_id)

    def _pay(self, order_id: int, order_no: str, payable: int) -> None:
        txn = f"txn-{next(_numbers)}"
        outcome = orders.record_payment(txn, order_no, payable)
        assert not outcome.duplicate
        assert outcome.commissions == db.session.scalar(
            select(func.count()).select_from(Commission).where(Commission.order_id == order_id)
        )
        db.session.rollback()
        self.txns[txn] = order_no
        self.orders[order_id] = "paid"

    @precondition(lambda self: self._with("pending_payment"))
    @rule(data=st.data(), wrong_amount_first=st.booleans())
    def pay(self, data, wrong_amount_first):
        order = self._order(data.draw(st.sampled_from(self._with("pending_payment"))))
        order_id, order_no, payable = order.id, order.order_no, order.payable_fen
        if wrong_amount_first:
            before = self._footprint()
            with pytest.raises(OrderError):  # a notification for the wrong amount is refused
                orders.record_payment(f"bad-{next(_numbers)}", order_no, payable + 1)
            assert self._footprint() == before
        self._pay(order_id, order_no, payable)

    @precondition(lambda self: self.txns and self.repeats < 3)
    @rule(data=st.data())
    def pay_again(self, data):
        """The payment notification delivered again: a no-op that says it was a duplicate."""
        self.repeats += 1
        txn = data.draw(st.sampled_from(list(self.txns)))
        order_no = self.txns[txn]
        payable = db.session.scalar(select(Order).where(Order.order_no == order_no)).payable_fen
        before = self._footprint()
        assert orders.record_payment(txn, order_no, payable).duplicate
        assert self._footprint() == before
        with pytest.raises(OrderError):  # a second, different payment of a paid order
            orders.record_payment(f"txn-{next(_numbers)}", order_no, payable)
        assert self._footprint() == before

    @precondition(lambda self: self._with("pending_payment"))
    @rule(data=st.data())
    def cancel_unpaid(self, data):
        order_id = data.draw(st.sampled_from(self._with("pending_payment")))
        orders.cancel_order(order_id, "changed my mind")
        self.orders[order_id] = "cancelled"

    @precondition(lambda self: self._with("paid", "shipped"))
    @rule(data=st.data(), matured=st.booleans(), ship_first=st.booleans())
    def complete(self, data, matured, ship_first):
        """Confirm receipt, in the past (the commissions are due now) or now (still frozen)."""
        order_id = data.draw(st.sampled_from(self._with("paid", "shipped")))
        if ship_first and self.orders[order_id] == "paid":
            orders.ship_order(order_id)
            self.orders[order_id] = "shipped"
            assert self._order(order_id).status == "shipped"
        days_ago = MAX_FREEZE_DAYS + 1 if matured else 0
        orders.complete_order(order_id, at=now() - timedelta(days=days_ago))
        self.orders[order_id] = "completed"
        self.completed += 1

    @precondition(lambda self: self._with("paid", "shipped", "completed"))
    @rule(data=st.data(), mode=st.sampled_from(["amount", "line", "full"]))
    def refund(self, data, mode):
        order = self._order(data.draw(st.sampled_from(self._with("paid", "shipped", "completed"))))
        lines = {line.id: (line.paid_fen, line.refunded_fen) for line in order.lines}
        left = {k: paid - done for k, (paid, done) in lines.items() if paid > done}
        assert left, "an order with nothing left to refund should be refunded already"
        order_id, before = order.id, order.refunded_fen
        refund_no = f"RF{next(_numbers)}"
        if mode == "full":
            expected = sum(left.values())
            refund = orders.refund_order(order_id, refund_no)
        elif mode == "amount":
            expected = data.draw(st.integers(1, sum(left.values())))
            refund = orders.refund_order(order_id, refund_no, amount_fen=expected)
        else:
            line_id = data.draw(st.sampled_from(sorted(left)))
            expected = data.draw(st.integers(1, left[line_id]))
            refund = orders.refund_order(order_id, refund_no, line_amounts={line_id: expected})
        assert refund.amount_fen == expected
        order = self._order(order_id)
        assert order.refunded_fen == before + expected
        if expected == sum(left.values()):
            self.orders[order_id] = "refunded"
        assert order.status == self.orders[order_id]
        self.refund_nos[refund_no] = order_id

    @precondition(lambda self: self.refund_nos and self.repeats < 3)
    @rule(data=st.data())
    def refund_again(self, data):
        """The same refund number again (a retried callback): nothing changes."""
        self.repeats += 1
        refund_no = data.draw(st.sampled_from(list(self.refund_nos)))
        order_id = self.refund_nos[refund_no]
        original = db.session.scalar(select(Refund).where(Refund.refund_no == refund_no))
        original_id, original_amount = original.id, original.amount_fen
        before = self._footprint()
        again = orders.refund_order(order_id, refund_no, amount_fen=1)
        assert (again.id, again.amount_fen) == (original_id, original_amount)
        assert self._footprint() == before

    # -- settlement and withdrawals ---------------------------------------------------------

    @precondition(lambda self: self.completed)
    @rule()
    def settle(self):
        self.completed = 0
        due = db.session.scalar(
            select(func.count())
            .select_from(Commission)
            .where(Commission.status == "pending", Commission.matures_at <= now())
        )
        db.session.rollback()
        assert settlement.settle_matured() == due
        assert settlement.settle_matured() == 0  # settling again finds nothing

    @rule(data=st.data(), size=st.sampled_from(["part", "all", "part", "over", "tiny"]))
    def request_withdrawal(self, data, size):
        funded = [d for d in self.distributors if self._balance(d, AVAILABLE) > 0]
        pool = funded if funded and data.draw(st.integers(0, 4)) else self.distributors
        distributor = data.draw(st.sampled_from(pool))
        policy = self._policy()
        available = self._balance(distributor, AVAILABLE)
        if size == "part":
            amount = data.draw(st.integers(min(policy.withdraw_min_fen, available), available))
            amount = max(amount, 1)
        elif size == "all":
            amount = max(available, 1)
        elif size == "over":
            amount = max(available, 0) + data.draw(st.integers(1, 1_000))
        else:
            amount = data.draw(st.integers(1, max(policy.withdraw_min_fen - 1, 1)))
        today = withdrawals.withdrawn_today_fen(distributor)
        db.session.rollback()
        if amount < policy.withdraw_min_fen:
            expected = BelowMinimum
        elif amount > available:
            expected = InsufficientBalance
        elif policy.withdraw_max_per_day_fen is not None and (
            today + amount > policy.withdraw_max_per_day_fen
        ):
            expected = OverDailyLimit
        else:
            expected = None
        before = self._footprint()
        try:
            withdrawal = withdrawals.request_withdrawal(distributor, amount)
        except (BelowMinimum, InsufficientBalance, OverDailyLimit) as error:
            assert type(error) is expected, (error, expected, amount, available, today)
            assert self._footprint() == before  # a refused request leaves no trace
            return
        assert expected is None, (expected, amount, available, today)
        auto = policy.withdraw_auto_approve_max_fen
        status = "approved" if auto is not None and amount <= auto else "requested"
        assert withdrawal.status == status
        assert withdrawal.fee_fen == amount * policy.withdraw_fee_bps // BPS
        assert self._balance(distributor, AVAILABLE) == available - amount
        self.withdrawals[withdrawal.id] = status

    @precondition(lambda self: self.withdrawals)
    @rule(data=st.data(), approve=st.booleans())
    def review(self, data, approve):
        """Mostly a waiting request; sometimes one already decided, which must be refused."""
        waiting = self._with("requested", of="withdrawals")
        pool = waiting if waiting and data.draw(st.integers(0, 4)) else sorted(self.withdrawals)
        withdrawal_id = data.draw(st.sampled_from(pool))
        status, amount, distributor = self._withdrawal(withdrawal_id)
        assert status == self.withdrawals[withdrawal_id]
        available, held = self._balance(distributor, AVAILABLE), self._balance(distributor, HELD)
        action = withdrawals.approve_withdrawal if approve else withdrawals.reject_withdrawal
        args = (withdrawal_id,) if approve else (withdrawal_id, "资料不符")
        if status != "requested":
            with pytest.raises(InvalidTransition):
                action(*args)
            assert self._withdrawal(withdrawal_id)[0] == status
            return
        action(*args)
        self.withdrawals[withdrawal_id] = "approved" if approve else "rejected"
        returned = 0 if approve else amount  # a rejection gives the funds back
        assert self._balance(distributor, AVAILABLE) == available + returned
        assert self._balance(distributor, HELD) == held - returned

    @precondition(lambda self: self.withdrawals)
    @rule(data=st.data(), outcome=st.sampled_from(["ok", "fail", "transient", "lost_ok"]))
    def run_payout(self, data, outcome):
        """Mostly an approved or paying withdrawal; sometimes any, which must be left alone."""
        in_flight = self._with("approved", "paying", of="withdrawals")
        pool = in_flight if in_flight and data.draw(st.integers(0, 4)) else sorted(self.withdrawals)
        withdrawal_id = data.draw(st.sampled_from(pool))
        status, amount, distributor = self._withdrawal(withdrawal_id)
        assert status == self.withdrawals[withdrawal_id]
        out_bill_no = db.session.scalar(
            select(Withdrawal.out_bill_no).where(Withdrawal.id == withdrawal_id)
        )
        db.session.rollback()
        available = self._balance(distributor, AVAILABLE)
        already_paid = out_bill_no in self.payouts.paid
        calls = len(self.payouts.calls)
        self.payouts.outcome = outcome
        if status not in ("approved", "paying"):
            assert pay_withdrawal(withdrawal_id) == "nothing to do"
            assert len(self.payouts.calls) == calls  # a settled withdrawal is never re-sent
            return
        if already_paid or outcome == "ok":
            assert pay_withdrawal(withdrawal_id) == "paid"
            self.withdrawals[withdrawal_id] = "paid"
        elif outcome == "fail":
            assert pay_withdrawal(withdrawal_id) == "failed"
            self.withdrawals[withdrawal_id] = "failed"
            # a definitive failure gives the funds back
            assert self._balance(distributor, AVAILABLE) == available + amount
        else:
            with pytest.raises(TransientPayoutError):
                pay_withdrawal(withdrawal_id)
            self.withdrawals[withdrawal_id] = "paying"
        assert self._withdrawal(withdrawal_id)[0] == self.withdrawals[withdrawal_id]
        assert len(self.payouts.calls) == calls + 1
        sent = [c for c in self.payouts.calls if c.out_bill_no == out_bill_no]
        assert len({(c.amount_fen, c.openid) for c in sent}) == 1  # a retry is the same transfer

    # -- helpers ----------------------------------------------------------------------------

    def _policy(self):
        m = merchant()
        policy = SimpleNamespace(
            withdraw_min_fen=m.withdraw_min_fen,
            withdraw_max_per_day_fen=m.withdraw_max_per_day_fen,
            withdraw_fee_bps=m.withdraw_fee_bps,
            withdraw_auto_approve_max_fen=m.withdraw_auto_approve_max_fen,
        )
        db.session.rollback()
        return policy

    def _balance(self, distributor_id: int, kind: str) -> int:
        fen = db.session.scalar(
            select(LedgerAccount.balance_fen).where(
                LedgerAccount.distributor_id == distributor_id, LedgerAccount.kind == kind
            )
        )
        db.session.rollback()
        return fen or 0

    def _withdrawal(self, withdrawal_id: int) -> tuple[str, int, int]:
        row = db.session.execute(
            select(Withdrawal.status, Withdrawal.amount_fen, Withdrawal.distributor_id).where(
                Withdrawal.id == withdrawal_id
            )
        ).one()
        db.session.rollback()
        return tuple(row)

    def _footprint(self) -> tuple:
        """What any effect would change: row counts, and every balance."""
        counts = tuple(
            db.session.scalar(select(func.count()).select_from(model))
            for model in (Payment, Commission, Refund, Withdrawal, LedgerEntry)
        )
        balances = tuple(
            db.session.execute(
                select(LedgerAccount.key, LedgerAccount.balance_fen).order_by(LedgerAccount.key)
            ).all()
        )
        reversed_total = db.session.scalar(select(func.sum(Commission.reversed_fen)))
        refunded_total = db.session.scalar(select(func.sum(Order.refunded_fen)))
        db.session.rollback()
        return counts, balances, reversed_total, refunded_total

    @rule(data=st.data())
    def a_distributor_looks_at_their_earnings(self, data):
        """The webhook caches their sender card (services.sender_cards), as warm() does."""
        distributor_id = data.draw(st.sampled_from(self.distributors))
        db.session.rollback()  # warm() reads the latest commit
        openid = db.session.scalar(
            select(User.openid)
            .join(Distributor, Distributor.user_id == User.id)
            .where(Distributor.id == distributor_id)
        )
        db.session.rollback()
        assert sender_cards.warm(openid)

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def every_cached_sender_card_is_what_the_database_says(self):
        """No commit leaves a card stale: each one still equals a fresh read of its sender."""
        client = get_redis()
        for key in client.scan_iter("wechat:card:*"):
            card = client.get(key)
            if card is None:
                continue
            day, row = sender_cards.decode(card.decode())
            openid = key.decode().removeprefix(sender_cards.card_key(""))
            db.session.rollback()
            assert row == tuple(sender_row(openid, day)), openid
        db.session.rollback()

    @invariant()
    def the_ledger_reconciles(self):
        report = reconcile()
        assert report.ok, report.lines()

    @invariant()
    def the_books_balance(self):
        """Every fen in a distributor's accounts came from a commission it kept: pending +
        available + held + paid out + fees taken == commissions net of reversals."""
        session = db.session
        accounts: dict[int | None, dict[str, int]] = defaultdict(dict)
        for distributor_id, kind, fen in session.execute(
            select(LedgerAccount.distributor_id, LedgerAccount.kind, LedgerAccount.balance_fen)
        ):
            accounts[distributor_id][kind] = fen
        merchant_accounts = accounts.pop(None, {})
        assert (
            sum(merchant_accounts.values()) + sum(sum(a.values()) for a in accounts.values()) == 0
        )

        kept = defaultdict(
            int,
            session.execute(
                select(
                    Commission.beneficiary_id,
                    func.sum(Commission.amount_fen - Commission.reversed_fen),
                ).group_by(Commission.beneficiary_id)
            ).all(),
        )
        held, paid_out, fees = defaultdict(int), defaultdict(int), defaultdict(int)
        for distributor_id, status, amount, fee in session.execute(
            select(
                Withdrawal.distributor_id,
                Withdrawal.status,
                Withdrawal.amount_fen,
                Withdrawal.fee_fen,
            )
        ):
            if status in IN_FLIGHT:
                held[distributor_id] += amount
            elif status == "paid":
                paid_out[distributor_id] += amount - fee
                fees[distributor_id] += fee
        assert set(kept) <= set(accounts)
        earned = dict(
            session.execute(
                select(DistributorDay.distributor_id, func.sum(DistributorDay.earned_fen)).group_by(
                    DistributorDay.distributor_id
                )
            ).all()
        )
        for distributor_id, a in accounts.items():
            assert set(a) == set(DISTRIBUTOR_ACCOUNTS)
            # the earnings page's figures add up to what the ledger holds
            assert earned.get(distributor_id, 0) == kept[distributor_id]
            total = sum(a[k] for k in DISTRIBUTOR_ACCOUNTS)
            assert total + fees[distributor_id] == kept[distributor_id], (distributor_id, a)
            assert a[HELD] == held[distributor_id]
            assert a[PAID_OUT] == paid_out[distributor_id]
            assert a[PENDING] >= 0
        assert merchant_accounts.get(COMMISSION_EXPENSE, 0) == -sum(kept.values())
        assert merchant_accounts.get(FEE_INCOME, 0) == sum(fees.values())
        session.rollback()

    @invariant()
    def payouts_match_what_the_provider_paid(self):
        rows = db.session.execute(
            select(
                Withdrawal.out_bill_no, Withdrawal.status, Withdrawal.amount_fen, Withdrawal.fee_fen
            )
        ).all()
        db.session.rollback()
        for out_bill_no, status, amount, fee in rows:
            if status == "paid":
                assert self.payouts.paid.get(out_bill_no) == amount - fee
            elif status != "paying":  # paying: the answer may be lost in flight
                assert out_bill_no not in self.payouts.paid, (out_bill_no, status)

    @invariant()
    def statuses_are_as_expected(self):
        order_statuses = dict(db.session.execute(select(Order.id, Order.status)).all())
        withdrawal_statuses = dict(
            db.session.execute(select(Withdrawal.id, Withdrawal.status)).all()
        )
        db.session.rollback()
        assert order_statuses == self.orders
        assert withdrawal_statuses == self.withdrawals

    @invariant()
    def exactly_once(self):
        session = db.session
        share_dupes = session.execute(
            select(Commission.order_line_id, Commission.beneficiary_id, Commission.level)
            .group_by(Commission.order_line_id, Commission.beneficiary_id, Commission.level)
            .having(func.count() > 1)
        ).all()
        txn_dupes = session.execute(
            select(Payment.provider_txn_id)
            .group_by(Payment.provider_txn_id)
            .having(func.count() > 1)
        ).all()
        order_dupes = session.execute(
            select(Payment.order_id).group_by(Payment.order_id).having(func.count() > 1)
        ).all()
        session.rollback()
        assert not share_dupes and not txn_dupes and not order_dupes

    @invariant()
    def commissions_follow_their_rules(self):
        session = db.session
        rule_sets = {r.version: r.to_rule() for r in session.scalars(select(RuleSet))}
        order_rows = {o.id: o for o in session.scalars(select(Order))}
        lines = {line.id: line for line in session.scalars(select(OrderLine))}
        payments = dict(session.execute(select(Payment.order_id, Payment.amount_fen)).all())
        refunds = defaultdict(
            int,
            session.execute(
                select(Refund.order_id, func.sum(Refund.amount_fen)).group_by(Refund.order_id)
            ).all(),
        )
        by_line, by_order = defaultdict(list), defaultdict(list)
        settled = defaultdict(int)  # (settlement transaction, beneficiary) -> fen moved
        for c in session.scalars(select(Commission)):
            by_line[c.order_line_id].append(c)
            by_order[c.order_id].append(c)
        ledger = defaultdict(int)  # (commission, account kind) -> fen
        for commission_id, kind, fen in session.execute(
            select(LedgerEntry.commission_id, LedgerAccount.kind, func.sum(LedgerEntry.amount_fen))
            .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
            .where(LedgerEntry.commission_id.is_not(None))
            .group_by(LedgerEntry.commission_id, LedgerAccount.kind)
        ):
            ledger[commission_id, kind] = fen

        for order in order_rows.values():
            unpaid = order.status in ("pending_payment", "cancelled")
            assert (order.id in payments) is not unpaid
            if unpaid:
                assert not by_order[order.id]
                continue
            assert payments[order.id] == order.payable_fen
            assert order.refunded_fen == sum(
                line.refunded_fen for line in lines.values() if line.order_id == order.id
            )
            assert order.refunded_fen == refunds[order.id]
            if by_order[order.id]:
                cap = rule_sets[by_order[order.id][0].rule_version].max_share_bps
                base = order.goods_fen - order.discount_fen
                assert sum(c.amount_fen for c in by_order[order.id]) <= base * cap // BPS

        for line_id, shares in by_line.items():
            line = lines[line_id]
            order = order_rows[line.order_id]
            rule = rule_sets[shares[0].rule_version]
            assert {c.rule_version for c in shares} == {rule.version}
            assert sum(c.amount_fen for c in shares) <= line.paid_fen * rule.max_share_bps // BPS
            for c in shares:
                assert 1 <= c.level <= rule.levels
                assert c.beneficiary_id == order.chain[c.level - 1]
                assert c.base_fen == line.paid_fen
                if not rule.self_purchase:
                    assert c.beneficiary_id != order.buyer_distributor_id
                # reversed in proportion to what the line refunded: the merchant never pays
                # on refunded money, and keeps at most the fen that rounding leaves
                kept, left = c.amount_fen - c.reversed_fen, line.paid_fen - line.refunded_fen
                assert kept * line.paid_fen <= c.amount_fen * left
                assert (kept + 1) * line.paid_fen > c.amount_fen * left
                assert c.reversed_fen == reversal_due(
                    c.amount_fen, line.paid_fen, line.refunded_fen
                )
                assert (c.status == "reversed") == (c.reversed_fen == c.amount_fen)
                if c.status == "available":  # commission only on completed sales
                    assert order.status == "completed"
                    assert c.matures_at is not None and c.matures_at <= c.settled_at
                outstanding = c.amount_fen - c.reversed_fen
                if c.settlement_txn_id is None:  # never settled: all of it is still pending
                    assert ledger[c.id, PENDING] == outstanding, c.id
                    assert ledger[c.id, AVAILABLE] == 0, c.id
                else:
                    # Settlement moved what its tagged pending entries held (the accrual net of
                    # reversals before it), in one posting per beneficiary; later reversals
                    # come out of available, tagged.
                    moved = ledger[c.id, PENDING]
                    assert moved + ledger[c.id, AVAILABLE] == outstanding, c.id
                    settled[c.settlement_txn_id, c.beneficiary_id] += moved
                assert ledger[c.id, COMMISSION_EXPENSE] == c.reversed_fen, c.id
        assert_postings_match(settled)
        session.rollback()


SETTINGS = settings(
    max_examples=20,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)


@pytest.mark.timeout(600)
def test_engine_state_machine(app, monkeypatch):
    # Each example costs real transactions: cap shrinking (hypothesis's default is 300 s) so a
    # failure is reported, shrunk as far as time allows, well within the test's timeout.
    monkeypatch.setattr(hypothesis_engine, "MAX_SHRINKING_SECONDS", 120, raising=False)
    machine = type("EngineStateMachine", (EngineMachine,), {"app": app})
    with app.app_context():
        try:
            run_state_machine_as_test(machine, settings=SETTINGS)
        finally:
            reset_database()

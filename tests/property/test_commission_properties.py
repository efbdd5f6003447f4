"""Property tests of the money rules with no I/O: commission shares, allocation, reversals and
yuan text (docs/money.md, "Commission rules" and "Fen")."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from models.commission import (
    MAX_LEVELS,
    Beneficiary,
    Line,
    ProductCommission,
    Rule,
    commission_chain,
    compute_commissions,
    reversal_due,
    validate_rule,
)
from models.errors import InvalidAmount, InvalidRule
from models.money import BPS, allocate, format_yuan, parse_yuan

# ---------------------------------------------------------------------------------------------
# Strategies

bps = st.integers(0, BPS)
multipliers = st.one_of(st.just(BPS), st.integers(1, 3 * BPS))


@st.composite
def rates_within(draw, levels: int, budget: int = BPS) -> tuple[int, int, int]:
    """Three rates whose first `levels` add up to at most `budget`; the rest are any rate."""
    rates = []
    left = budget
    for level in range(1, MAX_LEVELS + 1):
        if level <= levels:
            rate = draw(st.integers(0, left))
            left -= rate
        else:
            rate = draw(bps)
        rates.append(rate)
    return tuple(rates)


@st.composite
def rules(draw) -> Rule:
    levels = draw(st.integers(1, MAX_LEVELS))
    return Rule(
        version=draw(st.integers(0, 50)),
        levels=levels,
        rates_bps=draw(rates_within(levels)),
        max_share_bps=draw(bps),
        self_purchase=draw(st.booleans()),
        freeze_days=draw(st.integers(0, 30)),
    )


@st.composite
def overrides(draw) -> ProductCommission | None:
    kind = draw(st.sampled_from([None, "percent", "fixed"]))
    if kind is None:
        return None
    if kind == "percent":
        return ProductCommission("percent", draw(rates_within(MAX_LEVELS)))
    values = draw(st.tuples(*[st.integers(0, 50_000)] * MAX_LEVELS))
    return ProductCommission("fixed", values)


@st.composite
def order_lines(draw, max_lines: int = 4) -> list[Line]:
    count = draw(st.integers(1, max_lines))
    return [
        Line(
            line_id=line_id,
            product_id=draw(st.integers(1, 5)),
            quantity=draw(st.integers(1, 999)),
            base_fen=draw(st.one_of(st.integers(0, 1_000), st.integers(0, 10**9))),
            override=draw(overrides()),
            multiplier_bps=draw(multipliers),
        )
        for line_id in range(1, count + 1)
    ]


tier_rates = st.one_of(st.none(), st.tuples(*[st.one_of(st.none(), bps)] * MAX_LEVELS))


@st.composite
def chains(draw, min_size: int = 0) -> list[Beneficiary]:
    ids = draw(st.lists(st.integers(1, 20), min_size=min_size, max_size=MAX_LEVELS, unique=True))
    return [Beneficiary(i, draw(tier_rates), draw(st.booleans())) for i in ids]


@st.composite
def buyers(draw, chain: list[Beneficiary]) -> int | None:
    """Not a distributor, one from the chain, or a distributor outside it."""
    choices = [st.none(), st.integers(21, 25)]
    if chain:
        choices.append(st.sampled_from([b.distributor_id for b in chain]))
    return draw(st.one_of(*choices))


@st.composite
def orders(draw):
    chain = draw(chains())
    return draw(order_lines()), chain, draw(rules()), draw(buyers(chain))


def expected_rate(line: Line, member: Beneficiary, level: int, rule: Rule) -> tuple[str, int]:
    """First match wins: product override -> the beneficiary's tier rate -> the global rate."""
    if line.override is not None:
        return "product", line.override.values[level - 1]
    tier = member.tier_rates_bps
    if tier is not None and tier[level - 1] is not None:
        return "tier", tier[level - 1]
    return "global", rule.rates_bps[level - 1]


def exact_amount(line: Line, kind: str, value: int) -> Fraction:
    if kind == "percent":
        return Fraction(line.base_fen * value, BPS) * Fraction(line.multiplier_bps, BPS)
    return Fraction(line.quantity * value) * Fraction(line.multiplier_bps, BPS)


def cap_of(line: Line, rule: Rule) -> int:
    return line.base_fen * rule.max_share_bps // BPS


# ---------------------------------------------------------------------------------------------
# compute_commissions


@given(orders())
def test_every_share_is_a_positive_whole_number_of_fen(order):
    lines, chain, rule, buyer = order
    for share in compute_commissions(lines, chain, rule, buyer):
        assert isinstance(share.amount_fen, int)
        assert share.amount_fen > 0  # zero shares are left out, never stored


@given(orders())
@example(
    (
        [Line(1, 1, 3, 1_000, ProductCommission("fixed", (900, 900, 900)))],
        [Beneficiary(1), Beneficiary(2), Beneficiary(3)],
        Rule(levels=3, max_share_bps=5000),
        None,
    )
)
def test_shares_never_exceed_the_max_share_of_a_line_nor_of_the_order(order):
    lines, chain, rule, buyer = order
    shares = compute_commissions(lines, chain, rule, buyer)
    for line in lines:
        line_total = sum(s.amount_fen for s in shares if s.line_id == line.line_id)
        assert line_total <= cap_of(line, rule)
    order_base = sum(line.base_fen for line in lines)
    assert sum(s.amount_fen for s in shares) <= order_base * rule.max_share_bps // BPS


@given(orders())
def test_no_share_above_the_configured_levels_and_one_per_line_beneficiary_level(order):
    lines, chain, rule, buyer = order
    shares = compute_commissions(lines, chain, rule, buyer)
    for share in shares:
        assert 1 <= share.level <= rule.levels <= MAX_LEVELS
        # level n is paid to the n-th member of the chain, never to someone else
        assert share.beneficiary_id == chain[share.level - 1].distributor_id
        assert chain[share.level - 1].active
    keys = [(s.line_id, s.beneficiary_id, s.level) for s in shares]
    assert len(keys) == len(set(keys))


@given(orders())
def test_shares_snapshot_the_rule_the_rate_and_the_base(order):
    lines, chain, rule, buyer = order
    by_id = {line.line_id: line for line in lines}
    for share in compute_commissions(lines, chain, rule, buyer):
        line = by_id[share.line_id]
        member = chain[share.level - 1]
        source, value = expected_rate(line, member, share.level, rule)
        kind = line.override.kind if source == "product" else "percent"
        assert (share.rate_source, share.rate_kind, share.rate_value) == (source, kind, value)
        assert share.base_fen == line.base_fen
        assert share.multiplier_bps == line.multiplier_bps
        assert share.rule_version == rule.version


@given(orders())
def test_each_share_is_rounded_down_and_only_the_cap_cuts_it(order):
    """Each (line, level) share is its exact amount rounded down to the fen, unless the line's
    max share cuts it, in which case the line's shares add up to the cap exactly."""
    lines, chain, rule, buyer = order
    shares = compute_commissions(lines, chain, rule, buyer)
    for line in lines:
        own = [s for s in shares if s.line_id == line.line_id]
        cut = False
        for share in own:
            exact = exact_amount(line, share.rate_kind, share.rate_value)
            assert share.amount_fen <= exact
            if share.amount_fen != int(exact):  # int() of a non-negative Fraction floors
                cut = True
        if cut:
            assert sum(s.amount_fen for s in own) == cap_of(line, rule)


@given(orders())
def test_every_eligible_member_earns_unless_the_cap_is_used_up(order):
    lines, chain, rule, buyer = order
    shares = compute_commissions(lines, chain, rule, buyer)
    paid = {(s.line_id, s.level) for s in shares}
    for line in lines:
        used = 0
        for level, member in enumerate(chain[: rule.levels], start=1):
            if not member.active or (member.distributor_id == buyer and not rule.self_purchase):
                assert (line.line_id, level) not in paid
                continue
            source, value = expected_rate(line, member, level, rule)
            kind = line.override.kind if source == "product" else "percent"
            due = min(int(exact_amount(line, kind, value)), cap_of(line, rule) - used)
            assert ((line.line_id, level) in paid) == (due > 0)
            used += max(due, 0)


@given(orders())
def test_without_self_purchase_the_buyer_never_earns(order):
    lines, chain, rule, buyer = order
    assume(buyer is not None)
    off = Rule(rule.version, rule.levels, rule.rates_bps, rule.max_share_bps, False)
    assert all(s.beneficiary_id != buyer for s in compute_commissions(lines, chain, off, buyer))


@given(chains(), chains(), st.booleans())
def test_commission_chain_honours_self_purchase(own_chain, bound, self_purchase):
    chain = commission_chain(own_chain, bound, self_purchase)
    assert len(chain) <= MAX_LEVELS
    if own_chain and self_purchase:
        assert chain == own_chain[:MAX_LEVELS]
        return
    if own_chain:
        assert own_chain[0].distributor_id not in {b.distributor_id for b in chain}
    own = own_chain[0].distributor_id if own_chain else None
    assert chain == [b for b in bound if b.distributor_id != own][:MAX_LEVELS]


@given(order_lines(), chains(min_size=1), rules())
def test_a_distributor_buying_for_themself_earns_nothing_through_the_whole_pipeline(
    lines, chain, rule
):
    buyer = chain[0]
    bound = [Beneficiary(99), *chain[1:]]  # bound to someone else, above them their own upline
    off = Rule(rule.version, rule.levels, rule.rates_bps, rule.max_share_bps, False)
    earning = commission_chain(chain, bound, off.self_purchase)
    shares = compute_commissions(lines, earning, off, buyer.distributor_id)
    assert buyer.distributor_id not in {s.beneficiary_id for s in shares}


@given(
    levels=st.integers(-5, 10),
    rates=st.lists(st.integers(-2 * BPS, 2 * BPS), min_size=0, max_size=5),
    max_share=st.integers(-BPS, 2 * BPS),
    freeze=st.integers(-3, 30),
)
def test_validate_rule_accepts_exactly_the_valid_rules(levels, rates, max_share, freeze):
    valid = (
        1 <= levels <= MAX_LEVELS
        and len(rates) == MAX_LEVELS
        and all(0 <= r <= BPS for r in rates)
        and sum(rates[:levels]) <= BPS
        and 0 <= max_share <= BPS
        and freeze >= 0
    )
    if valid:
        validate_rule(levels, rates, max_share, freeze)
    else:
        with pytest.raises(InvalidRule):
            validate_rule(levels, rates, max_share, freeze)


# ---------------------------------------------------------------------------------------------
# allocate (largest remainder)


@st.composite
def allocations(draw):
    weights = draw(
        st.lists(st.one_of(st.integers(0, 100), st.integers(0, 10**9)), min_size=1, max_size=12)
    )
    total = draw(st.integers(0, sum(weights)))
    return total, weights


@given(allocations())
@example((199, [100, 100]))
@example((1, [1, 1, 1]))
@example((0, [0, 0]))
def test_allocate_adds_up_exactly_and_is_proportional_within_a_fen(case):
    total, weights = case
    parts = allocate(total, weights)
    weight_sum = sum(weights)
    assert len(parts) == len(weights)
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert 0 <= part <= weight  # a line's share of a discount never exceeds the line
        if weight_sum:
            assert abs(part - Fraction(total * weight, weight_sum)) < 1
        if weight == 0:
            assert part == 0


@given(allocations())
def test_allocate_gives_the_spare_fen_to_the_largest_remainders_earliest_first(case):
    total, weights = case
    weight_sum = sum(weights)
    assume(weight_sum > 0)
    parts = allocate(total, weights)
    remainders = [total * w % weight_sum for w in weights]
    bumped = [
        i
        for i, (p, w) in enumerate(zip(parts, weights, strict=True))
        if p > total * w // weight_sum
    ]
    kept = [i for i in range(len(weights)) if i not in bumped]
    for i in bumped:
        assert parts[i] == total * weights[i] // weight_sum + 1
        for j in kept:
            assert (remainders[i], -i) > (remainders[j], -j)


@given(st.lists(st.integers(0, 1_000), min_size=1, max_size=6), st.integers(1, 1_000))
def test_allocate_refuses_negatives(weights, extra):
    with pytest.raises(InvalidAmount):
        allocate(-extra, weights)
    with pytest.raises(InvalidAmount):
        allocate(0, [*weights, -extra])


@given(st.lists(st.integers(0, 1_000), min_size=1, max_size=6), st.integers(1, 1_000))
def test_allocate_of_more_than_the_weights_is_refused_or_still_exact(weights, extra):
    """Callers check a discount or refund against what it is spread over; allocate itself may
    refuse, or split the larger total exactly and in proportion."""
    total, weight_sum = sum(weights) + extra, sum(weights)
    try:
        parts = allocate(total, weights)
    except InvalidAmount:
        return
    assert weight_sum > 0
    assert sum(parts) == total
    for part, weight in zip(parts, weights, strict=True):
        assert abs(part - Fraction(total * weight, weight_sum)) < 1


def test_allocate_over_no_weight():
    assert allocate(0, []) == []
    assert allocate(0, [0, 0]) == [0, 0]
    with pytest.raises(InvalidAmount):
        allocate(1, [0, 0])
    with pytest.raises(InvalidAmount):
        allocate(1, [])


# ---------------------------------------------------------------------------------------------
# reversal_due


@st.composite
def reversals(draw):
    amount = draw(st.integers(1, 10**8))
    paid = draw(st.integers(1, 10**9))
    refunds = draw(st.lists(st.integers(0, paid), min_size=1, max_size=6))
    return amount, paid, refunds


@given(reversals())
def test_reversal_is_zero_without_refund_and_everything_at_full_refund(case):
    amount, paid, _ = case
    assert reversal_due(amount, paid, 0) == 0
    assert reversal_due(amount, paid, paid) == amount
    assert reversal_due(amount, paid, paid + 1) == amount  # over-refunded: still all of it


@given(reversals())
def test_reversal_is_monotone_in_the_refunded_amount(case):
    amount, paid, refunds = case
    steps = sorted(refunds)
    dues = [reversal_due(amount, paid, r) for r in steps]
    assert all(0 <= due <= amount for due in dues)
    assert dues == sorted(dues)


@given(reversals())
def test_what_remains_is_the_proportional_remainder_rounded_down(case):
    """The merchant never pays commission on refunded money, and takes back no more than a fen
    of rounding."""
    amount, paid, refunds = case
    for refunded in refunds:
        kept = amount - reversal_due(amount, paid, refunded)
        proportional = Fraction(amount * (paid - refunded), paid)
        assert kept <= proportional
        assert proportional - kept < 1


@given(reversals())
def test_successive_partial_refunds_reverse_in_non_negative_steps(case):
    """A line refunded in several steps: each step reverses `due - already reversed`, never a
    negative amount, and the steps add up to what one refund of the same total reverses."""
    amount, paid, refunds = case
    refunded = reversed_fen = 0
    for step in refunds:
        step = min(step, paid - refunded)
        refunded += step
        delta = reversal_due(amount, paid, refunded) - reversed_fen
        assert delta >= 0
        reversed_fen += delta
    assert reversed_fen == reversal_due(amount, paid, refunded)


@given(st.integers(1, 10**6), st.integers(-10, 0), st.integers(0, 10))
def test_reversal_of_a_commission_on_nothing_paid_is_everything(amount, paid, refunded):
    assert reversal_due(amount, paid, refunded) == amount


# ---------------------------------------------------------------------------------------------
# parse_yuan / format_yuan

MAX_FEN = 999_999_999_99  # 9 whole digits of yuan
ASCII_AMOUNT = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


@st.composite
def yuan_texts(draw) -> tuple[str, int]:
    """A valid way of writing an amount, with the decorations the bot accepts, and its fen."""
    whole = draw(st.integers(0, 999_999_999))
    decimals = draw(st.sampled_from(["", "0", "00", "5", "05", "50", "99", "1"]))
    text = str(whole) + (f".{decimals}" if decimals else "")
    fen = int(Decimal(text) * 100)
    space = st.sampled_from(["", " ", "  ", "\t"])
    prefix = draw(st.sampled_from(["", "¥", "￥"]))
    suffix = draw(st.sampled_from(["", "元"]))
    return draw(space) + prefix + draw(space) + text + draw(space) + suffix + draw(space), fen


@given(st.integers(1, MAX_FEN))
@example(1)
@example(100)
@example(MAX_FEN)
def test_format_then_parse_round_trips(fen):
    text = format_yuan(fen)
    assert re.fullmatch(r"\d+\.\d\d", text)
    assert parse_yuan(text) == fen


@given(st.integers(-(10**15), 10**15))
def test_format_yuan_is_exact(fen):
    text = format_yuan(fen)
    assert re.fullmatch(r"-?\d+\.\d\d", text)
    assert Decimal(text) * 100 == fen


@given(yuan_texts())
def test_parse_yuan_reads_valid_amounts(case):
    text, fen = case
    if fen == 0:
        with pytest.raises(InvalidAmount) as refused:
            parse_yuan(text)
        assert refused.value.params["reason"] == "not_positive"
    else:
        assert parse_yuan(text) == fen
        assert parse_yuan(format_yuan(parse_yuan(text))) == fen


@given(st.integers(0, 999_999_999), st.text("0123456789", min_size=3, max_size=8))
def test_parse_yuan_refuses_more_than_two_decimals(whole, decimals):
    with pytest.raises(InvalidAmount) as refused:
        parse_yuan(f"{whole}.{decimals}")
    assert refused.value.params["reason"] == "too_many_decimals"


@given(yuan_texts())
def test_parse_yuan_refuses_negatives(case):
    text, _ = case
    with pytest.raises(InvalidAmount):
        parse_yuan("-" + text.strip())


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "abc",
        "一百",
        "1e3",
        "1,000",
        "1.",
        ".5",
        "--1",
        "+1",
        "NaN",
        "inf",
        "0x10",
        "1.2.3",
        "1 0 0 . 0 0 1",
        "0",
        "0.0",
        "0.00",
        "¥0",
        "1234567890",
        "1234567890.5",
        "-0.01",
    ],
)
def test_parse_yuan_refuses_what_is_not_a_positive_amount(text):
    with pytest.raises(InvalidAmount):
        parse_yuan(text)


def _cleaned(text: str) -> str:
    """What parse_yuan reads: look-alike numbers (①, ¹) refused, full-width forms folded (NFKC),
    outer spaces, a leading ¥ and a final 元 dropped; inner spaces are kept (and refused)."""
    if any(unicodedata.category(ch) == "No" for ch in text):
        return "not an amount"
    cleaned = unicodedata.normalize("NFKC", text).strip()
    return cleaned.removeprefix("¥").removesuffix("元").strip()


@given(st.text(max_size=20))
@example("１２．５元")
@example("٣")
@example("12\n")
def test_parse_yuan_of_any_text_is_a_positive_fen_amount_or_refused(text):
    cleaned = _cleaned(text)
    valid = bool(ASCII_AMOUNT.fullmatch(cleaned)) and Decimal(cleaned) > 0
    try:
        fen = parse_yuan(text)
    except InvalidAmount:
        assert not valid, f"{text!r} is a valid amount but was refused"
        return
    assert valid, f"{text!r} is not an amount but was read as {fen} fen"
    assert fen == Decimal(cleaned) * 100
    assert 0 < fen <= MAX_FEN

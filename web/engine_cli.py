"""Merchant and operator commands for the engine, until the console pages land.

Every command goes through a service, prints one line per result, and exits non-zero on a
refused operation or a failed check.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from models.errors import DomainError
from models.money import format_yuan, parse_percent
from services import leaderboard
from services.distributors import approve, reject, team_counts_check
from services.ledger import reconcile
from services.merchant import merchant
from services.rules import publish_rule_set
from services.settlement import settle_matured
from services.withdrawals import (
    approve_withdrawal,
    mark_paid_manually,
    reject_withdrawal,
    set_payout_channel,
)


def _run(action, *args):
    try:
        return action(*args)
    except DomainError as e:
        raise click.ClickException(f"{e.code}: {e.message}") from None


@click.command("settle")
@click.option("--batch-size", default=5000, show_default=True)
@with_appcontext
def settle_command(batch_size: int) -> None:
    """Settle every matured commission now (the cron job does this every minute)."""

    click.echo(f"settled {settle_matured(batch_size=batch_size)} commission(s)")


@click.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Prove cached balances equal their entries and every transaction sums to zero."""

    report = reconcile()
    for line in report.lines():
        click.echo(line)
    if not report.ok:
        raise SystemExit(1)


@click.group("team")
def team_group() -> None:
    """Team counts kept on each distributor."""


@team_group.command("check")
@click.option("--fix", is_flag=True, help="Rewrite the counts that are wrong.")
@with_appcontext
def team_check_command(fix: bool) -> None:
    """Recount every team from the ancestor columns and compare with the stored counts."""

    mismatches = team_counts_check(fix=fix)
    for distributor_id, stored, actual in mismatches:
        click.echo(f"distributor {distributor_id}: stored {stored}, actual {actual}")
    click.echo(f"{len(mismatches)} mismatch(es){' fixed' if fix and mismatches else ''}")
    if mismatches and not fix:
        raise SystemExit(1)


@click.group("distributor")
def distributor_group() -> None:
    """Review distributor applications."""


@distributor_group.command("approve")
@click.argument("distributor_id", type=int)
@with_appcontext
def approve_command(distributor_id: int) -> None:

    d = _run(approve, distributor_id)
    click.echo(f"distributor {d.id} ({d.code}) is {d.status}")


@distributor_group.command("reject")
@click.argument("distributor_id", type=int)
@click.option("--reason", required=True)
@with_appcontext
def reject_command(distributor_id: int, reason: str) -> None:

    d = _run(reject, distributor_id, reason)
    click.echo(f"distributor {d.id} is {d.status}: {d.reject_reason}")


@click.group("withdrawal")
def withdrawal_group() -> None:
    """Review and record withdrawals."""


@withdrawal_group.command("approve")
@click.argument("withdrawal_id", type=int)
@with_appcontext
def withdrawal_approve_command(withdrawal_id: int) -> None:

    w = _run(approve_withdrawal, withdrawal_id)
    click.echo(f"withdrawal {w.out_bill_no} ¥{format_yuan(w.amount_fen)} is {w.status}")


@withdrawal_group.command("reject")
@click.argument("withdrawal_id", type=int)
@click.option("--reason", required=True)
@with_appcontext
def withdrawal_reject_command(withdrawal_id: int, reason: str) -> None:

    w = _run(reject_withdrawal, withdrawal_id, reason)
    click.echo(f"withdrawal {w.out_bill_no} is {w.status}; ¥{format_yuan(w.amount_fen)} returned")


@withdrawal_group.command("mark-paid")
@click.argument("withdrawal_id", type=int)
@click.option("--reference", required=True, help="The bank transfer's reference.")
@with_appcontext
def withdrawal_mark_paid_command(withdrawal_id: int, reference: str) -> None:

    w = _run(mark_paid_manually, withdrawal_id, reference)
    click.echo(f"withdrawal {w.out_bill_no} is {w.status}")


@click.command("rules")
@click.option("--levels", type=int, required=True)
@click.option("--rates", required=True, help="Percent per level, e.g. 10,5 or 10,5,2.")
@click.option("--max-share", default="50", show_default=True, help="Percent of the base.")
@click.option("--self-purchase/--no-self-purchase", default=False)
@click.option("--freeze-days", default=7, show_default=True)
@with_appcontext
def rules_command(levels, rates, max_share, self_purchase, freeze_days) -> None:
    """Publish a new commission rule-set version."""

    bps = [_percent_bps(r) for r in rates.split(",")] + [0, 0, 0]
    rule = _run(
        publish_rule_set,
        levels,
        tuple(bps[:3]),
        _percent_bps(max_share),
        self_purchase,
        freeze_days,
    )
    if levels == 3:
        click.echo("warning: level 3 is on; 3+ levels is where China's anti-pyramid law looks")
    click.echo(f"rule set v{rule.version}: {rule.levels} level(s), {rule.rates_bps} bps")


@withdrawal_group.command("channel")
@click.argument(
    "channel", required=False, type=click.Choice(["transfer_bills", "wechat_v2", "manual"])
)
@click.option(
    "--cancel-after",
    type=int,
    default=None,
    help="Minutes after which an unconfirmed 商家转账 bill is cancelled (default 1440).",
)
@with_appcontext
def withdrawal_channel_command(channel: str | None, cancel_after: int | None) -> None:
    """Show or set how wallet withdrawals are paid: transfer_bills (商家转账), wechat_v2
    (企业付款到零钱) or manual (`withdrawal mark-paid`)."""
    if channel is None:
        settings = merchant()
        channel, minutes = settings.payout_channel, settings.transfer_cancel_minutes
    else:
        settings = _run(set_payout_channel, channel, cancel_after)
        minutes = settings.transfer_cancel_minutes
    click.echo(f"payout channel {channel}; unconfirmed bills cancelled after {minutes} min")


def _percent_bps(text: str) -> int:
    try:
        return parse_percent(text)
    except DomainError:
        raise click.BadParameter(f"{text!r} is not a percentage with at most 2 decimals") from None


@click.command("leaderboard")
@click.argument("masking", type=click.Choice(["masked", "shown"]))
@with_appcontext
def leaderboard_command(masking: str) -> None:
    """Whether the leaderboard masks distributors' nicknames (masked, the default) or shows
    them whole."""
    leaderboard.set_masking(masking == "masked")
    click.echo(f"leaderboard nicknames {masking}")


ENGINE_COMMANDS = (
    settle_command,
    reconcile_command,
    team_group,
    distributor_group,
    withdrawal_group,
    rules_command,
    leaderboard_command,
)

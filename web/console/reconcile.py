"""Console page: reconcile. Runs the ledger check (services.ledger.reconcile: every cached
balance equals its entries, every transaction sums to zero, every pending account equals its
pending commissions) and, if asked, the team-count recount, and shows the result in words.
Running it changes nothing, so it writes no audit row; who ran it goes to the log."""

from __future__ import annotations

import logging

from flask import render_template, request

from services.distributors import team_counts_check
from services.ledger import reconcile as reconcile_ledger
from texts import console_orders as words
from web.console.access import area, bp, current_user

log = logging.getLogger(__name__)


@bp.route("/reconcile", methods=["GET", "POST"])
@area("reconcile")
def reconcile():
    if request.method == "GET":
        return render_template("console/reconcile/page.html", report=None, nav="reconcile")
    report = reconcile_ledger()
    teams = team_counts_check() if request.form.get("teams") else None
    problems = (
        [words.account_mismatch(*row) for row in report.mismatched_accounts]
        + [words.unbalanced(*row) for row in report.unbalanced_transactions]
        + [words.pending_mismatch(*row) for row in report.pending_mismatches]
        + [words.team_mismatch(*row) for row in teams or []]
    )
    log.info(
        "reconcile run by %s (staff %s): %s%s",
        current_user.username,
        current_user.user_id,
        "; ".join(report.lines()),
        f"; {len(teams)} team count mismatch(es)" if teams is not None else "",
    )
    return render_template(
        "console/reconcile/page.html",
        report=report,
        teams=teams,
        problems=problems,
        ok=report.ok and not teams,
        nav="reconcile",
    )

"""Every console form that changes something runs its change inside `audited(...)`: found by
reading each POST view of the console (and the module functions it calls), so a new form
cannot forget its audit entry. The tests of each area then find the entries themselves
(tests/integration/test_console_*.py assert action, record, before and after)."""

from __future__ import annotations

import inspect
import re
import sys

import pytest

from web import create_app

# POSTs that change nothing the audit log covers, with the reason.
NOT_CHANGES = {
    "console.login": "signs in (sessions are not records)",
    "console.logout": "signs out",
    "console.reconcile": "reads the ledger and reports; logs who ran it",
    "console.settings_whatif": "computes a what-if; writes nothing",
}
_CALL = re.compile(r"\b([A-Za-z_]\w*)\(")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audit-coverage")
    return create_app(
        {
            "FENXIAO_MODE": "test",
            "DATABASE_URL": f"sqlite:///{folder / 'x.db'}",
            "INSTANCE_PATH": str(folder / "instance"),
        }
    )


def audits(function, depth: int = 2) -> bool:
    """Whether `function`, or a function of its own module that it calls, opens audited()."""
    source = inspect.getsource(function)
    if "audited(" in source:
        return True
    if depth == 0:
        return False
    module = sys.modules[function.__module__]
    for name in set(_CALL.findall(source)):
        called = getattr(module, name, None)
        if (
            inspect.isfunction(called)
            and called.__module__ == function.__module__
            and called is not function
            and audits(called, depth - 1)
        ):
            return True
    return False


def console_posts(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("console.") and "POST" in rule.methods:
            yield rule.endpoint, inspect.unwrap(app.view_functions[rule.endpoint])


def test_every_changing_console_form_is_audited(app):
    posts = dict(console_posts(app))
    assert len(posts) >= 30  # the walk finds the console's forms
    assert not audits(posts["console.login"])  # and can tell a form that audits nothing
    unaudited = sorted(e for e, view in posts.items() if e not in NOT_CHANGES and not audits(view))
    assert unaudited == []


def test_what_is_exempt_still_exists(app):
    assert set(NOT_CHANGES) <= dict(console_posts(app)).keys()

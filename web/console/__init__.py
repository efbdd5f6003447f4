"""The merchant console at /console (docs/architecture.md): server-rendered pages where staff
run the programme, each area open to its roles, every change audited.

`access` holds the blueprint, sign-in and the role check; each other module registers the
routes of one area on that blueprint. Importing them here is what puts their routes on it.
"""

from __future__ import annotations

from flask import Flask

from web.console import (  # noqa: F401 - importing an area registers its routes on bp
    auth,
    coupons,
    distributors,
    home,
    material,
    orders,
    products,
    reconcile,
    settings,
    staff_pages,
    withdrawals,
)
from web.console.access import bp, init_login


def init_app(app: Flask) -> None:
    init_login(app)
    app.register_blueprint(bp)

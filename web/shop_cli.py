"""Shop commands for the merchant, until the console pages land (`flask --app web shop ...`)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from models.catalog import LOW_STOCK
from services import catalog


@click.group("shop")
def shop_group() -> None:
    """The shop: stock."""


@shop_group.command("low-stock")
@with_appcontext
def low_stock_command() -> None:
    """List the SKUs on sale that are sold out or nearly (the emptiest first)."""
    alerts = catalog.low_stock()
    for a in alerts:
        spec = f" ({a.spec_text})" if a.spec_text else ""
        state = "sold out" if a.stock == 0 else f"{a.stock} left"
        click.echo(f"product {a.product_id} sku {a.sku_id}: {a.title}{spec}: {state}")
    click.echo(f"{len(alerts)} SKU(s) at or under {LOW_STOCK}")

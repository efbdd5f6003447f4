"""`flask --app web material add|list`: promo material (素材), until the console pages land."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click
from flask.cli import with_appcontext

from infra.clock import CHINA, now
from models.errors import DomainError
from services.material import add_material, list_material


def parse_publish_at(value: str | None) -> datetime | None:
    """ISO 8601; a time without a zone is China time (the merchant's clock)."""
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO time such as 2026-12-01T09:00") from None
    return at if at.tzinfo else at.replace(tzinfo=CHINA)


@click.group("material")
def material_group() -> None:
    """Promo material (素材): copy text and up to 9 images, sent by `素材`."""


@material_group.command("add")
@click.option("--text", default="", help="The copy text distributors forward.")
@click.option(
    "--image",
    "images",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="A JPEG or PNG file (repeat for up to 9).",
)
@click.option("--product", "product_id", type=int, default=None, help="The product it is about.")
@click.option("--publish-at", default=None, help="ISO time (default now; no zone: China time).")
@with_appcontext
def add_command(
    text: str, images: tuple[str, ...], product_id: int | None, publish_at: str | None
) -> None:
    """Add a material item."""

    data = [Path(p).read_bytes() for p in images]
    try:
        item = add_material(text, data, product_id, parse_publish_at(publish_at))
    except DomainError as e:
        raise click.ClickException(f"{e.code}: {e.message}") from None
    click.echo(
        f"material {item.id}: {len(data)} image(s), published from "
        f"{item.publish_at.astimezone(CHINA):%Y-%m-%d %H:%M}"
    )


@material_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every material item, newest first: id, publish time, state, images, product, text."""

    at = now()
    for item in list_material():
        state = "published" if item.publish_at <= at else "scheduled"
        product = f"product {item.product_id}" if item.product_id else "-"
        text = item.text.replace("\n", " ")
        click.echo(
            f"{item.id}\t{item.publish_at.astimezone(CHINA):%Y-%m-%d %H:%M}\t{state}\t"
            f"{len(item.images)} image(s)\t{product}\t{text[:40]}"
        )

"""`flask --app web poster template|preview|stats`: poster templates and share statistics, until
the console pages land."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from render.compose import render_preview
from services.posters import active_template_row, design_of, publish_template
from services.tracking import share_counts


@click.group("poster")
def poster_group() -> None:
    """Poster templates (versioned; the newest is active) and share statistics."""


@poster_group.command("template")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--note", default="", help="What changed, for the version list.")
@with_appcontext
def template_command(file: str, note: str) -> None:
    """Publish a template (JSON, as assets/poster_templates/default.json) as the new version."""

    try:
        definition = json.loads(Path(file).read_text(encoding="utf-8"))
        row = publish_template(definition, note=note)
    except (ValueError, TypeError) as e:
        raise click.ClickException(f"invalid template: {e}") from None
    click.echo(f"poster template version {row.version} is now active")


@poster_group.command("preview")
@click.option("--kind", type=click.Choice(["product", "invite"]), default="product")
@click.option(
    "--out",
    default="poster-preview.jpg",
    show_default=True,
    type=click.Path(dir_okay=False, writable=True),
)
@with_appcontext
def preview_command(kind: str, out: str) -> None:
    """Render the active template with sample content."""

    row = active_template_row()
    font = current_app.config.get("POSTER_FONT_PATH") or None
    data = render_preview(design_of(row), font_path=font, kind=kind)
    Path(out).write_bytes(data)
    click.echo(f"{out}: template version {row.version}, {kind} poster, {len(data)} bytes")


@poster_group.command("stats")
@click.option("--distributor", "distributor_id", type=int, default=None)
@with_appcontext
def stats_command(distributor_id: int | None) -> None:
    """Scans and link visits per distributor and product: count and distinct known users."""

    for c in share_counts(distributor_id):
        product = f"product {c.product_id}" if c.product_id else "invite"
        click.echo(f"distributor {c.distributor_id}\t{product}\t{c.kind}\t{c.count}\t{c.people}")

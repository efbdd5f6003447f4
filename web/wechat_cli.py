"""`flask --app web wechat ...`: one-off calls to the WeChat API."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from wechatpy.exceptions import WeChatClientException

from wechat.gateway import official_account
from wechat.templates import NOTICE, mismatch
from workers.wechat import create_menu


@click.group("wechat")
def wechat_group() -> None:
    """The official account's settings on WeChat."""


@wechat_group.command("menu")
@with_appcontext
def menu_command() -> None:
    """Create the account's menu from bot/menu.json."""

    try:
        create_menu()
    except WeChatClientException as e:
        raise click.ClickException(f"WeChat refused the menu: {e.errcode} {e.errmsg}") from None
    except OSError as e:  # requests' errors are OSErrors; their text would show the secret
        base = current_app.config["WECHAT_API_BASE"]
        raise click.ClickException(
            f"cannot reach the WeChat API at {base} ({type(e).__name__})"
        ) from None
    click.echo("menu created")


@wechat_group.command("menu-show")
@with_appcontext
def menu_show_command() -> None:
    """Print the menu WeChat has for the account."""

    click.echo(json.dumps(official_account().menu(), ensure_ascii=False, indent=2))


@wechat_group.command("templates")
@click.option("--add", is_flag=True, help="Add the notice template from WeChat's library.")
@with_appcontext
def templates_command(add: bool) -> None:
    """List the account's templates and check that WECHAT_TEMPLATE_ID is the notice template
    (wechat.templates.NOTICE); with --add, add it and print its id for WECHAT_TEMPLATE_ID."""
    account = official_account()
    try:
        if add:
            click.echo(f"WECHAT_TEMPLATE_ID={account.add_template(NOTICE.short_id)}")
            return
        listed = {t.get("template_id"): t for t in account.templates()}
    except WeChatClientException as e:
        raise click.ClickException(f"WeChat refused: {e.errcode} {e.errmsg}") from None
    for template_id, template in listed.items():
        click.echo(f"{template_id}\t{template.get('title', '')}")
    configured = current_app.config["WECHAT_TEMPLATE_ID"]
    problem = mismatch(NOTICE, listed.get(configured))
    if problem:
        raise click.ClickException(f"WECHAT_TEMPLATE_ID {configured}: {problem}")
    click.echo(f"WECHAT_TEMPLATE_ID {configured}: {NOTICE.title}, its fields as Fenxiao fills them")

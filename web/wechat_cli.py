"""`flask --app web wechat ...`: one-off calls to the WeChat API."""

from __future__ import annotations

import json

import click
from flask import current_app
from flask.cli import with_appcontext
from wechatpy.exceptions import WeChatClientException

from wechat.gateway import official_account
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

"""`flask --app web console user ...`: console accounts from the shell (the first owner, and a
way back in when every password is lost)."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from models.errors import StaffRefused
from models.staff import ROLES
from services import staff


@click.group("console")
def console_group() -> None:
    """The merchant console."""


@console_group.group("user")
def user_group() -> None:
    """Console accounts."""


def _change(action, *args) -> None:
    """Run a services.staff change; its refusal is the command's error (exit status 1)."""
    try:
        action(*args)
    except StaffRefused as e:
        raise click.ClickException(str(e)) from e


@user_group.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(ROLES), default="owner", show_default=True)
@click.password_option(help="Asked for when not given (10 to 128 characters).")
@with_appcontext
def add_command(username: str, role: str, password: str) -> None:
    """Add a console account."""
    _change(staff.add_user, username, password, role)
    click.echo(f"added {username.strip().lower()} ({role})")


@user_group.command("password")
@click.argument("username")
@click.password_option(help="Asked for when not given.")
@with_appcontext
def password_command(username: str, password: str) -> None:
    """Set a new password (the account's sessions end)."""
    _change(staff.set_password, username, password)
    click.echo(f"password changed for {username}")


@user_group.command("role")
@click.argument("username")
@click.argument("role", type=click.Choice(ROLES))
@with_appcontext
def role_command(username: str, role: str) -> None:
    """Change an account's role."""
    _change(staff.set_role, username, role)
    click.echo(f"{username} is now {role}")


@user_group.command("disable")
@click.argument("username")
@with_appcontext
def disable_command(username: str) -> None:
    """Stop an account signing in (its sessions end)."""
    _change(staff.set_active, username, False)
    click.echo(f"{username} disabled")


@user_group.command("enable")
@click.argument("username")
@with_appcontext
def enable_command(username: str) -> None:
    _change(staff.set_active, username, True)
    click.echo(f"{username} enabled")


@user_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every account, its role, and whether it may sign in."""
    for user in staff.list_users():
        state = "active" if user.active else "disabled"
        click.echo(f"{user.username}\t{user.role}\t{state}")

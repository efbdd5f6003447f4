"""Console pages: staff accounts (owner only). List them, add one, change a role, disable or
enable, set a new password; each change audited (`staff.add`, `staff.role`, ...) and each one
ends the account's older sessions (services.staff). The last active owner is never disabled
or demoted, so the console always has someone who can run it."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from models.errors import StaffRefused
from models.staff import ROLES
from services import staff
from texts import console_settings as say
from texts.console import role_name, staff_refusal
from web.console.access import area, audited, bp
from web.console.export import csv_response


@bp.get("/staff", endpoint="staff")  # the endpoint the menu names (web.console.nav)
@area("staff")
def staff_list():
    users = staff.list_users()
    if request.args.get("format") == "csv":
        return csv_response(
            "staff",
            ["username", "role", "active", "created_at", "last_login_at"],
            (
                (u.username, u.role, "1" if u.active else "0", u.created_at, u.last_login_at)
                for u in users
            ),
        )
    return _page(users)


def _page(users, status: int = 200, values: dict | None = None, error: str | None = None):
    page = render_template(
        "console/staff/list.html",
        users=users,
        values=values or {"role": "operator"},
        error=error,
        nav="staff",
    )
    return page, status


@bp.post("/staff")
@area("staff")
def staff_add():
    username = (request.form.get("username") or "").strip()
    role = request.form.get("role") or ""
    try:
        with audited("staff.add"):
            user = staff.add_user(username, request.form.get("password") or "", role)
    except StaffRefused as error:
        message = staff_refusal(error.params.get("reason") or "")
        flash(message, "error")
        values = {"username": username[:64], "role": role if role in ROLES else "operator"}
        return _page(staff.list_users(), 400, values, message)
    flash(say.staff_added(user.username), "success")
    return redirect(url_for("console.staff"))


@bp.post("/staff/<id:user_id>/role")
@area("staff")
def staff_role(user_id: int):
    user = _user(user_id)
    role = request.form.get("role") or ""
    return _change(
        "staff.role",
        lambda: staff.set_role(user.username, role),
        say.staff_role_changed(user.username, role_name(role)),
    )


@bp.post("/staff/<id:user_id>/active")
@area("staff")
def staff_active(user_id: int):
    user = _user(user_id)
    active = request.form.get("active") == "1"
    return _change(
        "staff.enable" if active else "staff.disable",
        lambda: staff.set_active(user.username, active),
        say.staff_enabled(user.username) if active else say.staff_disabled(user.username),
    )


@bp.post("/staff/<id:user_id>/password")
@area("staff")
def staff_password(user_id: int):
    user = _user(user_id)
    password = request.form.get("password") or ""
    return _change(
        "staff.password",
        lambda: staff.set_password(user.username, password),
        say.staff_password_set(user.username),
    )


def _change(action: str, call, done: str):
    try:
        with audited(action):
            call()
    except StaffRefused as error:
        flash(staff_refusal(error.params.get("reason") or ""), "error")
    else:
        flash(done, "success")
    return redirect(url_for("console.staff"))


def _user(user_id: int):
    found = next((u for u in staff.list_users() if u.id == user_id), None)
    if found is None:
        abort(404)
    return found

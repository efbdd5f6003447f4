"""Signing in to the console from tests, and the CSRF token its forms need."""

from __future__ import annotations

import re

from services import staff

PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"|name="csrf_token"[^>]*value="([^"]+)"')


def make_staff(role: str = "owner", username: str | None = None):
    """A console account (inside an app context); its password is PASSWORD."""
    return staff.add_user(username or role, PASSWORD, role)


def csrf_from(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1) or found.group(2)


def csrf_token(client, path: str = "/console/login") -> str:
    """A CSRF token for the client's session, read from a console page."""
    answer = client.get(path)
    return csrf_from(answer.text)


def sign_in(client, username: str, password: str = PASSWORD):
    token = csrf_token(client)
    return client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
    )


def signed_in_as(client, app, role: str = "owner", username: str | None = None):
    """The client, signed in as a new account with `role`."""
    with app.app_context():
        make_staff(role, username)
    answer = sign_in(client, username or role)
    assert answer.status_code == 302, answer.text
    return client


def post_form(client, path: str, data: dict | None = None, page: str | None = None):
    """POST a console form with a valid CSRF token (read from `page`, or the console home)."""
    token = csrf_token(client, page or "/console/")
    return client.post(path, data={**(data or {}), "csrf_token": token})

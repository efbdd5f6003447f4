"""What the browser tests share: a Chromium page (a desktop's or a phone's size) that records the
console errors it reports, numbered screenshots kept in the test's folder, and the console's
sign-in."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.support.console import PASSWORD

CHROMIUM_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}  # the shop and /me, as WeChat shows them


class Shots:
    """shot(page, "name") keeps a screenshot as 01-name.png, 02-..., in `folder`: the whole page,
    or with full_page=False what the screen shows."""

    def __init__(self, folder: Path, full_page: bool = True):
        self.folder, self.full_page, self.taken = folder, full_page, 0

    def __call__(self, page, name: str) -> None:
        self.taken += 1
        path = str(self.folder / f"{self.taken:02d}-{name}.png")
        page.screenshot(path=path, full_page=self.full_page)


@contextlib.contextmanager
def browser_page(
    chromium: str, viewport: dict | None = None, cookies: list | None = None
) -> Iterator:
    """A Chinese-locale page at desktop size (or `viewport`), holding `cookies`; `page.errors`
    lists what its console reported as errors (a CSP violation among them)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        context = browser.new_context(locale="zh-CN", viewport=viewport or DESKTOP)
        if cookies:
            context.add_cookies(cookies)
        page = context.new_page()
        page.errors = []
        page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
        try:
            yield page
        finally:
            browser.close()


def sign_in(page, username: str, password: str = PASSWORD, shot: Shots | None = None) -> None:
    """Fill the console's sign-in form on the page it is showing, and send it."""
    page.fill("#username", username)
    page.fill("#password", password)
    if shot is not None:
        shot(page, "login")
    page.get_by_role("button", name="登录").click()

"""Browser fixtures: Debian's Chromium driven by Playwright against a real ``podplus serve``.

Playwright's own browser download is not used (nor reachable in CI): the tests launch the
distribution's ``chromium``, installed by ``scripts/setup.sh test``. One browser per module,
a fresh context (so a fresh localStorage: logged out) per test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, expect, sync_playwright

from podplus.ids import new_id
from tests.conftest import PASSWORD, LiveServer

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
# Where static/js/api.js keeps the session; only the tests that forge one need it.
SESSION_KEY = "podplus.session"
# Set to a directory (docs/screenshots) to refresh the README's screenshots while testing.
SCREENSHOTS_ENV = "PODPLUS_SCREENSHOTS_DIR"

expect.set_options(timeout=10_000)


def chromium_path() -> str:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(found).exists():
        pytest.fail("Chromium is missing: run `scripts/setup.sh test` (apt package chromium).")
    return found


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module scope, not session: Playwright's sync API owns an event loop while it runs,
    # and must be gone before the suite's asyncio tests start theirs.
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(
                executable_path=chromium_path(), args=CHROMIUM_ARGS
            )
        except Error as exc:
            pytest.fail(f"Chromium would not start: {exc}")
        yield launched
        launched.close()


def new_context(browser: Browser, server: LiveServer, **options: object) -> BrowserContext:
    settings: dict[str, object] = {
        "base_url": server.base_url,
        "viewport": DESKTOP,
        # The app drops its transitions for reduced motion, so a hovered colour is final.
        "reduced_motion": "reduce",
        "accept_downloads": True,
        **options,
    }
    return browser.new_context(**settings)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def live_server(module_live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """One server per module, as one browser is: every test signs up an account of its own
    (``create_account`` names a new one each time) in a fresh context, so none sees what
    another made. Sign-ups aren't throttled here: no test of this folder is about that."""
    return module_live_server_factory(PODPLUS_SIGNUP_MAX_PER_ADDRESS="100000").start()


@pytest.fixture
def context(browser: Browser, live_server: LiveServer) -> Iterator[BrowserContext]:
    made = new_context(browser, live_server)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    errors: list[Error] = []
    opened.on("pageerror", lambda error: errors.append(error))
    yield opened
    assert not errors, f"uncaught errors in the page: {errors}"


@dataclass
class Account:
    email: str
    password: str = PASSWORD


def create_account(server: LiveServer, email: str | None = None) -> Account:
    """An account made through the API, for tests about what comes after sign-up; a new
    address each time unless one is given."""
    email = email or f"creator-{new_id()[:12]}@example.com"
    response = httpx.post(
        f"{server.base_url}/api/users", json={"email": email, "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    return Account(email)


def api_token(server: LiveServer, account: Account) -> dict[str, str]:
    response = httpx.post(
        f"{server.base_url}/api/auth/token",
        data={"username": account.email, "password": account.password},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def login_dialog(page: Page):  # type: ignore[no-untyped-def]
    return page.get_by_role("dialog")


def log_in(page: Page, account: Account) -> None:
    """Log in through the modal that is already open."""
    dialog = login_dialog(page)
    expect(dialog).to_be_visible()
    dialog.get_by_label("Email").fill(account.email)
    dialog.get_by_label("Password").fill(account.password)
    dialog.get_by_role("button", name="Log in", exact=True).click()
    expect(dialog).to_be_hidden()


def open_studio(page: Page, account: Account) -> None:
    page.goto("/studio")
    log_in(page, account)
    expect(page.locator("#studio")).to_be_visible()


def save_screenshot(page: Page, name: str) -> None:
    directory = os.environ.get(SCREENSHOTS_ENV)
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / name), full_page=True)

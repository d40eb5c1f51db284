"""The login gate: Get Started and /studio open the login modal until there is a valid token,
the modal is a real dialog (focus trapped, Escape closes), and sessions survive reloads
but not their expiry."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.web_app.conftest import (
    PHONE,
    SESSION_KEY,
    create_account,
    log_in,
    login_dialog,
    new_context,
    open_studio,
    save_screenshot,
)

pytestmark = pytest.mark.browser


def test_get_started_opens_the_login_modal_and_never_the_studio(page: Page) -> None:
    page.goto("/")
    save_screenshot(page, "landing.png")
    buttons = page.get_by_role("button", name="Get Started")
    assert buttons.count() == 3
    for index in range(buttons.count()):
        button = buttons.nth(index)
        button.click()
        dialog = login_dialog(page)
        expect(dialog).to_be_visible()
        expect(dialog.get_by_role("heading")).to_have_text("Log in to podplus")
        expect(dialog.get_by_role("button", name="Create an account")).to_be_visible()
        assert page.url.endswith("/")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        # Focus goes back to the button that opened the modal.
        expect(button).to_be_focused()
    assert page.url.endswith("/")


def test_the_studio_without_a_token_shows_the_login_modal_not_the_studio(page: Page) -> None:
    page.goto("/studio")
    expect(login_dialog(page)).to_be_visible()
    expect(page.locator("#studio")).to_be_hidden()
    page.keyboard.press("Escape")
    expect(login_dialog(page)).to_be_hidden()
    expect(page.get_by_role("heading", name="Log in to open the studio")).to_be_visible()
    expect(page.locator("#studio")).to_be_hidden()


def test_the_modal_traps_focus_in_both_directions(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Get Started").first.click()
    dialog = login_dialog(page)
    for key in ["Tab"] * 8 + ["Shift+Tab"] * 8:
        page.keyboard.press(key)
        assert dialog.evaluate("d => d.contains(document.activeElement)"), key


def test_a_new_account_from_get_started_lands_in_the_studio(page: Page) -> None:
    page.goto("/")
    page.get_by_role("button", name="Get Started").nth(1).click()
    dialog = login_dialog(page)
    dialog.get_by_role("button", name="Create an account").click()
    expect(dialog.get_by_role("heading")).to_have_text("Create your account")
    dialog.get_by_label("Email").fill("new@example.com")
    dialog.get_by_label("Password").fill("short")
    dialog.get_by_role("button", name="Create account").click()
    # The API's own message, not a generic one.
    expect(dialog.get_by_role("alert")).to_have_text("password: must be at least 8 characters")

    dialog.get_by_label("Password").fill("long enough password")
    dialog.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/studio")
    expect(page.locator("#studio")).to_be_visible()
    expect(page.get_by_text("new@example.com")).to_be_visible()


def test_wrong_credentials_show_the_apis_message(page: Page, live_server: LiveServer) -> None:
    account = create_account(live_server)
    page.goto("/")
    page.get_by_role("button", name="Log in").click()
    dialog = login_dialog(page)
    dialog.get_by_label("Email").fill(account.email)
    dialog.get_by_label("Password").fill("not the password")
    dialog.get_by_role("button", name="Log in", exact=True).click()
    expect(dialog.get_by_role("alert")).to_have_text("Incorrect email or password.")
    assert page.url.endswith("/")


def test_a_reload_stays_logged_in_and_get_started_goes_straight_in(
    page: Page, live_server: LiveServer
) -> None:
    account = create_account(live_server)
    open_studio(page, account)
    page.reload()
    expect(page.locator("#studio")).to_be_visible()
    expect(login_dialog(page)).to_be_hidden()

    page.goto("/")
    page.get_by_role("button", name="Get Started").first.click()
    page.wait_for_url("**/studio")
    expect(page.locator("#studio")).to_be_visible()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(lambda url: url.endswith("/"))
    page.goto("/studio")
    expect(login_dialog(page)).to_be_visible()


def test_an_expired_session_returns_to_the_login_modal_with_a_message(
    browser: Browser, live_server_factory: Callable[..., LiveServer]
) -> None:
    server = live_server_factory(PODPLUS_TOKEN_TTL_S="2").start()
    account = create_account(server)
    context = new_context(browser, server)
    page = context.new_page()
    open_studio(page, account)
    logged_in_at = time.monotonic()

    time.sleep(max(0.0, 2.2 - (time.monotonic() - logged_in_at)))
    page.reload()
    dialog = login_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("status")).to_contain_text("session has expired")
    expect(page.locator("#studio")).to_be_hidden()

    log_in(page, account)
    expect(page.locator("#studio")).to_be_visible()
    context.close()


def test_a_token_the_server_refuses_returns_to_the_login_modal(
    page: Page, live_server: LiveServer
) -> None:
    # The browser thinks the token is good for an hour; the server disagrees (say, its key
    # was rotated). The page must fall back to the modal, not break.
    page.goto("/")
    page.evaluate(
        "([key]) => localStorage.setItem(key, JSON.stringify("
        "{ token: 'not.a.jwt', expiresAt: Date.now() + 3600000 }))",
        [SESSION_KEY],
    )
    page.goto("/studio")
    dialog = login_dialog(page)
    expect(dialog).to_be_visible()
    expect(dialog.get_by_role("status")).to_contain_text("session has expired")
    expect(page.locator("#studio")).to_be_hidden()


def test_landing_and_studio_fit_a_360_px_phone(browser: Browser, live_server: LiveServer) -> None:
    account = create_account(live_server)
    context = new_context(browser, live_server, viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto("/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.get_by_role("button", name="Get Started").first.click()
    expect(login_dialog(page)).to_be_in_viewport()
    open_studio(page, account)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()

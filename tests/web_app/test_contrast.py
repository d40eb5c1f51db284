"""Every button's text meets WCAG AA (4.5:1) in normal, hover, focus and disabled states,
measured from computed styles; keyboard focus is visible."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.conftest import LiveServer
from tests.media_files import tone
from tests.web_app.conftest import api_token, create_account, log_in
from tests.web_app.contrast import AA_TEXT, contrast_ratio, measure, parse_color

BUTTONS = ":is(button, .button):visible"
# A focus ring is a box-shadow or an outline that is not transparent.
_RING_JS = """
(element) => {
  const style = getComputedStyle(element);
  const outline = style.outlineStyle !== "none" && !/rgba\\(.*, 0\\)$/.test(style.outlineColor)
    && parseFloat(style.outlineWidth) > 0;
  return outline || style.boxShadow !== "none";
}
"""


@dataclass
class Report:
    """Every measurement, so one failure message lists all the bad pairs at once."""

    checked: int = 0
    failures: list[str] = field(default_factory=list)

    def check(self, element: Locator, state: str) -> float:
        measured = measure(element)
        self.checked += 1
        if measured.ratio < AA_TEXT:
            self.failures.append(
                f"{name(element)!r} {state}: {measured.ratio:.2f}:1 "
                f"(text {measured.color[:3]} on {measured.background[:3]})"
            )
        return measured.ratio

    def assert_ok(self) -> None:
        assert self.checked > 0
        assert not self.failures, "below 4.5:1:\n" + "\n".join(self.failures)


def name(element: Locator) -> str:
    return str(element.evaluate("e => e.getAttribute('aria-label') || e.textContent.trim()"))


def check_every_state(page: Page, scope: str, report: Report) -> None:
    """Normal, hover, keyboard focus and disabled, for every visible button inside ``scope``."""
    buttons = page.locator(f"{scope} {BUTTONS}").all()
    assert buttons, f"no buttons in {scope}"

    page.mouse.move(0, 0)
    for button in buttons:
        report.check(button, "normal")
    for button in buttons:
        button.hover()
        report.check(button, "hover")
    page.mouse.move(0, 0)

    # Real keyboard focus: Tab through the page and measure each button it lands on.
    focused: set[str] = set()
    for _ in range(len(buttons) * 3 + 20):
        page.keyboard.press("Tab")
        active = page.locator(":focus")
        if active.count() != 1 or not active.evaluate(
            "(e, scope) => e.matches(':is(button, .button)') && !!e.closest(scope)", scope
        ):
            continue
        report.check(active, "focus")
        if not active.evaluate(_RING_JS):
            report.failures.append(f"{name(active)!r}: no visible focus ring")
        focused.add(active.evaluate("e => e.outerHTML"))
    enabled = [b for b in buttons if b.is_enabled()]
    reached = [b for b in enabled if b.evaluate("e => e.outerHTML") in focused]
    assert len(reached) == len(enabled), "some buttons can't be reached with Tab"

    page.mouse.move(0, 0)
    page.locator(":focus").evaluate_all("els => els.forEach(e => e.blur())")
    for button in buttons:
        if button.evaluate("e => e.tagName") != "BUTTON":
            continue  # links can't be disabled
        was_disabled = button.is_disabled()
        button.evaluate("e => { e.disabled = true; }")
        report.check(button, "disabled")
        button.hover()
        report.check(button, "disabled, hovered")
        page.mouse.move(0, 0)
        if not was_disabled:
            button.evaluate("e => { e.disabled = false; }")


def test_the_contrast_maths_matches_wcag() -> None:
    white, black = parse_color("rgb(255, 255, 255)"), parse_color("rgb(0, 0, 0)")
    assert contrast_ratio(black, white) == pytest.approx(21)
    assert contrast_ratio(white, parse_color("rgb(15, 118, 110)")) == pytest.approx(5.47, abs=0.01)
    assert parse_color("rgba(0, 0, 0, 0)")[3] == 0


@pytest.mark.browser
def test_landing_and_login_modal_buttons_meet_aa_in_every_state(page: Page) -> None:
    report = Report()
    page.goto("/")
    check_every_state(page, "body", report)

    page.get_by_role("button", name="Get Started").first.click()
    check_every_state(page, "dialog", report)
    page.get_by_role("button", name="Create an account").click()
    check_every_state(page, "dialog", report)
    report.assert_ok()


@pytest.mark.browser
def test_studio_buttons_meet_aa_in_every_state(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    account = create_account(live_server)
    auth = api_token(live_server, account)
    clip = tone(tmp_path / "interview.wav", seconds=1.0)
    uploaded = httpx.post(
        f"{live_server.base_url}/api/media",
        headers=auth,
        files={"file": (clip.name, clip.read_bytes())},
    )
    assert uploaded.status_code == 201, uploaded.text
    episode = {"title": "Pilot", "segments": [{"media_id": uploaded.json()["id"]}]}
    created = httpx.post(f"{live_server.base_url}/api/episodes", headers=auth, json=episode)
    assert created.status_code == 201, created.text

    page.goto("/studio")
    log_in(page, account)
    page.get_by_role("button", name="Add: interview.wav").click()
    page.get_by_role("button", name="Add: interview.wav").click()
    assemble = page.get_by_role("button", name="Assemble", exact=True)
    # Without a title Assemble is really disabled: its normal state is the disabled style.
    expect(assemble).to_be_disabled()

    report = Report()
    assert report.check(assemble, "really disabled") >= AA_TEXT
    check_every_state(page, "body", report)
    report.assert_ok()

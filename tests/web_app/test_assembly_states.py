"""What the assembly panel shows while a job runs, when it is cancelled and when it fails.

The real engine can't be made to hang or fail on cue, so these run the server with the
stand-in engine that the supervisor tests use; the creator-flow test covers the real one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import LiveServer
from tests.jobs.conftest import stand_in_command
from tests.media_files import tone
from tests.web_app.conftest import api_token, create_account, new_context, open_studio

pytestmark = pytest.mark.browser


@pytest.fixture
def studio_with_engine(
    browser: Browser, live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> Iterator[Callable[[str], tuple[Page, LiveServer]]]:
    """Open the studio, logged in with one clip in the library, on a server whose engine
    behaves as ``mode`` says."""
    contexts = []

    def open_with(mode: str) -> tuple[Page, LiveServer]:
        server = live_server_factory(PODPLUS_ENGINE_COMMAND=" ".join(stand_in_command(mode)))
        server.start()
        account = create_account(server)
        clip = tone(tmp_path / "take.wav", seconds=1.0)
        uploaded = httpx.post(
            f"{server.base_url}/api/media",
            headers=api_token(server, account),
            files={"file": (clip.name, clip.read_bytes())},
        )
        assert uploaded.status_code == 201, uploaded.text
        context = new_context(browser, server)
        contexts.append(context)
        page = context.new_page()
        open_studio(page, account)
        page.get_by_role("button", name="Add: take.wav").click()
        page.get_by_label("Title").fill("Stand-in episode")
        return page, server

    yield open_with
    for context in contexts:
        context.close()


def test_a_running_job_shows_its_phase_and_can_be_cancelled(
    studio_with_engine: Callable[[str], tuple[Page, LiveServer]],
) -> None:
    page, _ = studio_with_engine("child-then-hang")
    page.get_by_role("button", name="Assemble", exact=True).click()
    expect(page.locator("[data-field='job-phase']")).to_have_text("Render…")
    expect(page.locator("[data-field='job-percent']")).to_have_text("10%")
    expect(page.get_by_role("button", name="Assembling…")).to_be_disabled()

    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("[data-field='job-phase']")).to_have_text("Cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_be_hidden()
    expect(page.get_by_role("button", name="Assemble", exact=True)).to_be_enabled()
    expect(page.locator("[data-field='result']")).to_be_hidden()


def test_a_failed_job_shows_its_error(
    studio_with_engine: Callable[[str], tuple[Page, LiveServer]],
) -> None:
    page, server = studio_with_engine("fail")
    page.get_by_role("button", name="Assemble", exact=True).click()
    expect(page.locator("[data-field='job-phase']")).to_have_text("Failed")
    alert = page.locator(".assembly").get_by_role("alert")
    expect(alert).to_contain_text("Invalid data found when processing input")
    expect(page.locator(".episode-item", has_text="Stand-in episode")).to_contain_text("Failed")
    expect(page.locator("[data-field='result']")).to_be_hidden()

"""The studio's clean-up fieldset takes its ranges and defaults from the served schema, and a
ready episode shows what the engine did to each part.

The server runs the stand-in engine: its report is fixed (``tests.jobs.stand_in_engine``),
its part titled after the uploaded file, as the real engine's is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, expect

from tests.conftest import LiveServer
from tests.jobs.conftest import stand_in_command
from tests.jobs.stand_in_engine import REPORT
from tests.media_files import tone
from tests.web_app.conftest import Account, api_token, create_account, new_context, open_studio
from tests.web_app.test_episode_form_limits import Schema, field, number_text

pytestmark = pytest.mark.browser

# A file name that is markup: the report must show it as text.
TAKE = "<img src=x onerror=alert(1)> take.wav"
TITLE = "Cleaned up"
NUMBERS = {
    "highpass_hz": "Rumble filter (Hz)",
    "denoise_db": "Noise reduction (dB)",
    "max_pause_s": "Shorten pauses to (s)",
}
FLAGS = {
    "dehum": "Remove mains hum",
    "deess": "Soften sibilance",
    "level_voices": "Even out voices in a take",
}


@dataclass
class Studio:
    page: Page
    server: LiveServer
    account: Account
    schema: Schema

    def episodes(self) -> list[Schema]:
        response = httpx.get(
            f"{self.server.base_url}/api/episodes", headers=api_token(self.server, self.account)
        )
        assert response.status_code == 200, response.text
        items: list[Schema] = response.json()["items"]
        return items


@pytest.fixture(scope="module")
def stand_in_server(module_live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """One server with the stand-in engine for the module; each test has its own account."""
    return module_live_server_factory(
        PODPLUS_ENGINE_COMMAND=" ".join(stand_in_command("ok"))
    ).start()


@pytest.fixture
def studio(
    browser: Browser, stand_in_server: LiveServer, tmp_path: Path
) -> Iterator[Callable[..., Studio]]:
    """The studio, logged in, one take in the library, on a server with the stand-in engine;
    ``without_spec`` makes ``/api/spec/episode`` unreachable for the page."""
    contexts: list[BrowserContext] = []
    errors: list[Error] = []

    def open_it(*, without_spec: bool = False) -> Studio:
        server = stand_in_server
        schema = httpx.get(f"{server.base_url}/api/spec/episode").json()
        account = create_account(server)
        clip = tone(tmp_path / "take.wav", seconds=1.0)
        uploaded = httpx.post(
            f"{server.base_url}/api/media",
            headers=api_token(server, account),
            files={"file": (TAKE, clip.read_bytes())},
        )
        assert uploaded.status_code == 201, uploaded.text
        context = new_context(browser, server)
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(error))
        if without_spec:
            page.route("**/api/spec/episode", lambda route: route.abort())
        open_studio(page, account)
        return Studio(page, server, account, schema)

    yield open_it
    for context in contexts:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def assemble(page: Page) -> None:
    page.get_by_role("button", name=f"Add: {TAKE}").click()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_role("button", name="Assemble", exact=True).click()
    expect(page.locator("[data-field='job-phase']")).to_have_text("Done")


def test_the_cleanup_fieldset_shows_the_schemas_ranges_and_defaults(
    studio: Callable[..., Studio],
) -> None:
    opened = studio()
    page, schema = opened.page, opened.schema
    cleanup = page.get_by_role("group", name="Clean-up")
    for name, label in NUMBERS.items():
        limits = field(schema, f"cleanup.{name}")
        number = cleanup.get_by_label(label)
        expect(number).to_have_attribute("min", number_text(limits["minimum"]))
        expect(number).to_have_attribute("max", number_text(limits["maximum"]))
        default = limits["default"]
        expect(number).to_have_value("" if default is None else number_text(default))
    for name, label in FLAGS.items():
        flag = cleanup.get_by_label(label)
        if field(schema, f"cleanup.{name}")["default"]:
            expect(flag).to_be_checked()
        else:
            expect(flag).not_to_be_checked()
        assert flag.evaluate("input => input.indeterminate") is False

    # Saved as the form shows it: the schema's defaults, whatever they are.
    assemble(page)
    (episode,) = opened.episodes()
    assert episode["cleanup"] == {
        name: value["default"] for name, value in field(schema, "cleanup")["properties"].items()
    }


def test_cleanup_choices_are_saved_and_shown_again(studio: Callable[..., Studio]) -> None:
    opened = studio()
    page, schema = opened.page, opened.schema
    pause = field(schema, "cleanup.max_pause_s")
    cleanup = page.get_by_role("group", name="Clean-up")
    cleanup.get_by_label(NUMBERS["max_pause_s"]).fill(number_text(pause["maximum"]))
    cleanup.get_by_label(NUMBERS["denoise_db"]).fill("0")
    deess = cleanup.get_by_label(FLAGS["deess"])
    deess.set_checked(not field(schema, "cleanup.deess")["default"])
    assemble(page)

    (episode,) = opened.episodes()
    assert episode["cleanup"]["max_pause_s"] == pause["maximum"]
    assert episode["cleanup"]["denoise_db"] == 0
    assert episode["cleanup"]["deess"] is not field(schema, "cleanup.deess")["default"]

    page.reload()
    page.locator(".episode-item", has_text=TITLE).get_by_role("button").click()
    cleanup = page.get_by_role("group", name="Clean-up")
    expect(cleanup.get_by_label(NUMBERS["max_pause_s"])).to_have_value(
        number_text(pause["maximum"])
    )
    expect(cleanup.get_by_label(NUMBERS["denoise_db"])).to_have_value("0")
    assert (
        cleanup.get_by_label(FLAGS["deess"]).is_checked()
        is not field(schema, "cleanup.deess")["default"]
    )


def test_without_the_schema_the_apis_cleanup_defaults_apply(
    studio: Callable[..., Studio],
) -> None:
    opened = studio(without_spec=True)
    page, schema = opened.page, opened.schema
    cleanup = page.get_by_role("group", name="Clean-up")
    expect(cleanup.get_by_label(NUMBERS["highpass_hz"])).to_have_value("")
    # Undecided, not off: an unchecked box would switch the API's default off.
    for label in FLAGS.values():
        assert cleanup.get_by_label(label).evaluate("input => input.indeterminate") is True
    assemble(page)
    (episode,) = opened.episodes()
    assert episode["cleanup"] == {
        name: value["default"] for name, value in field(schema, "cleanup")["properties"].items()
    }


def test_a_ready_episode_shows_what_was_done_to_each_part(studio: Callable[..., Studio]) -> None:
    page = studio().page
    report = page.locator("[data-field='report']")
    expect(report).to_be_hidden()
    assemble(page)

    table = page.get_by_role("table", name="What was done")
    expect(table).to_be_visible()
    (reported,) = REPORT["parts"]
    row = table.locator(".report__part")
    expect(row).to_have_count(1)
    # The file's name, markup and all, as text: no element was made from it.
    title = Path(TAKE).stem
    expect(row.get_by_role("rowheader")).to_have_text(title)
    expect(table.locator("img")).to_have_count(0)

    def change(name: str, unit: str) -> str:
        before, after = reported["before"][name], reported["after"][name]
        return f"{before:.1f} → {after:.1f} {unit}".replace("-", "−")

    expect(row.get_by_role("cell")).to_have_text(
        [
            change("loudness_lufs", "LUFS"),
            change("noise_floor_db", "dBFS"),
            change("peak_db", "dBFS"),
        ]
    )
    applied = table.get_by_role("list", name=f"Applied to {title}").get_by_role("listitem")
    expect(applied).to_have_text(
        [
            *reported["applied"],
            f"level changed +{reported['gain_db']:.1f} dB",
            "peaks held down by a limiter",
        ]
    )

    # A new episode has no result, so no report.
    page.get_by_role("button", name="New episode").click()
    expect(report).to_be_hidden()

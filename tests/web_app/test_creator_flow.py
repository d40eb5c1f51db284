"""The creator's whole path in a real browser, against the real engine: sign up, upload two
clips (file picker and drag-and-drop), arrange an episode, assemble, listen, download; and
the API's own message when an upload is refused."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.media_files import tone
from tests.web_app.conftest import (
    api_token,
    create_account,
    login_dialog,
    open_studio,
    save_screenshot,
)

pytestmark = pytest.mark.browser

ASSEMBLY_TIMEOUT_MS = 60_000

# Records every percentage the assembly panel shows, so the test sees the climb, not just
# the end.
_WATCH_PERCENT_JS = """
() => {
  const label = document.querySelector("[data-field='job-percent']");
  window.percentsSeen = [];
  new MutationObserver(() => window.percentsSeen.push(label.textContent))
    .observe(label, { childList: true, characterData: true, subtree: true });
}
"""

_DROP_JS = """
([name, type, base64]) => {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  return transfer;
}
"""


def choose_file(page: Page, path: Path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Choose files").click()
    chooser.value.set_files(path)


def drop_file(page: Page, path: Path, mime_type: str) -> None:
    """What a drag from the desktop delivers: a drop event carrying the file."""
    payload = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle(_DROP_JS, [path.name, mime_type, payload])
    zone = page.locator("[data-dropzone]")
    zone.dispatch_event("dragenter", {"dataTransfer": transfer})
    zone.dispatch_event("drop", {"dataTransfer": transfer})


def expect_uploaded(page: Page, filename: str) -> None:
    row = page.locator(".upload", has_text=filename)
    expect(row.get_by_text("Added to the library")).to_be_visible()
    expect(row.locator("progress")).to_have_js_property("value", 100)


def test_the_whole_creator_flow(page: Page, tmp_path: Path) -> None:
    opening = tone(tmp_path / "opening.wav", seconds=3.0, frequency_hz=440, sample_rate=22050)
    interview = tone(tmp_path / "interview.wav", seconds=2.0, frequency_hz=660, sample_rate=22050)

    # Sign up from the landing page.
    page.goto("/")
    page.get_by_role("button", name="Get Started").first.click()
    dialog = login_dialog(page)
    dialog.get_by_role("button", name="Create an account").click()
    dialog.get_by_label("Name").fill("Ada")
    dialog.get_by_label("Email").fill("ada@example.com")
    dialog.get_by_label("Password").fill("correct horse battery")
    dialog.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/studio")

    # Upload one clip through the file picker and drop the other on the drop zone.
    choose_file(page, opening)
    expect_uploaded(page, "opening.wav")
    drop_file(page, interview, "audio/wav")
    expect_uploaded(page, "interview.wav")
    library = page.locator("[data-list='library']")
    expect(library.locator(".media-item__name")).to_have_text(["interview.wav", "opening.wav"])
    expect(library.locator("[data-field='duration']")).to_have_text(["0:02", "0:03"])

    # Make the episode: title, two segments in order, MP3 at -16 LUFS.
    assemble = page.get_by_role("button", name="Assemble", exact=True)
    expect(assemble).to_be_disabled()
    page.get_by_role("button", name="Add: opening.wav").click()
    page.get_by_role("button", name="Add: interview.wav").click()
    expect(page.locator(".segment__name")).to_have_text(["opening.wav", "interview.wav"])
    page.get_by_label("Title").fill("Episode 1 — Tones")
    page.get_by_label("Loudness target").select_option("-16")
    page.get_by_label("Format").select_option("mp3")
    expect(assemble).to_be_enabled()

    # Assemble and follow the progress to 100%.
    page.evaluate(_WATCH_PERCENT_JS)
    assemble.click()
    phase = page.locator("[data-field='job-phase']")
    expect(phase).to_have_text(re.compile("Done|Failed|Cancelled"), timeout=ASSEMBLY_TIMEOUT_MS)
    assert phase.text_content() == "Done", page.locator(".assembly").inner_text()
    expect(page.locator("[data-field='job-percent']")).to_have_text("100%")
    expect(page.locator("[data-field='job-progress']")).to_have_js_property("value", 100)
    seen = [int(text.rstrip("%")) for text in page.evaluate("window.percentsSeen")]
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    assert seen[-1] == 100

    # Listen: the player loads the episode and knows its length.
    player = page.locator("[data-field='player']")
    page.wait_for_function(
        "(audio) => audio.readyState >= 1 && Number.isFinite(audio.duration) && audio.duration > 0",
        arg=player.element_handle(),
    )
    duration_s = player.evaluate("(audio) => audio.duration")
    assert 3.5 < duration_s < 6.5
    player.evaluate("(audio) => { audio.muted = true; return audio.play(); }")
    page.wait_for_function("(audio) => audio.currentTime > 0", arg=player.element_handle())
    expect(page.locator(".episode-item", has_text="Episode 1")).to_contain_text("Ready")
    # What the engine did, a row per part, titled after the files.
    report = page.get_by_role("table", name="What was done")
    expect(report.get_by_role("rowheader")).to_have_text(["opening", "interview"])
    save_screenshot(page, "studio.png")

    # Download the file.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download").click()
    download = download_info.value
    assert download.suggested_filename.endswith(".mp3")
    data = Path(download.path()).read_bytes()
    assert len(data) > 1000
    assert data[:3] == b"ID3" or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def test_a_non_audio_upload_shows_the_apis_message(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    account = create_account(live_server)
    notes = tmp_path / "notes.txt"
    notes.write_text("Show notes, not audio.\n")
    refused = httpx.post(
        f"{live_server.base_url}/api/media",
        headers=api_token(live_server, account),
        files={"file": (notes.name, notes.read_bytes())},
    )
    assert refused.status_code == 415
    message = refused.json()["error"]["message"]

    open_studio(page, account)
    choose_file(page, notes)
    row = page.locator(".upload", has_text="notes.txt")
    expect(row.get_by_role("alert")).to_have_text(message)
    expect(page.locator(".media-item")).to_have_count(0)
    row.get_by_role("button", name="Dismiss notes.txt").click()
    expect(row).to_have_count(0)

"""A show from the studio to a podcast app, in a real browser against the real engine: make
a show with its defaults, have artwork refused (the API's words) and accepted, copy the
feed URL, make an episode in the show, assemble, publish, and read the feed as an app
does; then re-assemble (the public audio stays until published again), unpublish, and
schedule for later. The browser runs in Berlin, so local times and UTC differ."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Error, Page, expect

from tests.conftest import LiveServer
from tests.media_files import image, photo, tone
from tests.web_app.conftest import (
    Account,
    api_token,
    create_account,
    new_context,
    open_studio,
    save_screenshot,
)

pytestmark = pytest.mark.browser

ASSEMBLY_TIMEOUT_MS = 60_000
FEED_HINT = "Paste this into Apple Podcasts Connect or Spotify for Creators"
OUTDATED_NOTE = "Publish again to update the public audio"
# A podcast app's user agent: counted as a listener, not a bot.
APP_AGENT = "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; en_us)"


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    """A page in Berlin's time zone, allowed to use the clipboard."""
    context = new_context(
        browser,
        live_server,
        timezone_id="Europe/Berlin",
        locale="en-GB",
        permissions=["clipboard-read", "clipboard-write"],
    )
    opened = context.new_page()
    errors: list[Error] = []
    opened.on("pageerror", lambda error: errors.append(error))
    yield opened
    context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def upload(server: LiveServer, headers: dict[str, str], path: Path, kind: str) -> str:
    response = httpx.post(
        f"{server.base_url}/api/media",
        headers=headers,
        data={"kind": kind},
        files={"file": (path.name, path.read_bytes())},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def feed_items(feed_url: str) -> list[ET.Element]:
    """The feed's items, fetched as an app does: no token."""
    response = httpx.get(feed_url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    assert channel is not None
    return channel.findall("item")


def the_show(server: LiveServer, headers: dict[str, str]) -> dict[str, object]:
    shows = httpx.get(f"{server.base_url}/api/shows", headers=headers).json()["items"]
    assert len(shows) == 1
    return dict(shows[0])


def the_episode(server: LiveServer, headers: dict[str, str]) -> dict[str, object]:
    episodes = httpx.get(f"{server.base_url}/api/episodes", headers=headers).json()["items"]
    assert len(episodes) == 1
    return dict(episodes[0])


def open_show(page: Page, title: str) -> None:
    page.locator("[data-list='shows']").get_by_role("button", name=re.compile(title)).click()


def assemble(page: Page) -> None:
    page.get_by_role("button", name="Assemble", exact=True).click()
    phase = page.locator("[data-field='job-phase']")
    expect(phase).to_have_text(re.compile("Done|Failed|Cancelled"), timeout=ASSEMBLY_TIMEOUT_MS)
    assert phase.text_content() == "Done", page.locator(".assembly").inner_text()


def test_a_show_goes_from_the_studio_to_a_feed_a_podcast_app_reads(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    account: Account = create_account(live_server)
    headers = api_token(live_server, account)
    base = live_server.base_url
    intro = tone(tmp_path / "intro.wav", seconds=1.5)
    take = tone(tmp_path / "take.wav", seconds=3.0, frequency_hz=330)
    intro_id = upload(live_server, headers, intro, "intro")
    upload(live_server, headers, take, "content")
    cover = photo(tmp_path / "cover.jpg", size_px=1400)
    small = image(tmp_path / "small.jpg", size="500x500")

    open_studio(page, account)
    page.get_by_role("link", name="Shows").click()
    expect(page).to_have_url(re.compile("#shows$"))
    expect(page.get_by_role("heading", name="New show")).to_be_visible()
    expect(page.get_by_role("heading", name="Your episodes")).to_be_hidden()

    # The show: what its feed says, with Apple's categories from the API's schema.
    form = page.locator("form[data-form='show']")
    form.get_by_label("Title").fill("The Engine Room")
    form.get_by_label("Description").fill("Machines, weekly.")
    form.get_by_label("Author").fill("Ada Lovelace")
    form.get_by_label("Owner name").fill("Ada Lovelace")
    form.get_by_label("Owner email").fill("ada@example.com")
    form.get_by_label("Language").fill("en-gb")
    category = form.get_by_label("Category", exact=True)
    expect(category.locator("option", has_text="Leisure")).to_have_count(1)
    category.select_option("Leisure")
    subcategory = form.get_by_label("Subcategory")
    expect(subcategory.locator("option", has_text="Hobbies")).to_have_count(1)
    expect(subcategory.locator("option", has_text="Books")).to_have_count(0)
    subcategory.select_option("Hobbies")
    form.get_by_label("Feed address").fill("engine-room")
    # Its defaults, from the user's media: what every new episode of the show starts from.
    form.get_by_label("Intro").select_option(label="intro.wav")
    form.get_by_label("Loudness target").select_option("-16")
    form.get_by_label("Format").select_option("mp3")
    form.get_by_label("Bitrate").select_option("96")
    form.get_by_label("Artist tag").fill("Ada Lovelace")
    form.get_by_role("button", name="Create show").click()

    expect(page.get_by_role("heading", name="Edit show")).to_be_visible()
    feed_url = f"{base}/feeds/engine-room.xml"
    expect(page.get_by_label("Feed URL")).to_have_value(feed_url)
    expect(page.get_by_text(FEED_HINT)).to_be_visible()
    expect(page.get_by_text("episodes: publish at least one episode")).to_be_visible()
    saved = the_show(live_server, headers)
    assert (saved["language"], saved["category"], saved["subcategory"]) == (
        "en-GB",
        "Leisure",
        "Hobbies",
    )
    assert saved["defaults"] == {
        "intro_id": intro_id,
        "outro_id": None,
        "music_bed": None,
        "loudness": {"target_lufs": -16.0, "true_peak_db": -1.0},
        "output": {"format": "mp3", "bitrate_kbps": 96, "channels": 1, "sample_rate": 44100},
        "tags": {"artist": "Ada Lovelace"},
    }

    # Artwork the directories would refuse: the API's own words, and nothing stored.
    refused = httpx.put(
        f"{base}/api/shows/{saved['id']}/artwork",
        headers=headers,
        files={"file": (small.name, small.read_bytes(), "image/jpeg")},
    )
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert "1400 to 3000 px" in message
    artwork = page.locator("[data-field='artwork-panel']")
    with page.expect_file_chooser() as chooser:
        artwork.get_by_role("button", name="Upload artwork").click()
    chooser.value.set_files(small)
    expect(artwork.get_by_role("alert")).to_have_text(message)
    assert the_show(live_server, headers)["artwork_url"] is None

    # Artwork that fits: shown, and the refusal gone.
    with page.expect_file_chooser() as chooser:
        artwork.get_by_role("button", name="Upload artwork").click()
    chooser.value.set_files(cover)
    picture = artwork.get_by_role("img", name="The show's artwork")
    expect(picture).to_be_visible()
    loaded = "(img) => img.complete && img.naturalWidth === 1400"
    page.wait_for_function(loaded, arg=picture.element_handle())
    expect(artwork.get_by_role("alert")).to_be_hidden()
    expect(artwork.get_by_text("1400 × 1400 px")).to_be_visible()

    # Copy the feed URL.
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == feed_url

    # An episode in the show starts from the show's defaults.
    page.get_by_role("link", name="Episodes").click()
    episode_form = page.locator("form[data-form='episode']")
    episode_form.get_by_label("Show", exact=True).select_option(label="The Engine Room")
    expect(episode_form.get_by_label("Intro")).to_have_value(intro_id)
    expect(episode_form.get_by_label("Format")).to_have_value("mp3")
    expect(episode_form.get_by_label("Bitrate")).to_have_value("96")
    episode_form.get_by_label("Title").fill("Pilot")
    page.get_by_role("button", name="Add: take.wav").click()
    publish = page.locator("[data-field='publish-panel']")
    expect(publish).to_be_hidden()
    assemble(page)
    assert the_episode(live_server, headers)["tags"] == {"artist": "Ada Lovelace"}

    # Publish now: its public link and downloads; the feed has it as an app reads it.
    status = publish.locator("[data-field='publish-status']")
    expect(status).to_have_text("Not published")
    publish.get_by_role("button", name="Publish now").click()
    expect(status).to_have_text("Published")
    link = publish.locator("[data-field='public-link']")
    expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(base)}/public/audio/.+\.mp3$"))
    audio_url = link.get_attribute("href")
    assert audio_url is not None
    expect(publish.locator("[data-field='downloads']")).to_have_text("0")
    expect(page.locator(".episode-item", has_text="Pilot")).to_contain_text("Published")

    [item] = feed_items(feed_url)
    assert item.findtext("title") == "Pilot"
    enclosure = item.find("enclosure")
    assert enclosure is not None
    assert enclosure.get("url") == audio_url
    assert enclosure.get("type") == "audio/mpeg"
    head = httpx.head(audio_url)
    assert head.status_code == 200
    assert enclosure.get("length") == head.headers["content-length"]
    guid = item.findtext("guid")
    played = httpx.get(audio_url, headers={"User-Agent": APP_AGENT, "Range": "bytes=0-"})
    assert played.status_code == 206
    assert len(played.content) == int(head.headers["content-length"])

    # The app's download is counted, on the episode and on the show.
    page.locator(".episode-item", has_text="Pilot").get_by_role("button").click()
    expect(publish.locator("[data-field='downloads']")).to_have_text("1")
    page.get_by_role("link", name="Shows").click()
    open_show(page, "The Engine Room")
    expect(page.locator("[data-field='feed-episodes']")).to_have_text("1")
    expect(page.locator("[data-field='feed-downloads']")).to_have_text("1")
    expect(page.locator("[data-field='directory-problems']")).to_be_hidden()
    save_screenshot(page, "show.png")
    page.get_by_role("link", name="Episodes").click()

    # Assembled again, louder: the feed keeps the audio it had until it is published again.
    episode_form.get_by_label("Loudness target").select_option("-14")
    assemble(page)
    expect(publish.get_by_text(OUTDATED_NOTE)).to_be_visible()
    [item] = feed_items(feed_url)
    assert item.find("enclosure").get("url") == audio_url  # type: ignore[union-attr]
    expect(publish.get_by_label("Keep its date")).to_be_checked()
    publish.get_by_role("button", name="Publish again").click()
    expect(publish.get_by_text(OUTDATED_NOTE)).to_be_hidden()
    expect(link).not_to_have_attribute("href", audio_url)
    [item] = feed_items(feed_url)
    new_audio_url = link.get_attribute("href")
    assert item.find("enclosure").get("url") == new_audio_url  # type: ignore[union-attr]
    assert item.findtext("guid") == guid
    assert httpx.head(audio_url).status_code == 404

    # Unpublish: out of the feed, its audio gone.
    publish.get_by_role("button", name="Unpublish").click()
    expect(status).to_have_text("Not published")
    expect(publish.get_by_role("link")).to_be_hidden()
    assert feed_items(feed_url) == []
    assert httpx.head(str(new_audio_url)).status_code == 404
    assert the_episode(live_server, headers)["publication"] is None

    # Scheduled for later, in Berlin's time: sent as UTC, not in the feed until then.
    publish.get_by_label("Schedule").check()
    publish.get_by_label(re.compile("Date and time")).fill("2030-01-15T09:30")
    publish.get_by_role("button", name="Schedule").click()
    expect(status).to_have_text("Scheduled")
    expect(publish.locator("[data-field='published-at']")).to_contain_text("15 Jan 2030")
    expect(publish.locator("[data-field='published-at']")).to_contain_text("09:30")
    publication = the_episode(live_server, headers)["publication"]
    assert isinstance(publication, dict)
    published_at = dt.datetime.fromisoformat(str(publication["published_at"]))
    assert published_at == dt.datetime(2030, 1, 15, 8, 30, tzinfo=dt.UTC)
    assert feed_items(feed_url) == []
    assert httpx.head(str(publication["audio_url"])).status_code == 404


def test_deleting_a_show_asks_first_and_leaves_its_episodes(
    page: Page, live_server: LiveServer
) -> None:
    account = create_account(live_server)
    headers = api_token(live_server, account)
    created = httpx.post(
        f"{live_server.base_url}/api/shows",
        headers=headers,
        json={
            "title": "Short-lived",
            "description": "Soon gone.",
            "author": "Ada",
            "owner_name": "Ada",
            "owner_email": "ada@example.com",
            "language": "en",
            "category": "Technology",
        },
    )
    assert created.status_code == 201, created.text

    open_studio(page, account)
    page.goto("/studio#shows")
    open_show(page, "Short-lived")
    expect(page.get_by_label("Feed URL")).to_have_value(created.json()["feed_url"])
    page.get_by_role("button", name="Delete show").click()
    page.get_by_role("button", name="Keep it").click()
    assert httpx.get(created.json()["feed_url"]).status_code == 200

    page.get_by_role("button", name="Delete show").click()
    page.get_by_role("button", name="Delete the show").click()
    expect(page.get_by_role("heading", name="New show")).to_be_visible()
    expect(page.locator("[data-list='shows'] li")).to_have_count(0)
    assert httpx.get(created.json()["feed_url"]).status_code == 404

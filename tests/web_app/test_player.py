"""The studio's player and download link use a short-lived signed URL, never the session
token; and the studio's lists load every page, past the API's 200 items a page."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.media_files import tone
from tests.test_end_to_end import poll_job, upload
from tests.web_app.conftest import api_token, create_account, open_studio

pytestmark = pytest.mark.browser

# More drafts than one page holds, so the list has to follow `next`.
DRAFTS = 201


def test_the_player_plays_a_signed_url_and_no_url_carries_the_token(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> None:
    base = live_server.base_url
    account = create_account(live_server)
    auth = api_token(live_server, account)
    media_id = upload(base, auth, tone(tmp_path / "take.wav", seconds=2.0))
    with httpx.Client(base_url=base, headers=auth) as api:
        for n in range(DRAFTS):
            body = {"title": f"Draft {n}", "segments": [{"media_id": media_id}]}
            assert api.post("/api/episodes", json=body).status_code == 201
        episode = api.post(
            "/api/episodes", json={"title": "Playable", "segments": [{"media_id": media_id}]}
        ).json()
        queued = api.post(f"/api/episodes/{episode['id']}/assemble").json()
    job = poll_job(base, auth, queued["job_id"], lambda j: j["status"] not in ("queued", "running"))
    assert job["status"] == "succeeded", job

    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    open_studio(page, account)
    expect(page.locator(".episode-item")).to_have_count(DRAFTS + 1)
    page.locator(".episode-item", has_text="Playable").get_by_role("button").click()

    player = page.locator("[data-field='player']")
    page.wait_for_function(
        "(audio) => audio.readyState >= 1 && Number.isFinite(audio.duration) && audio.duration > 0",
        arg=player.element_handle(),
    )
    source = urlsplit(player.evaluate("(audio) => audio.currentSrc"))
    assert source.path == f"/media/episodes/{episode['id']}"
    assert set(parse_qs(source.query)) == {"expires", "sig"}
    download = page.get_by_role("link", name="Download")
    assert urlsplit(download.get_attribute("href") or "").path == source.path

    # The URL alone is enough (no session), and no URL the page asked for held the token.
    alone = httpx.get(f"{base}{source.path}?{source.query}")
    assert alone.status_code == 200 and alone.headers["content-type"] == "audio/mpeg"
    token = auth["Authorization"].split()[1]
    assert not [url for url in requested if token in url or "access_token" in url]
    assert any(urlsplit(url).path == source.path for url in requested)

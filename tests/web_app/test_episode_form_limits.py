"""The studio form's limits, defaults and formats are the server's: read from
``/api/spec/episode`` when the page starts, never copied into the page. Every expected
number here is read from the same running server's schema."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import LiveServer
from tests.media_files import tone
from tests.web_app.conftest import Account, api_token, create_account, open_studio

pytestmark = pytest.mark.browser

ASSEMBLY_TIMEOUT_MS = 60_000
TITLE = "Limits from the spec"

Schema = dict[str, Any]


@pytest.fixture
def schema(live_server: LiveServer) -> Schema:
    response = httpx.get(f"{live_server.base_url}/api/spec/episode")
    assert response.status_code == 200, response.text
    document: Schema = response.json()
    return document


def field(schema: Schema, path: str) -> Schema:
    """One field's schema by dotted path, following ``$ref`` and nullable ``anyOf``."""

    def resolve(node: Schema) -> Schema:
        if "$ref" in node:
            target: Any = schema
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return {**resolve(target), **{k: v for k, v in node.items() if k != "$ref"}}
        real = [branch for branch in node.get("anyOf", []) if branch.get("type") != "null"]
        if len(real) == 1:
            return {**resolve(real[0]), **{k: v for k, v in node.items() if k != "anyOf"}}
        return node

    node = resolve(schema)
    for name in path.split("."):
        node = resolve(node["properties"][name])
    return node


def number_text(value: float) -> str:
    """A schema number as the page writes it into an attribute (JavaScript's String())."""
    return str(int(value)) if float(value).is_integer() else str(value)


@dataclass
class Studio:
    page: Page
    account: Account
    headers: dict[str, str]
    media_ids: dict[str, str]


@pytest.fixture
def open_studio_with_media(
    page: Page, live_server: LiveServer, tmp_path: Path
) -> Callable[..., Studio]:
    """The studio, logged in, with a speech clip (take.wav) and a music bed (bed.wav) in the
    library; ``without_spec`` makes ``/api/spec/episode`` unreachable for the page."""

    def open_it(*, without_spec: bool = False) -> Studio:
        account = create_account(live_server)
        headers = api_token(live_server, account)
        media_ids = {}
        for name, kind in (("take.wav", "content"), ("bed.wav", "music")):
            clip = tone(tmp_path / name, seconds=1.0)
            uploaded = httpx.post(
                f"{live_server.base_url}/api/media",
                headers=headers,
                data={"kind": kind},
                files={"file": (clip.name, clip.read_bytes())},
            )
            assert uploaded.status_code == 201, uploaded.text
            media_ids[name] = uploaded.json()["id"]
        if without_spec:
            page.route("**/api/spec/episode", lambda route: route.abort())
        open_studio(page, account)
        return Studio(page, account, headers, media_ids)

    return open_it


def saved_episode(server: LiveServer, studio: Studio) -> Schema:
    response = httpx.get(f"{server.base_url}/api/episodes", headers=studio.headers)
    assert response.status_code == 200, response.text
    (episode,) = response.json()["items"]
    result: Schema = episode
    return result


def arrange_and_assemble(page: Page) -> None:
    """Take and bed in place, a title, then Assemble (which saves first)."""
    page.get_by_role("button", name="Add: take.wav").click()
    page.get_by_role("button", name="Use as music: bed.wav").click()
    page.get_by_label("Title").fill(TITLE)
    page.get_by_role("button", name="Assemble", exact=True).click()


def expect_assembly_ends(page: Page) -> None:
    phase = page.locator("[data-field='job-phase']")
    expect(phase).to_have_text(re.compile("Done|Failed|Cancelled"), timeout=ASSEMBLY_TIMEOUT_MS)


def test_the_music_level_has_the_apis_range_and_default(
    open_studio_with_media: Callable[..., Studio], schema: Schema
) -> None:
    page = open_studio_with_media().page
    gain = field(schema, "music_bed.gain_db")
    level = page.get_by_label("Music level (dB)")
    expect(level).to_have_attribute("min", number_text(gain["minimum"]))
    expect(level).to_have_attribute("max", number_text(gain["maximum"]))
    expect(level).to_have_value(number_text(gain["default"]))
    title = field(schema, "title")
    expect(page.get_by_label("Title")).to_have_attribute("maxlength", str(title["maxLength"]))


def test_the_format_select_offers_exactly_the_schemas_formats(
    open_studio_with_media: Callable[..., Studio], schema: Schema
) -> None:
    page = open_studio_with_media().page
    output = field(schema, "output")
    formats = field(schema, "output.format")
    select = page.get_by_label("Format")
    page.wait_for_function(
        "([select, wanted]) => JSON.stringify([...select.options].map((o) => o.value))"
        " === JSON.stringify(wanted)",
        arg=[select.element_handle(), formats["enum"]],
    )
    expect(select).to_have_value(formats["default"])
    # The bitrate is offered for the formats the schema calls lossy, and only for them.
    bitrate = page.get_by_label("Bitrate")
    for value in formats["enum"]:
        select.select_option(value)
        if value in output["x-lossy-formats"]:
            expect(bitrate).to_be_visible()
        else:
            expect(bitrate).to_be_hidden()


def test_an_episode_saved_as_the_form_left_it_gets_the_schemas_defaults(
    open_studio_with_media: Callable[..., Studio], live_server: LiveServer, schema: Schema
) -> None:
    studio = open_studio_with_media()
    page = studio.page
    expect(page.get_by_label("Music level (dB)")).to_have_value(
        number_text(field(schema, "music_bed.gain_db")["default"])
    )
    arrange_and_assemble(page)
    expect_assembly_ends(page)

    episode = saved_episode(live_server, studio)
    assert episode["music_bed"]["gain_db"] == field(schema, "music_bed.gain_db")["default"]
    # The form sends no true peak of its own: the server's default applies.
    assert episode["loudness"]["true_peak_db"] == field(schema, "loudness.true_peak_db")["default"]
    assert episode["output"]["format"] == field(schema, "output.format")["default"]


def test_without_the_schema_the_form_shows_the_apis_message_and_still_saves(
    open_studio_with_media: Callable[..., Studio], live_server: LiveServer, schema: Schema
) -> None:
    studio = open_studio_with_media(without_spec=True)
    page = studio.page
    expect(page.get_by_label("Format")).to_have_value("")
    level = page.get_by_label("Music level (dB)")
    expect(level).to_have_value("")

    # Too loud a bed: the server refuses it, and the page says what the API says.
    too_loud = field(schema, "music_bed.gain_db")["maximum"] + 1
    refused = httpx.post(
        f"{live_server.base_url}/api/episodes",
        headers=studio.headers,
        json={
            "title": TITLE,
            "segments": [{"media_id": studio.media_ids["take.wav"]}],
            "music_bed": {"media_id": studio.media_ids["bed.wav"], "gain_db": too_loud},
        },
    )
    assert refused.status_code == 422, refused.text
    page.get_by_role("button", name="Use as music: bed.wav").click()
    level.fill(number_text(too_loud))
    arrange_and_assemble(page)
    alert = page.locator(".assembly").get_by_role("alert")
    expect(alert).to_have_text(refused.json()["error"]["message"])

    # Left empty, the level is the server's to choose.
    level.fill("")
    page.get_by_role("button", name="Assemble", exact=True).click()
    expect_assembly_ends(page)
    episode = saved_episode(live_server, studio)
    assert episode["music_bed"]["gain_db"] == field(schema, "music_bed.gain_db")["default"]
    assert episode["output"]["format"] == field(schema, "output.format")["default"]
    assert episode["loudness"] == {
        name: field(schema, f"loudness.{name}")["default"]
        for name in field(schema, "loudness")["properties"]
    }


def test_an_edited_episode_keeps_values_the_presets_lack_and_the_form_hides(
    open_studio_with_media: Callable[..., Studio], live_server: LiveServer, schema: Schema
) -> None:
    studio = open_studio_with_media()
    page = studio.page
    lufs = field(schema, "loudness.target_lufs")
    peak = field(schema, "loudness.true_peak_db")
    bitrate = field(schema, "output.bitrate_kbps")
    gain = field(schema, "music_bed.gain_db")
    # Values no preset offers, and a true peak the form doesn't show at all.
    loudness = {
        "target_lufs": (lufs["minimum"] + lufs["maximum"]) / 2,
        "true_peak_db": peak["minimum"],
    }
    output = {
        "format": field(schema, "output")["x-lossy-formats"][-1],
        "bitrate_kbps": bitrate["maximum"],
    }
    created = httpx.post(
        f"{live_server.base_url}/api/episodes",
        headers=studio.headers,
        json={
            "title": TITLE,
            "segments": [{"media_id": studio.media_ids["take.wav"]}],
            "music_bed": {"media_id": studio.media_ids["bed.wav"], "gain_db": gain["minimum"]},
            "loudness": loudness,
            "output": output,
        },
    )
    assert created.status_code == 201, created.text
    page.reload()
    page.locator(".episode-item", has_text=TITLE).get_by_role("button").click()

    expect(page.get_by_label("Loudness target")).to_have_value(number_text(loudness["target_lufs"]))
    expect(page.get_by_label("Format")).to_have_value(output["format"])
    expect(page.get_by_label("Bitrate")).to_have_value(number_text(output["bitrate_kbps"]))
    expect(page.get_by_label("Music level (dB)")).to_have_value(number_text(gain["minimum"]))
    page.get_by_role("button", name="Assemble", exact=True).click()
    expect_assembly_ends(page)

    episode = saved_episode(live_server, studio)
    assert episode["loudness"] == loudness
    assert {name: episode["output"][name] for name in output} == output
    assert episode["music_bed"]["gain_db"] == gain["minimum"]

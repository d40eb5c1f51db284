"""The directories' rules as pure functions: categories, languages, artwork, identities,
safe show notes, and the feed document itself, without a server."""

from __future__ import annotations

import json

import feedparser
import pytest
from lxml import etree

from podplus.feeds.artwork import ArtworkRule, ImageFacts, artwork_problem
from podplus.feeds.categories import APPLE_CATEGORIES, subcategory_problem
from podplus.feeds.chapters import Chapter, chapters_document, chapters_from_json, chapters_json
from podplus.feeds.html import MAX_DESCRIPTION_BYTES, description_problem, notes_html, xml_text
from podplus.feeds.identity import podcast_guid
from podplus.feeds.languages import language_tag
from podplus.feeds.rss import FeedChannel, FeedItem, render_feed
from tests.feeds.apple_rules import CATEGORIES


def test_the_category_list_is_apples() -> None:
    # 19 categories, 15 of them with subcategories; the same as the independent copy.
    assert len(APPLE_CATEGORIES) == 19
    assert sum(1 for subs in APPLE_CATEGORIES.values() if subs) == 15
    assert {k: "|".join(v) for k, v in APPLE_CATEGORIES.items()} == CATEGORIES


@pytest.mark.parametrize(
    ("category", "subcategory", "problem"),
    [
        ("Arts", "Books", None),
        ("History", None, None),
        ("News", "Books", "Books is a subcategory of Arts, not of News"),
        ("Technology", "Gadgets", "Gadgets is not an Apple Podcasts subcategory"),
        ("Games & Hobbies", None, "Games & Hobbies is not an Apple Podcasts category"),
    ],
)
def test_a_subcategory_belongs_to_one_category(category, subcategory, problem) -> None:  # type: ignore[no-untyped-def]
    assert subcategory_problem(category, subcategory) == problem


@pytest.mark.parametrize(
    ("raw", "tag"),
    [("en", "en"), ("EN-us", "en-US"), ("pt-br", "pt-BR"), ("zh-hant-tw", "zh-Hant-TW"),
     ("es-419", "es-419")],
)  # fmt: skip
def test_a_language_is_an_iso_639_code_in_its_usual_case(raw: str, tag: str) -> None:
    assert language_tag(raw) == tag


@pytest.mark.parametrize(
    "raw", ["", "english", "xx", "en_US", "en-", "en-USA-x", "iw", "e\u0301n", "en-US\n"]
)
def test_anything_else_is_not_a_language(raw: str) -> None:
    with pytest.raises(ValueError):
        language_tag(raw)


@pytest.mark.parametrize(
    ("facts", "rule"),
    [
        (ImageFacts("png", 1400, 1400, "rgb24", "image2", 1), None),
        (ImageFacts("mjpeg", 3000, 3000, "yuvj420p", "image2", 1), None),
        (ImageFacts("png", 1400, 1400, "pal8", "image2", 1), None),
        (ImageFacts("gif", 1400, 1400, "bgr8", "image2", 1), ArtworkRule.FORMAT),
        (ImageFacts("webp", 1400, 1400, "yuv420p", "image2", 1), ArtworkRule.FORMAT),
        (ImageFacts(None, None, None, None, "image2", 1), ArtworkRule.FORMAT),
        (ImageFacts("png", 1600, 1400, "rgb24", "image2", 1), ArtworkRule.SQUARE),
        (ImageFacts("png", 1399, 1399, "rgb24", "image2", 1), ArtworkRule.SIZE),
        (ImageFacts("png", 3001, 3001, "rgb24", "image2", 1), ArtworkRule.SIZE),
        (ImageFacts("mjpeg", 1400, 1400, "gray", "image2", 1), ArtworkRule.COLOUR),
        (ImageFacts("mjpeg", 1400, 1400, "cmyk", "image2", 1), ArtworkRule.COLOUR),
        (ImageFacts("png", 1400, 1400, "ya8", "image2", 1), ArtworkRule.COLOUR),
        # Read as a container, or with more than one stream: a video, whatever its frames.
        (ImageFacts("mjpeg", 1400, 1400, "yuvj420p", "avi", 1), ArtworkRule.FORMAT),
        (ImageFacts("png", 1400, 1400, "rgb24", "image2", 2), ArtworkRule.FORMAT),
        (ImageFacts("png", 1400, 1400, "rgb24", "png_pipe", 1), None),
    ],
)
def test_artwork_is_judged_on_each_rule(facts: ImageFacts, rule: ArtworkRule | None) -> None:
    problem = artwork_problem(facts)
    assert (problem and problem[0]) == rule


def test_podcast_guid_follows_the_podcasting_2_0_examples() -> None:
    # The examples of docs/tags/guid.md: scheme and trailing slashes don't count.
    assert podcast_guid("https://podnews.net/rss") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    assert podcast_guid("http://podnews.net/rss/") == "9b024349-ccf0-5f69-a609-6b82873eab3c"
    assert (
        podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml")
        == "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )


@pytest.mark.parametrize(
    "attack",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        '<a href="JaVaScRiPt:alert(1)">x</a>',
        '<a href="data:text/html,<script>alert(1)</script>">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "<style>body{display:none}</style>",
        '<p style="x" onmouseover="alert(1)">hover</p>',
        "<svg><script>alert(1)</script></svg>",
        "<!-- <script>alert(1)</script> -->",
        "<<script>script>alert(1)<</script>/script>",
    ],
)
def test_show_notes_lose_everything_that_could_run(attack: str) -> None:
    html = notes_html(f"Hello {attack} world")
    lowered = html.lower()
    for trap in ("<script", "javascript:", "onerror", "onmouseover", "<iframe", "<style",
                 "data:text", "style="):  # fmt: skip
        assert trap not in lowered, html


def test_plain_notes_become_paragraphs_and_markup_keeps_its_layout() -> None:
    assert notes_html("One\ntwo\n\nThree & <four>") == "<p>One<br>two</p><p>Three &amp; </p>"
    assert notes_html("<ul>\n<li>a</li>\n</ul>") == "<ul>\n<li>a</li>\n</ul>"
    assert notes_html("   ") == ""
    assert notes_html('<a href="https://x.example/?a=1&b=2">x</a>') == (
        '<p><a href="https://x.example/?a=1&amp;b=2" rel="noopener noreferrer">x</a></p>'
    )


def test_a_description_is_measured_as_the_html_a_feed_carries() -> None:
    assert description_problem("a" * (MAX_DESCRIPTION_BYTES - 7)) is None  # + <p></p>
    assert description_problem("a" * (MAX_DESCRIPTION_BYTES - 6)) is not None
    # Bytes, not characters: 1500 three-byte characters are 4500 bytes.
    assert description_problem("€" * 1500) is not None


def test_text_an_xml_document_cannot_hold_is_dropped() -> None:
    assert xml_text("ok\x00\x0b\ufffe\uffff\ud800!") == "ok!"


def test_chapters_round_trip_and_follow_the_json_chapters_format() -> None:
    chapters = [Chapter(0.0, 2.5, "Intro"), Chapter(2.5, None, "Take “one”")]
    assert chapters_from_json(chapters_json(chapters)) == tuple(chapters)
    document = chapters_document(chapters, file_name="a.mp3")
    assert json.loads(document) == {
        "version": "1.2.0",
        "fileName": "a.mp3",
        "chapters": [
            {"startTime": 0.0, "endTime": 2.5, "title": "Intro"},
            {"startTime": 2.5, "title": "Take “one”"},
        ],
    }


def _channel(**overrides: object) -> FeedChannel:
    values: dict[str, object] = {
        "title": "T", "description_html": "<p>d</p>", "link": "https://x.example/",
        "feed_url": "https://x.example/feeds/t.xml", "language": "en", "author": "A",
        "owner_name": "O", "owner_email": "o@x.example", "category": "Kids & Family",
        "subcategory": "Parenting", "explicit": False, "show_type": "episodic",
        "copyright": None, "image_url": None, "podcast_guid": "g", "locked": True,
        "last_build_at": 0.0,
    }  # fmt: skip
    return FeedChannel(**{**values, **overrides})  # type: ignore[arg-type]


def _item(**overrides: object) -> FeedItem:
    values: dict[str, object] = {
        "guid": "u", "title": "E", "description_html": "", "published_at": 0.0,
        "enclosure_url": "https://x.example/a.mp3", "length_bytes": 10,
        "media_type": "audio/mpeg", "duration_s": 3.6, "season": None, "number": None,
        "episode_type": "full", "explicit": True, "chapters_url": None,
    }  # fmt: skip
    return FeedItem(**{**values, **overrides})  # type: ignore[arg-type]


def test_hostile_text_still_makes_a_well_formed_feed() -> None:
    nasty = 'Q&A <"quotes"> ]]> \x00\ufffe'
    xml = render_feed(
        _channel(title=nasty, description_html="<p>]]></p>", copyright=nasty),
        [_item(title=nasty, description_html="<p>a ]]> b</p>")],
    )
    etree.fromstring(xml)  # well-formed, or this raises
    parsed = feedparser.parse(xml)
    assert parsed.bozo == 0
    assert parsed.feed.title == 'Q&A <"quotes"> ]]>'
    assert parsed.entries[0].title == 'Q&A <"quotes"> ]]>'
    # Kids & Family is written once, escaped, as Apple asks.
    assert b'text="Kids &amp; Family"' in xml
    assert b"<itunes:duration>4</itunes:duration>" in xml

"""The API reference at ``/docs``: drawn in Chromium from the server's own ``/openapi.json``,
every operation shown, limits readable, the filter narrowing the list, nothing blocked by
the page's Content Security Policy."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import LiveServer
from tests.web_app.conftest import PHONE, SCREENSHOTS_ENV
from tests.web_app.contrast import AA_TEXT, measure

pytestmark = pytest.mark.browser

METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
OPERATIONS = "article.op"

# Recorded by the page itself, from before its first script runs.
_WATCH_CSP_JS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""

_FIRST_OF_EACH_CLASS_JS = """
(all) => {
  const seen = new Set();
  return all.flatMap((element, index) => {
    if (seen.has(element.className)) return [];
    seen.add(element.className);
    return [index];
  });
}
"""

# Each operation card as the page drew it, read in one call rather than one per element.
_CARDS_JS = """
(cards) => cards.map((card) => ({
  title: card.querySelector(".op__title")?.textContent.replace(/\\s+/g, " ").trim() ?? "",
  summary: card.querySelector(".op__summary")?.textContent ?? null,
  badges: card.querySelector(".op__badges")?.textContent.replace(/\\s+/g, " ") ?? "",
  statuses: [...card.querySelectorAll(".status")].map((element) => ({
    text: element.textContent, visible: element.checkVisibility(),
  })),
}))
"""

Schema = dict[str, Any]


@pytest.fixture
def spec(live_server: LiveServer) -> Schema:
    response = httpx.get(f"{live_server.base_url}/openapi.json")
    assert response.status_code == 200, response.text
    document: Schema = response.json()
    return document


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    errors: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", record)
    page.add_init_script(_WATCH_CSP_JS)
    yield errors


def operations(spec: Schema) -> list[tuple[str, str, Schema]]:
    return [
        (method, path, item[method])
        for path, item in spec["paths"].items()
        for method in METHODS
        if method in item
    ]


def resolve(spec: Schema, schema: Schema) -> Schema:
    while "$ref" in schema:
        target: Any = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    branches = schema.get("anyOf") or schema.get("oneOf") or []
    not_null = [b for b in branches if resolve(spec, b).get("type") != "null"]
    if len(not_null) == 1:  # "X or null", which the page shows as X, nullable
        return resolve(spec, not_null[0])
    return schema


def field_with_a_maximum(spec: Schema) -> tuple[str, str, str, float]:
    """(method, path, field, maximum) for a JSON request body's field, shallowest first."""
    for method, path, operation in operations(spec):
        body = resolve(spec, operation.get("requestBody", {}))
        media = body.get("content", {}).get("application/json")
        if media is None:
            continue
        level = [("", resolve(spec, media["schema"]))]
        while level:
            deeper = []
            for prefix, schema in level:
                for name, raw in schema.get("properties", {}).items():
                    prop = resolve(spec, raw)
                    if "maximum" in prop:
                        return method, path, f"{prefix}{name}", prop["maximum"]
                    if prop.get("type") == "array":
                        deeper.append((f"{prefix}{name}[].", resolve(spec, prop["items"])))
                    elif "properties" in prop:
                        deeper.append((f"{prefix}{name}.", prop))
            level = deeper
    raise AssertionError("no JSON request body has a field with a maximum")


def number(value: float) -> str:
    """As JavaScript prints it: 30.0 is "30"."""
    return str(int(value)) if float(value).is_integer() else str(value)


def searchable(method: str, path: str, operation: Schema) -> str:
    """What the filter matches against, as docs.js builds it."""
    fields = [operation.get(key) for key in ("summary", "description", "operationId")]
    return " ".join([method, path, *filter(None, fields), *operation.get("tags", [])]).lower()


def words(text: object) -> str:
    """``text`` with its whitespace collapsed, as Playwright compares text."""
    return " ".join(str(text).split())


def drawn_cards(page: Page) -> dict[str, Schema]:
    """Every operation card on the page by its heading ("POST /api/episodes"); a heading
    drawn twice fails here."""
    cards: list[Schema] = page.locator(OPERATIONS).evaluate_all(_CARDS_JS)
    titles = [card["title"] for card in cards]
    assert len(set(titles)) == len(titles), sorted(t for t in titles if titles.count(t) > 1)
    return {card["title"]: card for card in cards}


def operation_card(page: Page, method: str, path: str):  # type: ignore[no-untyped-def]
    heading = page.get_by_role("heading", name=f"{method.upper()} {path}", exact=True)
    return page.locator(OPERATIONS).filter(has=heading)


def save_top_of_page(page: Page, name: str) -> None:
    """Like ``save_screenshot``, but the first screenful: the whole reference is very long."""
    directory = os.environ.get(SCREENSHOTS_ENV)
    if directory:
        page.set_viewport_size({"width": 1280, "height": 1100})
        page.evaluate("window.scrollTo(0, 0)")
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / name))


def open_reference(page: Page, spec: Schema) -> None:
    response = page.goto("/docs")
    assert response is not None and response.ok
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    expect(page.locator(OPERATIONS)).to_have_count(len(operations(spec)))


def test_every_operation_of_the_real_document_is_shown(
    page: Page, spec: Schema, console_errors: list[str]
) -> None:
    open_reference(page, spec)

    expect(page.get_by_role("heading", level=1)).to_contain_text(spec["info"]["title"])
    expect(page.get_by_text(f"version {spec['info']['version']}")).to_be_visible()
    cards = drawn_cards(page)
    for method, path, operation in operations(spec):
        card = cards.get(f"{method.upper()} {path}")
        assert card is not None, f"{method.upper()} {path} is not shown"
        if operation.get("summary"):
            assert words(card["summary"]) == words(operation["summary"]), (method, path)
        for status in operation.get("responses", {}):
            shown = [each["visible"] for each in card["statuses"] if status in each["text"]]
            assert shown and shown[0], (method, path, status)
    # One jump link per operation.
    expect(page.locator(".jump__link")).to_have_count(len(operations(spec)))

    assert page.evaluate("window.__cspViolations") == []
    assert console_errors == []
    save_top_of_page(page, "api-docs.png")


def test_operations_say_whether_they_need_the_bearer_token(page: Page, spec: Schema) -> None:
    open_reference(page, spec)
    cards = drawn_cards(page)
    for method, path, operation in operations(spec):
        requirements = operation["security"] if "security" in operation else spec.get("security")
        # [] is public; a {} among the alternatives makes the token optional.
        needs_token = bool(requirements) and all(requirements or [])
        badges = cards[f"{method.upper()} {path}"]["badges"]
        assert (" required" in badges) == needs_token, (method, path, badges)


def test_a_request_body_field_shows_its_maximum(page: Page, spec: Schema) -> None:
    method, path, name, maximum = field_with_a_maximum(spec)
    open_reference(page, spec)
    card = operation_card(page, method, path)
    # Nested objects start folded; unfold them all.
    card.locator("details").evaluate_all("all => all.forEach((d) => { d.open = true; })")
    row = card.locator(f'tr[data-schema-path="{name}"]').first
    expect(row).to_be_visible()
    expect(row.locator(".field-limits")).to_contain_text(f"max {number(maximum)}")


def test_the_filter_narrows_the_list_and_says_so(page: Page, spec: Schema) -> None:
    open_reference(page, spec)
    every = len(operations(spec))
    expected = [
        (method, path)
        for method, path, operation in operations(spec)
        if "episode" in searchable(method, path, operation)
    ]
    assert 0 < len(expected) < every, "the filter test needs a word some operations lack"

    search = page.get_by_label("Filter operations")
    search.fill("episode")
    visible = page.locator(f"{OPERATIONS}:visible")
    expect(visible).to_have_count(len(expected))
    expect(page.get_by_role("status")).to_have_text(f"{len(expected)} of {every} operations match.")
    expect(page.locator(".jump__link:visible")).to_have_count(len(expected))

    search.fill("no-such-operation-anywhere")
    expect(visible).to_have_count(0)
    expect(page.get_by_text("No operation matches")).to_be_visible()

    search.fill("")
    expect(visible).to_have_count(every)


def test_document_text_is_never_parsed_as_html(page: Page, spec: Schema) -> None:
    open_reference(page, spec)
    # Whatever the document says, the page only holds the elements the renderer made.
    tags = page.locator("main *").evaluate_all("all => [...new Set(all.map((e) => e.localName))]")
    made = {
        "header", "p", "h1", "h2", "h3", "h4", "div", "section", "article", "span", "code",
        "ul", "li", "table", "caption", "thead", "tbody", "tr", "th", "td", "details",
        "summary", "pre", "a",
    }  # fmt: skip
    assert set(tags) <= made, set(tags) - made


def test_the_reference_reads_at_aa_contrast_and_fits_a_phone(page: Page, spec: Schema) -> None:
    open_reference(page, spec)
    page.locator("main details").evaluate_all("all => all.forEach((d) => { d.open = true; })")
    failures = []
    always = [
        ".method", ".chip", ".status", ".field-type", ".field-required", ".field-optional",
        ".jump__link", ".jump__tag", ".op__summary", ".hint", "summary", ".tag__title",
        ".eyebrow", ".media__type",
    ]  # fmt: skip
    for selector in [*always, ".field-in", "pre code", ".example-inline"]:
        found = page.locator(f"{selector}:visible")
        assert found.count() or selector not in always, selector
        # One of each variant (chip--auth, status--client, …), not all of the hundreds.
        firsts = found.evaluate_all(_FIRST_OF_EACH_CLASS_JS)
        for index in firsts:
            element = found.nth(index)
            measured = measure(element)
            if measured.ratio < AA_TEXT:
                failures.append(f"{selector} {element.inner_text()!r}: {measured.ratio:.2f}:1")
    assert not failures, "\n".join(failures)

    page.set_viewport_size({"width": PHONE["width"], "height": PHONE["height"]})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"

"""How the web app's files are served: pages, static files, cache and security headers."""

from __future__ import annotations

import re

import httpx

from podplus.web.pages import STATIC_DIR


async def test_the_pages_are_html_with_a_strict_content_security_policy(
    client: httpx.AsyncClient,
) -> None:
    for path, marker in [("/", "Get Started"), ("/studio", "Media library")]:
        response = await client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assert marker in response.text
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy
        assert "script-src 'self'" in policy
        assert response.headers["referrer-policy"] == "no-referrer"


async def test_static_files_revalidate_with_their_etag(client: httpx.AsyncClient) -> None:
    first = await client.get("/static/js/api.js")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/javascript")
    assert first.headers["cache-control"] == "no-cache"
    assert first.headers["x-content-type-options"] == "nosniff"

    again = await client.get("/static/js/api.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"
    assert again.content == b""


async def test_nothing_outside_the_static_directory_is_served(client: httpx.AsyncClient) -> None:
    for path in ["/static/../pages.py", "/static/%2e%2e/pages.py", "/static/missing.js"]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_the_app_loads_nothing_from_another_origin() -> None:
    # No CDN: every src, href and import is a path on this server.
    remote = re.compile(r"""(?:src|href)=["']?(?:https?:)?//|from\s+["'](?:https?:)?//""")
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in {".html", ".js", ".css"}:
            text = path.read_text()
            assert not remote.search(text), path
            assert "@import url(http" not in text, path

"""``/metrics`` stays the same size whatever strangers send: labels come from fixed sets."""

from __future__ import annotations

import random
import string

import httpx
import pytest
from starlette.routing import Route

from podplus.metrics import KNOWN_METHODS, request_labels

ROUNDS = 300
# Each scrape changes a few counters' digits; nothing else may grow.
SLACK_BYTES = 300


def made_up_method(rng: random.Random) -> str:
    while True:
        method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
        if method not in KNOWN_METHODS:  # three random letters do spell GET now and then
            return method


def made_up_path(rng: random.Random) -> str:
    """A random path of each kind a stranger can reach: no route at all, a route's template
    with a made-up id, and a real route with a method it doesn't take."""
    token = "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(1, 30)))
    return rng.choice([f"/{token}/{token[::-1]}", f"/api/jobs/{token}", "/api/users/me"])


async def exposition_bytes(client: httpx.AsyncClient) -> int:
    response = await client.get("/metrics")
    assert response.status_code == 200
    return len(response.content)


async def test_made_up_methods_and_paths_do_not_grow_the_exposition(
    client: httpx.AsyncClient,
) -> None:
    rng = random.Random(20261201)
    # One of each kind first: the series they need exist from then on.
    for path in ("/nothing/here", "/api/jobs/nope", "/api/users/me"):
        answer = await client.request(made_up_method(rng), path)
        assert answer.status_code in (404, 405)
    await exposition_bytes(client)
    after_one = await exposition_bytes(client)

    for _ in range(ROUNDS):
        answer = await client.request(made_up_method(rng), made_up_path(rng))
        assert answer.status_code in (404, 405)
    after_many = await exposition_bytes(client)

    assert abs(after_many - after_one) <= SLACK_BYTES, (after_one, after_many)
    text = (await client.get("/metrics")).text
    assert 'method="other"' in text and 'route="unmatched"' in text
    assert 'route="/api/jobs/{job_id}"' in text


@pytest.mark.parametrize(
    ("method", "status", "expected"),
    [
        ("GET", 200, ("/api/jobs/{job_id}", "GET", "200")),
        ("DELETE", 404, ("/api/jobs/{job_id}", "DELETE", "404")),
        ("BREW", 405, ("/api/jobs/{job_id}", "other", "405")),
        ("get", 200, ("/api/jobs/{job_id}", "other", "200")),
        ("GET", 799, ("/api/jobs/{job_id}", "GET", "other")),
    ],
)
def test_request_labels_come_from_fixed_sets(
    method: str, status: int, expected: tuple[str, str, str]
) -> None:
    route = Route("/api/jobs/{job_id}", lambda request: None)
    assert request_labels({"method": method, "route": route}, status) == expected


def test_a_request_no_route_matched_is_labelled_unmatched() -> None:
    assert request_labels({"method": "GET"}, 404) == ("unmatched", "GET", "404")

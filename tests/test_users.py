"""The account contract: sign-up, the OAuth2 password flow, /api/users/me, logout and a
new password — and what an attacker gets out of them: guesses throttled before they are
hashed, no way to lock an owner out, weak passwords refused, tokens that can be ended."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import jwt
import pytest

from podplus.app import create_app
from podplus.settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY, register

NEW_PASSWORD = "stapled horse battery correct"


@asynccontextmanager
async def served(settings: Settings, *addresses: str) -> AsyncIterator[list[httpx.AsyncClient]]:
    """One app, and a client for each address (``ASGITransport(client=...)``)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, client=(address, 5000)),
                base_url="http://testserver",
            )
            for address in addresses
        ]
        try:
            yield clients
        finally:
            for http in clients:
                await http.aclose()


async def log_in(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/auth/token", data={"username": email, "password": password})


def bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def user_rows(settings: Settings) -> list[Any]:
    with sqlite3.connect(settings.data_dir / "podplus.db") as db:
        return db.execute("select email, is_admin from users order by email").fetchall()


async def test_sign_up_returns_the_account_without_its_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users", json={"email": "Ada@Example.com", "password": PASSWORD, "name": "Ada"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "email", "name", "created_at"}
    assert body["email"] == "ada@example.com"
    assert body["name"] == "Ada"
    assert body["created_at"].endswith("Z")


async def test_an_email_is_taken_whatever_its_case(client: httpx.AsyncClient) -> None:
    await client.post("/api/users", json={"email": "ada@example.com", "password": PASSWORD})
    again = await client.post("/api/users", json={"email": "ADA@example.COM", "password": PASSWORD})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "conflict"


async def test_malformed_email_and_short_password_are_422_naming_the_field(
    client: httpx.AsyncClient,
) -> None:
    bad_email = await client.post(
        "/api/users", json={"email": "not-an-email", "password": PASSWORD}
    )
    assert bad_email.status_code == 422
    assert "email" in bad_email.json()["error"]["message"]
    short = await client.post("/api/users", json={"email": "a@example.com", "password": "1234567"})
    assert short.status_code == 422
    assert short.json()["error"]["message"] == "password: must be at least 8 characters"


async def test_a_body_that_is_not_json_is_a_json_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/users", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_password_flow_issues_a_bearer_token_for_me(client: httpx.AsyncClient) -> None:
    await client.post("/api/users", json={"email": "ada@example.com", "password": PASSWORD})
    response = await client.post(
        "/api/auth/token", data={"username": "ADA@example.com", "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await client.get(
        "/api/users/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    claims = jwt.decode(body["access_token"], TEST_SECRET_KEY, algorithms=["HS256"])
    assert {"sub", "jti", "iat", "exp"} <= set(claims)
    assert claims["exp"] - claims["iat"] == pytest.approx(3600)


async def test_wrong_password_and_unknown_email_get_the_same_401(client: httpx.AsyncClient) -> None:
    await register(client)
    wrong = await client.post(
        "/api/auth/token", data={"username": "ada@example.com", "password": "wrong password"}
    )
    unknown = await client.post(
        "/api/auth/token", data={"username": "nobody@example.com", "password": PASSWORD}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def _forged(claims: dict[str, object], key: str = TEST_SECRET_KEY, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg)


async def test_me_refuses_every_kind_of_bad_token(client: httpx.AsyncClient) -> None:
    headers = await register(client)
    me = (await client.get("/api/users/me", headers=headers)).json()
    now = int(time.time())
    good = {"sub": me["id"], "jti": "a-token", "iat": now, "exp": now + 60}
    unsigned = jwt.encode(good, None, algorithm="none")  # type: ignore[arg-type]
    cases = {
        "missing": {},
        "not a bearer": {"Authorization": "Basic YWRhOnB3"},
        "malformed": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {_forged({**good, 'exp': now - 10})}"},
        "other key": {"Authorization": f"Bearer {_forged(good, key='another-key-' * 4)}"},
        "other algorithm": {"Authorization": f"Bearer {_forged(good, alg='HS512')}"},
        "alg none": {"Authorization": f"Bearer {unsigned}"},
        "no exp": {"Authorization": f"Bearer {_forged({**good, 'exp': None})}"},
        "no jti": {"Authorization": f"Bearer {_forged({**good, 'jti': None})}"},
        "no sub": {"Authorization": f"Bearer {_forged({'iat': now, 'exp': now + 60})}"},
    }
    for name, case in cases.items():
        response = await client.get("/api/users/me", headers=case)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer", name
        assert response.json()["error"]["code"] == "unauthorized", name


async def test_ten_failures_for_an_account_from_an_address_delay_it_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    await register(client)
    for _ in range(10):
        failed = await log_in(client, "ada@example.com", "wrong password")
        assert failed.status_code == 401
    delayed = await log_in(client, "ada@example.com", PASSWORD)
    assert delayed.status_code == 429
    assert int(delayed.headers["retry-after"]) >= 1
    assert delayed.json()["error"]["code"] == "too_many_requests"


async def test_thirty_failures_from_one_address_delay_that_address(settings, client) -> None:  # type: ignore[no-untyped-def]
    for number in range(settings.login_address_max_failures):
        sprayed = await log_in(client, f"u{number}@example.com", "x" * 8)
        assert sprayed.status_code == 401
    sprayed = await log_in(client, "u99@example.com", "x" * 8)
    assert sprayed.status_code == 429


async def test_120_concurrent_wrong_passwords_get_no_more_401s_than_the_limit(
    settings: Settings,
) -> None:
    # A first delay far longer than the burst: every 401 past the limit would be the race.
    settings = replace(settings, login_first_delay_s=300)
    async with served(settings, "203.0.113.9") as (attacker,):
        await register(attacker)
        answers = await asyncio.gather(
            *(log_in(attacker, "ada@example.com", f"guess {n}") for n in range(120))
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == settings.login_max_failures
    assert statuses.count(429) == 120 - settings.login_max_failures
    assert all(
        int(answer.headers["retry-after"]) > 0 for answer in answers if answer.status_code == 429
    )


async def test_the_owner_logs_in_from_home_after_guessers_elsewhere_hit_every_limit(
    settings: Settings,
) -> None:
    settings = replace(settings, login_account_max_failures=20)
    guessers = [f"203.0.113.{n}" for n in range(3)]
    async with served(settings, "198.51.100.7", *guessers) as (owner, *attackers):
        await register(owner)
        for attacker in attackers:  # ten and more guesses from each: past every limit
            answers = [await log_in(attacker, "ada@example.com", "guess1234") for _ in range(11)]
            assert answers[-1].status_code == 429
        assert (await log_in(attackers[0], "ada@example.com", PASSWORD)).status_code == 429
        assert (await log_in(owner, "ada@example.com", PASSWORD)).status_code == 200


async def test_sign_ups_from_one_address_are_delayed_past_the_limit(settings: Settings) -> None:
    async with served(settings, "203.0.113.9", "198.51.100.7") as (farm, someone):
        for number in range(settings.signup_max_per_address):
            made = await farm.post(
                "/api/users", json={"email": f"bot{number}@example.com", "password": PASSWORD}
            )
            assert made.status_code == 201
        refused = await farm.post(
            "/api/users", json={"email": "bot99@example.com", "password": PASSWORD}
        )
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        made = await someone.post(
            "/api/users", json={"email": "someone@example.com", "password": PASSWORD}
        )
        assert made.status_code == 201
    emails = [email for email, _ in user_rows(settings)]
    assert "bot99@example.com" not in emails and len(emails) == 11


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("password", "This is a top-10 common password."),
        ("aaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
        (" " * 8, 'Repeats like "aaa" are easy to guess.'),
        ("lovelaceada", "Add another word or two."),
    ],
)
async def test_a_weak_password_is_refused_saying_why_and_nothing_is_stored(
    client: httpx.AsyncClient, settings: Settings, password: str, reason: str
) -> None:
    refused = await client.post(
        "/api/users",
        json={"email": "ada.lovelace@example.com", "password": password, "name": "Ada Lovelace"},
    )
    assert refused.status_code == 422
    message = refused.json()["error"]["message"]
    assert message.startswith(f"password: too easy to guess: {reason}")
    assert user_rows(settings) == []


async def test_logout_ends_this_token_only(client: httpx.AsyncClient) -> None:
    phone = await register(client)
    laptop = bearer(await log_in(client, "ada@example.com", PASSWORD))
    assert (await client.post("/api/auth/logout", headers=phone)).status_code == 204
    refused = await client.get("/api/users/me", headers=phone)
    assert refused.status_code == 401
    assert refused.json()["error"]["message"] == "The token has been revoked; log in again."
    assert (await client.get("/api/users/me", headers=laptop)).status_code == 200
    assert (await client.post("/api/auth/logout", headers=phone)).status_code == 401


async def test_logout_everywhere_ends_every_token_of_the_account(client: httpx.AsyncClient) -> None:
    phone = await register(client)
    laptop = bearer(await log_in(client, "ada@example.com", PASSWORD))
    other = await register(client, "bob@example.com")
    assert (await client.post("/api/auth/logout-all", headers=laptop)).status_code == 204
    for ended in (phone, laptop):
        assert (await client.get("/api/users/me", headers=ended)).status_code == 401
    assert (await client.get("/api/users/me", headers=other)).status_code == 200
    again = bearer(await log_in(client, "ada@example.com", PASSWORD))
    assert (await client.get("/api/users/me", headers=again)).status_code == 200


async def test_a_new_password_ends_every_earlier_token_and_answers_a_fresh_one(
    client: httpx.AsyncClient,
) -> None:
    phone = await register(client)
    laptop = bearer(await log_in(client, "ada@example.com", PASSWORD))
    changed = await client.post(
        "/api/users/me/password",
        headers=laptop,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert changed.status_code == 200
    assert changed.headers["cache-control"] == "no-store"
    for ended in (phone, laptop):
        assert (await client.get("/api/users/me", headers=ended)).status_code == 401
    assert (await client.get("/api/users/me", headers=bearer(changed))).status_code == 200
    assert (await log_in(client, "ada@example.com", PASSWORD)).status_code == 401
    assert (await log_in(client, "ada@example.com", NEW_PASSWORD)).status_code == 200


async def test_a_refused_password_change_changes_nothing(client: httpx.AsyncClient) -> None:
    auth = await register(client)
    wrong = await client.post(
        "/api/users/me/password",
        headers=auth,
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 403
    weak = await client.post(
        "/api/users/me/password",
        headers=auth,
        json={"current_password": PASSWORD, "new_password": "password1"},
    )
    assert weak.status_code == 422
    assert weak.json()["error"]["message"].startswith("new_password: too easy to guess: ")
    assert (await client.get("/api/users/me", headers=auth)).status_code == 200
    assert (await log_in(client, "ada@example.com", PASSWORD)).status_code == 200
    assert (await log_in(client, "ada@example.com", NEW_PASSWORD)).status_code == 401


async def test_signing_up_never_makes_an_admin(client: httpx.AsyncClient, settings) -> None:  # type: ignore[no-untyped-def]
    await register(client, "admin@example.com")
    assert user_rows(settings) == [("admin@example.com", 0)]


async def test_other_peoples_failures_do_not_touch_a_good_login(settings) -> None:  # type: ignore[no-untyped-def]
    from podplus.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        attacker = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("203.0.113.9", 5000)),
            base_url="http://testserver",
        )
        honest = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("198.51.100.7", 5000)),
            base_url="http://testserver",
        )
        await register(honest, "bob@example.com")
        for _ in range(12):
            await attacker.post(
                "/api/auth/token", data={"username": "eve@example.com", "password": "guess123"}
            )
        assert (
            await attacker.post(
                "/api/auth/token", data={"username": "eve@example.com", "password": "guess123"}
            )
        ).status_code == 429
        ok = await honest.post(
            "/api/auth/token", data={"username": "bob@example.com", "password": PASSWORD}
        )
        assert ok.status_code == 200
        await attacker.aclose()
        await honest.aclose()


async def test_twenty_logins_at_once_hash_in_the_pool_never_on_the_event_loop(
    settings: Settings,
) -> None:
    # A login in flight counts against the limits until it succeeds: twenty at once for one
    # account from one address need a limit of twenty.
    async with served(replace(settings, login_max_failures=20), "127.0.0.1") as (client,):
        await _twenty_logins_at_once(client)


async def _twenty_logins_at_once(client: httpx.AsyncClient) -> None:
    await register(client)
    hasher = client._transport.app.state.services.hasher  # type: ignore[attr-defined]
    argon2 = hasher._argon2
    threads: list[str] = []

    class Recording:
        # Argon2 itself, noting which thread each hash and verify runs on.
        def __getattr__(self, name: str) -> object:
            method = getattr(argon2, name)

            def call(*args: object) -> object:
                if name in ("hash", "verify"):  # the costly ones; the rest read a string
                    threads.append(threading.current_thread().name)
                return method(*args)

            return call

    hasher._argon2 = Recording()
    logins = [
        client.post("/api/auth/token", data={"username": "ada@example.com", "password": PASSWORD})
        for _ in range(20)
    ]
    answers = await asyncio.gather(*logins)
    assert all(answer.status_code == 200 for answer in answers)
    # ~25 ms of CPU each: on the loop, twenty would stall every other request ~0.5 s.
    assert len(threads) >= 20
    assert all(name.startswith("kdf") for name in threads), set(threads)


async def test_passwords_are_stored_as_argon2id(client: httpx.AsyncClient, settings) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    await register(client)
    stored = (
        sqlite3.connect(settings.data_dir / "podplus.db")
        .execute("select password_hash from users")
        .fetchone()[0]
    )
    assert stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored


async def test_logout_and_password_change_answer_only_what_the_document_lists(
    client: httpx.AsyncClient,
) -> None:
    # The fuzzer leaves these three alone (they would end its own token): checked here.
    document = (await client.get("/openapi.json")).json()
    auth = await register(client)
    answers: list[tuple[str, httpx.Response]] = []

    async def send(path: str, headers: dict[str, str], **body: Any) -> httpx.Response:
        answer = await client.post(path, headers=headers, **body)
        answers.append((path, answer))
        return answer

    password = "/api/users/me/password"
    await send(password, {**auth, "content-type": "application/json"}, content=b"{nope")
    await send(password, auth, json={"current_password": PASSWORD})
    await send(password, auth, json={"current_password": "wrong", "new_password": NEW_PASSWORD})
    await send(password, auth, json={"current_password": PASSWORD, "new_password": "password1"})
    fresh = bearer(
        await send(
            password, auth, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}
        )
    )
    await send(password, auth, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    await send("/api/auth/logout", auth)
    other = bearer(await log_in(client, "ada@example.com", NEW_PASSWORD))
    await send("/api/auth/logout", fresh)
    await send("/api/auth/logout-all", other)
    await send("/api/auth/logout-all", other)
    seen = set()
    for path, answer in answers:
        listed = document["paths"][path]["post"]["responses"]
        assert str(answer.status_code) in listed, (path, answer.status_code, answer.text)
        if answer.status_code >= 400:
            assert set(answer.json()) == {"error"}
        seen.add((path, answer.status_code))
    assert seen == {
        (password, 400),
        (password, 422),
        (password, 403),
        (password, 200),
        (password, 401),
        ("/api/auth/logout", 401),
        ("/api/auth/logout", 204),
        ("/api/auth/logout-all", 204),
        ("/api/auth/logout-all", 401),
    }

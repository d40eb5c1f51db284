"""The account contract: sign-up, the OAuth2 password flow, /api/users/me."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import jwt

from tests.conftest import PASSWORD, TEST_SECRET_KEY, register


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
    assert {"sub", "iat", "exp"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 3600


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
    good = {"sub": me["id"], "iat": now, "exp": now + 60}
    unsigned = jwt.encode(good, None, algorithm="none")  # type: ignore[arg-type]
    cases = {
        "missing": {},
        "not a bearer": {"Authorization": "Basic YWRhOnB3"},
        "malformed": {"Authorization": "Bearer not.a.jwt"},
        "expired": {"Authorization": f"Bearer {_forged({**good, 'exp': now - 10})}"},
        "other key": {"Authorization": f"Bearer {_forged(good, key='another-key-' * 4)}"},
        "other algorithm": {"Authorization": f"Bearer {_forged(good, alg='HS512')}"},
        "alg none": {"Authorization": f"Bearer {unsigned}"},
        "no exp": {"Authorization": f"Bearer {_forged({'sub': me['id'], 'iat': now})}"},
        "no sub": {"Authorization": f"Bearer {_forged({'iat': now, 'exp': now + 60})}"},
    }
    for name, case in cases.items():
        response = await client.get("/api/users/me", headers=case)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"] == "Bearer", name
        assert response.json()["error"]["code"] == "unauthorized", name


async def test_ten_failures_for_one_account_lock_it_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    await register(client)
    for _ in range(10):
        failed = await client.post(
            "/api/auth/token", data={"username": "ada@example.com", "password": "wrong password"}
        )
        assert failed.status_code == 401
    locked = await client.post(
        "/api/auth/token", data={"username": "ada@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert 0 < int(locked.headers["retry-after"]) <= 900
    assert locked.json()["error"]["code"] == "too_many_requests"


async def test_ten_failures_from_one_address_lock_that_address(settings, client) -> None:  # type: ignore[no-untyped-def]
    for number in range(10):
        await client.post(
            "/api/auth/token", data={"username": f"u{number}@example.com", "password": "x" * 8}
        )
    sprayed = await client.post(
        "/api/auth/token", data={"username": "u99@example.com", "password": "x" * 8}
    )
    assert sprayed.status_code == 429


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
    client: httpx.AsyncClient,
) -> None:
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

"""Fixtures for the webhook tests: an in-process app with a DNS the test controls, and
helpers that wait on the delivery log (by state, never by time)."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

import httpx
import pytest

from podplus.app import create_app
from podplus.security.targets import Resolver, system_resolver
from podplus.settings import Settings
from tests.conftest import register
from tests.jobs.conftest import stand_in_command

# An address on the public Internet; nothing in these tests connects to it.
PUBLIC_ADDRESS = "93.184.215.14"


class FakeDNS:
    """A resolver the test controls: host → addresses, changeable at any moment (the
    rebinding an attacker's DNS server would do). Unknown names don't resolve."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return list(self.answers[host])


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    """Receivers on 127.0.0.1 allowed, retries and polling quick, the stand-in engine."""
    return replace(
        settings,
        webhooks_allow_private=True,
        webhook_retry_base_s=0.05,
        webhook_poll_interval_s=0.05,
        webhook_timeout_s=10.0,
        engine_command=stand_in_command("ok"),
    )


Client = tuple[httpx.AsyncClient, dict[str, str]]


@asynccontextmanager
async def serving(
    settings: Settings, resolver: Resolver = system_resolver, *, account: bool = True
) -> AsyncIterator[Client]:
    """The app in this process, lifespan (runner and deliverer) included, and (unless
    ``account`` is false) a new account's Authorization header."""
    app = create_app(settings, resolver=resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client, (await register(client) if account else {})


async def create_hook(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    url: str,
    events: list[str] | None = None,
) -> dict[str, Any]:
    response = await client.post(
        "/api/webhooks", headers=auth, json={"url": url, "events": events or ["job.succeeded"]}
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def deliveries(
    client: httpx.AsyncClient, auth: dict[str, str], webhook_id: str
) -> list[dict[str, Any]]:
    response = await client.get(f"/api/webhooks/{webhook_id}/deliveries", headers=auth)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


async def wait_for_log(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    webhook_id: str,
    until: Callable[[list[dict[str, Any]]], bool],
    timeout_s: float = 30,
) -> list[dict[str, Any]]:
    """The delivery log once ``until`` holds for it (the deadline only stops a hung test)."""
    deadline = time.monotonic() + timeout_s
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        items = await deliveries(client, auth, webhook_id)
        if until(items):
            return items
        await asyncio.sleep(0.02)
    raise AssertionError(f"the delivery log never got there: {items}")


async def wait_until(condition: Callable[[], bool], timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        await asyncio.sleep(0.02)


def rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    database = sqlite3.connect(settings.database_url.removeprefix("sqlite:///"))
    try:
        return database.execute(sql).fetchall()
    finally:
        database.close()

"""Accounts against real ``podplus serve`` processes: whose address the throttle counts
behind (or without) a proxy, two servers sharing one database, and admin rights and
logouts made in one process seen by another."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from podplus.errors import SettingsError
from podplus.settings import Settings
from tests.conftest import PASSWORD, TEST_SECRET_KEY, LiveServer
from tests.test_end_to_end import login

pytestmark = pytest.mark.slow

# Long enough that nothing a test does outlasts the first delay: a 401 past a limit is a bug.
NO_SECOND_CHANCE = {"PODPLUS_LOGIN_FIRST_DELAY_S": "600"}


def podplus(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "podplus", *args],
        env={
            **os.environ,
            "PODPLUS_DATA_DIR": str(data_dir),
            "PODPLUS_SECRET_KEY": TEST_SECRET_KEY,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )


def guess(server: LiveServer, email: str, *, forwarded_for: str) -> int:
    return httpx.post(
        f"{server.base_url}/api/auth/token",
        data={"username": email, "password": "guess1234"},
        headers={"X-Forwarded-For": forwarded_for},
    ).status_code


def test_the_retired_admin_emails_setting_stops_the_server_saying_what_to_do(
    tmp_path: Path,
) -> None:
    answer = podplus(tmp_path, "serve", PODPLUS_ADMIN_EMAILS="boss@example.com")
    assert answer.returncode == 2
    assert "PODPLUS_ADMIN_EMAILS" in answer.stderr
    assert "podplus user admin EMAIL" in answer.stderr
    assert not (tmp_path / "podplus.db").exists()


def test_trusted_proxies_are_addresses_or_networks_and_none_by_default() -> None:
    assert Settings.from_env({}).forwarded_allow_ips == ()
    allowed = Settings.from_env({"PODPLUS_FORWARDED_ALLOW_IPS": "10.0.0.0/8, ::1"})
    assert allowed.forwarded_allow_ips == ("10.0.0.0/8", "::1")
    with pytest.raises(SettingsError, match="PODPLUS_FORWARDED_ALLOW_IPS"):
        Settings.from_env({"PODPLUS_FORWARDED_ALLOW_IPS": "proxy.example.com"})


def test_rotating_x_forwarded_for_does_not_escape_the_per_address_limit(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(PODPLUS_LOGIN_ADDRESS_MAX_FAILURES="5", **NO_SECOND_CHANCE).start()
    answers = [
        guess(server, f"user{n}@example.com", forwarded_for=f"198.51.100.{n}") for n in range(8)
    ]
    # No proxy is named: the header is ignored, and every guess came from 127.0.0.1.
    assert answers == [401] * 5 + [429] * 3


def test_a_proxy_named_in_the_setting_is_believed(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(
        PODPLUS_LOGIN_ADDRESS_MAX_FAILURES="5",
        PODPLUS_FORWARDED_ALLOW_IPS="127.0.0.1",
        **NO_SECOND_CHANCE,
    ).start()
    rotating = [
        guess(server, f"user{n}@example.com", forwarded_for=f"198.51.100.{n}") for n in range(8)
    ]
    assert rotating == [401] * 8  # eight clients behind the proxy, one guess each
    one_client = [
        guess(server, f"user{n}@example.com", forwarded_for="203.0.113.9") for n in range(8)
    ]
    assert one_client == [401] * 5 + [429] * 3


async def test_two_servers_on_one_database_let_no_more_guesses_through_than_the_limit(
    live_server_factory: Callable[..., LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("shared")
    servers = [
        live_server_factory(data_dir, PODPLUS_RUN_JOBS=str(n == 0).lower(), **NO_SECOND_CHANCE)
        for n in range(2)
    ]
    for server in servers:
        server.start()
    await asyncio.to_thread(login, servers[0].base_url)
    limits = httpx.Limits(max_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{servers[n % 2].base_url}/api/auth/token",
                    data={"username": "ada@example.com", "password": f"guess {n}"},
                )
                for n in range(120)
            )
        )
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(401) == 10  # PODPLUS_LOGIN_MAX_FAILURES
    assert statuses.count(429) == 110


def test_a_logout_on_one_server_is_refused_by_the_other_on_its_next_request(
    live_server_factory: Callable[..., LiveServer], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("shared")
    first, second = (
        live_server_factory(data_dir, PODPLUS_RUN_JOBS="false").start() for _ in range(2)
    )
    auth = login(first.base_url)
    assert httpx.get(f"{second.base_url}/api/users/me", headers=auth).status_code == 200
    assert httpx.post(f"{first.base_url}/api/auth/logout", headers=auth).status_code == 204
    assert httpx.get(f"{first.base_url}/api/users/me", headers=auth).status_code == 401
    assert httpx.get(f"{second.base_url}/api/users/me", headers=auth).status_code == 401


def test_admin_rights_come_and_go_on_the_command_line_for_a_running_server(
    live_server_factory: Callable[..., LiveServer],
) -> None:
    server = live_server_factory(PODPLUS_RUN_JOBS="false").start()
    created = subprocess.run(
        [sys.executable, "-m", "podplus", "user", "create", "boss@example.com", "--admin"]
        + ["--password-stdin"],
        input=PASSWORD + "\n",
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    token = httpx.post(
        f"{server.base_url}/api/auth/token",
        data={"username": "boss@example.com", "password": PASSWORD},
    )
    boss = {"Authorization": f"Bearer {token.json()['access_token']}"}
    processes = f"{server.base_url}/api/admin/processes"
    assert httpx.get(processes, headers=boss).status_code == 200
    revoked = podplus(server.data_dir, "user", "admin", "boss@example.com", "--revoke")
    assert revoked.returncode == 0, revoked.stderr
    assert httpx.get(processes, headers=boss).status_code == 403


def test_the_command_line_refuses_a_weak_password_saying_why(tmp_path: Path) -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "podplus", "user", "create", "ada@example.com"]
        + ["--password-stdin"],
        input="password\n",
        env={
            **os.environ,
            "PODPLUS_DATA_DIR": str(tmp_path),
            "PODPLUS_SECRET_KEY": TEST_SECRET_KEY,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 1
    assert answer.stderr.startswith("podplus: password: too easy to guess: ")

"""With its PostgreSQL server down, a real ``podplus serve`` answers every request with a
503 ``database_unavailable`` and a ``Retry-After`` (never a 500 or a dropped connection),
and serves again, unrestarted, once the server is back."""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, LiveServer, free_port

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@dataclass
class OwnPostgres:
    """A PostgreSQL server of this module's own, stopped and started by the tests."""

    root: Path
    port: int
    url: str

    def _pg_ctl(self, *args: str) -> None:
        binary = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))[-1]
        command = [str(binary), "-D", str(self.root / "data"), *args]
        if os.getuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._pg_ctl("-l", str(self.root / "server.log"), "-w", "-o", options, "start")


@pytest.fixture(scope="module")
def postgres() -> Iterator[OwnPostgres]:
    # Not under pytest's temporary folder: the server runs as the postgres user, who can't
    # enter root's 0700 folders.
    root = Path(tempfile.mkdtemp(prefix="podplus-outage-pg."))
    env = {**os.environ, "PODPLUS_TEST_PG_DIR": str(root), "PODPLUS_TEST_PG_PORT": str(free_port())}
    url = subprocess.run(
        [str(SCRIPTS / "postgres.sh"), "start"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield OwnPostgres(root=root, port=int(env["PODPLUS_TEST_PG_PORT"]), url=url)
    finally:
        subprocess.run([str(SCRIPTS / "postgres.sh"), "stop"], env=env, check=False)


@pytest.fixture(scope="module")
def server(
    postgres: OwnPostgres, module_live_server_factory: Callable[..., LiveServer]
) -> LiveServer:
    return module_live_server_factory(
        PODPLUS_DATABASE_URL=postgres.url, PODPLUS_RUN_JOBS="false"
    ).start(timeout_s=60)


def test_every_request_is_503_while_the_database_is_down_and_works_once_it_is_back(
    postgres: OwnPostgres, server: LiveServer
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        assert http.post("/api/users", json={"email": "o@example.com", "password": PASSWORD})
        token = http.post(
            "/api/auth/token", data={"username": "o@example.com", "password": PASSWORD}
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert http.get("/api/users/me", headers=auth).status_code == 200

        postgres.stop()
        try:
            answers = {
                "me": http.get("/api/users/me", headers=auth),
                "jobs": http.get("/api/jobs", headers=auth),
                "episodes": http.get("/api/episodes", headers=auth),
                "login": http.post(
                    "/api/auth/token", data={"username": "o@example.com", "password": PASSWORD}
                ),
                "health": http.get("/healthz"),
            }
        finally:
            postgres.start()

        for name, answer in answers.items():
            assert answer.status_code == 503, (name, answer.text)
            assert answer.json()["error"]["code"] == "database_unavailable", name
            assert "postgres" not in answer.text.lower(), name  # no driver or address leaks
        assert all(
            answer.headers["retry-after"].isdigit()
            for name, answer in answers.items()
            if name != "health"
        )

        # Back without a restart: the pool reconnects on the next requests.
        deadline = time.monotonic() + 30
        while http.get("/api/users/me", headers=auth).status_code != 200:
            assert time.monotonic() < deadline, server.log[-3000:]
            time.sleep(0.2)

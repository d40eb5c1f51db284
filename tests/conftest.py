"""Fixtures shared by the whole suite: settings on a throw-away directory, an in-process
client, and real ``podplus serve`` processes for end-to-end and crash tests."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from podplus.app import create_app
from podplus.ids import new_id
from podplus.settings import Settings
from tests.terminal_summary import TerminalSummaries

POSTGRES_URL_VARIABLE = "PODPLUS_TEST_POSTGRES_URL"
TEST_SECRET_KEY = "test-secret-key-" + "0123456789abcdef" * 4
PASSWORD = "correct horse battery"


def pytest_configure(config: pytest.Config) -> None:
    # Tests' end-of-run lines (the schemathesis summary), printed by the process that prints.
    config.pluginmanager.register(TerminalSummaries(), "podplus-terminal-summaries")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind podplus supports: a SQLite file, and one on the
    real PostgreSQL server that ``scripts/test.sh`` starts (its URL in the environment)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'podplus.db'}"
        return
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: run the suite with `make test`")
    name = f"podplus_test_{new_id()[:12]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'podplus.db'}",
        media_root=tmp_path / "media",
        scratch_dir=tmp_path / "scratch",
        secret_key=TEST_SECRET_KEY,
        kdf_workers=2,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to ``create_app(settings)`` in this process, lifespan included."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


async def register(
    http: httpx.AsyncClient, email: str = "ada@example.com", password: str = PASSWORD
) -> dict[str, str]:
    """Create an account, log in, and return the Authorization header for it."""
    created = await http.post("/api/users", json={"email": email, "password": password})
    assert created.status_code == 201, created.text
    token = await http.post("/api/auth/token", data={"username": email, "password": password})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


@pytest.fixture
async def auth(client: httpx.AsyncClient) -> dict[str, str]:
    return await register(client)


@dataclass
class LiveServer:
    """A real ``podplus serve`` process (uvicorn) on a free port."""

    data_dir: Path
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log_handles: list[object] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def start(self, *, timeout_s: float = 20.0) -> LiveServer:
        handle = self.log_path.open("ab")
        self._log_handles.append(handle)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "podplus", "serve"],
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}:\n{self.log}")
            try:
                if httpx.get(f"{self.base_url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not answer /healthz in {timeout_s}s:\n{self.log}")

    def stop(self, *, timeout_s: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def kill_hard(self) -> None:
        """``kill -9`` the server alone, as an OOM killer or a crash would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def close(self) -> None:
        self.stop()
        for handle in self._log_handles:
            handle.close()  # type: ignore[attr-defined]


@pytest.fixture
def live_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LiveServer]]:
    """Make (not start) real servers; each gets its own data directory unless one is given."""
    yield from _live_servers(tmp_path_factory)


@pytest.fixture(scope="module")
def module_live_server_factory(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., LiveServer]]:
    """``live_server_factory`` for servers a whole module shares: for tests that each sign up
    an account of their own, so that no test sees what another made."""
    yield from _live_servers(tmp_path_factory)


def _live_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., LiveServer]]:
    made: list[LiveServer] = []

    def make(data_dir: Path | None = None, **env: str) -> LiveServer:
        data_dir = data_dir or tmp_path_factory.mktemp("server")
        port = free_port()
        server_env = {
            **os.environ,
            "PODPLUS_DATA_DIR": str(data_dir),
            "PODPLUS_PORT": str(port),
            "PODPLUS_SECRET_KEY": TEST_SECRET_KEY,
            **env,
        }
        server = LiveServer(data_dir, port, server_env, data_dir / "server.log")
        made.append(server)
        return server

    yield make
    for server in made:
        server.close()


@pytest.fixture
def live_server(live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_server_factory().start()


@dataclass(frozen=True)
class S3Server:
    """The S3 server ``scripts/test.sh`` starts (``scripts/weed.sh``), and its one identity."""

    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str


@pytest.fixture(scope="session")
def s3_server() -> S3Server:
    endpoint = os.environ.get("PODPLUS_TEST_S3_ENDPOINT")
    if not endpoint:
        pytest.fail("PODPLUS_TEST_S3_ENDPOINT is not set: run the suite with `make test`")
    return S3Server(
        endpoint=endpoint,
        bucket=os.environ.get("PODPLUS_TEST_S3_BUCKET", "podplus-test"),
        access_key_id=os.environ.get("PODPLUS_TEST_S3_ACCESS_KEY_ID", ""),
        secret_access_key=os.environ.get("PODPLUS_TEST_S3_SECRET_ACCESS_KEY", ""),
    )


@pytest.fixture
def s3_settings(settings: Settings, s3_server: S3Server) -> Settings:
    """``settings`` with media in the test S3 server, under a prefix of this test's own."""
    return dataclasses.replace(
        settings,
        storage_url=f"s3://{s3_server.bucket}/test-{new_id()[:16]}",
        s3_endpoint=s3_server.endpoint,
        s3_access_key_id=s3_server.access_key_id,
        s3_secret_access_key=s3_server.secret_access_key,
        s3_timeout_s=5.0,
    )

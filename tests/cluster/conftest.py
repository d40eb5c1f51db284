"""The scaled-out shape, started by ``scripts/cluster.py`` (what ``make cluster`` runs): a
database of its own on the suite's PostgreSQL, a ``weed mini`` of its own, two API
processes that run no jobs and two workers, all real. One cluster per test module."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import PASSWORD, POSTGRES_URL_VARIABLE
from tests.media_files import tone

REPO_DIR = Path(__file__).resolve().parents[2]
HELD_ENGINE = Path(__file__).with_name("held_engine.py")
FINISHED = ("succeeded", "failed", "cancelled")


def _load_cluster_module() -> Any:
    path = REPO_DIR / "scripts" / "cluster.py"
    spec = importlib.util.spec_from_file_location("podplus_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


cluster_script = _load_cluster_module()
Cluster = cluster_script.Cluster


@contextmanager
def running_cluster(root: Path, **env: str) -> Iterator[Any]:
    """A started cluster whose engines are ``held_engine.py`` (the real engine, held on
    request), with ``env`` added; on the way out, stopped, and nothing of it left running."""
    starts = root / "engine-starts.jsonl"
    engine = f"{sys.executable} {HELD_ENGINE} --starts {starts}"
    server_url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not server_url:
        pytest.fail(f"{POSTGRES_URL_VARIABLE} is not set: run the suite with scripts/test.sh")
    cluster = Cluster(
        root,
        postgres_url=server_url,
        env={
            "PODPLUS_ENGINE_COMMAND": engine,
            "PODPLUS_WORKER_HEARTBEAT_S": "1",
            "PODPLUS_WORKER_STALL_S": "4",
            **env,
        },
    )
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
    assert cluster.leftovers() == []


def engine_starts(cluster: Any, title: str) -> list[dict[str, Any]]:
    """The engine starts of the episode called ``title``, oldest first."""
    path = cluster.root / "engine-starts.jsonl"
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [line for line in lines if line["title"] == title]


def job_row(cluster: Any, job_id: str) -> dict[str, Any]:
    """The job's row as the database has it (which worker holds it, why it failed)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(cluster.database_url, row_factory=dict_row) as connection:
        found = connection.execute("SELECT * FROM jobs WHERE id = %s", (job_id,)).fetchone()
    assert found is not None, f"no job {job_id}"
    return dict(found)


def wait_until(what: str, check: Callable[[], Any], *, timeout_s: float = 60.0) -> Any:
    """Poll ``check`` until it returns something true; a generous deadline, not a timing."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Studio:
    """One account, used through every API of the cluster with the same token."""

    clients: list[httpx.Client]
    audio_dir: Path
    made: list[str] = field(default_factory=list)

    @classmethod
    def sign_up(cls, cluster: Any, audio_dir: Path) -> Studio:
        clients = [httpx.Client(base_url=url, timeout=30.0) for url in cluster.api_urls]
        email = f"studio-{time.monotonic_ns()}@example.com"
        first = clients[0]
        created = first.post("/api/users", json={"email": email, "password": PASSWORD})
        assert created.status_code == 201, created.text
        token = first.post("/api/auth/token", data={"username": email, "password": PASSWORD})
        assert token.status_code == 200, token.text
        for client in clients:
            client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        return cls(clients, audio_dir)

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def upload(self, *, seconds: float = 3.0, frequency_hz: int = 440, api: int = 0) -> str:
        clip = tone(
            self.audio_dir / f"clip-{time.monotonic_ns()}.wav",
            seconds=seconds,
            frequency_hz=frequency_hz,
        )
        with clip.open("rb") as handle:
            answer = self.clients[api].post(
                "/api/media", files={"file": (clip.name, handle, "audio/wav")}
            )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def episode(self, title: str, media_ids: list[str], *, api: int = 0) -> str:
        body = {"title": title, "segments": [{"media_id": m} for m in media_ids]}
        answer = self.clients[api].post("/api/episodes", json=body)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    def assemble(self, episode_id: str, *, api: int = 0) -> str:
        answer = self.clients[api].post(f"/api/episodes/{episode_id}/assemble")
        assert answer.status_code == 202, answer.text
        return str(answer.json()["job_id"])

    def job(self, job_id: str, *, api: int = 1) -> dict[str, Any]:
        answer = self.clients[api].get(f"/api/jobs/{job_id}")
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    def finished_job(self, job_id: str, *, timeout_s: float = 120.0) -> dict[str, Any]:
        return dict(
            wait_until(
                f"job {job_id} to finish",
                lambda: (job := self.job(job_id))["status"] in FINISHED and job,
                timeout_s=timeout_s,
            )
        )


@pytest.fixture
def studio(cluster: Any, tmp_path: Path) -> Iterator[Studio]:
    """A new account on the module's ``cluster`` (each module starts its own)."""
    made = Studio.sign_up(cluster, tmp_path)
    yield made
    made.close()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie waiting for a busy init to reap it does not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

"""The three servers ``bench.py`` compares, behind one small interface.

A target knows how to start its server, authenticate, get ready to assemble the
benchmark episode, dispatch an assembly, and say how far a job has got. podplus speaks
its real API; the baselines speak the small ``/jobs`` API in ``servers.baseline``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from harness.accounts import register
from harness.audio import EpisodeFiles
from harness.processes import REPO_DIR, ServerProcess, free_port

PODPLUS_SECRET_KEY = "benchmark-secret-key-long-enough-for-hs256-signing"
FINISHED = {"succeeded", "failed", "cancelled", "finished"}


@dataclass(frozen=True)
class Dispatched:
    job_id: str
    latency_ms: float


@dataclass(frozen=True)
class JobState:
    status: str
    progress: float
    error: str | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class Target(Protocol):
    name: str
    server: ServerProcess
    me_url: str
    headers: dict[str, str]

    def authenticate(self) -> None: ...
    def prepare(self, files: EpisodeFiles, *, jobs: int) -> None: ...
    def dispatch(self, index: int) -> Dispatched: ...
    def job(self, job_id: str) -> JobState: ...
    def close(self) -> None: ...


def _timed_post(http: httpx.Client, url: str, **kwargs: object) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = http.post(url, **kwargs)  # type: ignore[arg-type]
    return response, (time.perf_counter() - started) * 1e3


class PodplusTarget:
    """``podplus serve``: uploads the files, makes one episode per assembly, and can probe
    dispatch latency with a small episode whose jobs it cancels while they are queued."""

    name = "podplus"

    def __init__(self, data_dir: Path, *, command: list[str] | None = None) -> None:
        port = free_port()
        self.server = ServerProcess(
            "podplus",
            command or [sys.executable, "-m", "podplus", "serve"],
            port=port,
            log_path=data_dir / "server.log",
            cwd=REPO_DIR,
            env={
                "PODPLUS_DATA_DIR": str(data_dir),
                "PODPLUS_PORT": str(port),
                "PODPLUS_SECRET_KEY": PODPLUS_SECRET_KEY,
                "PODPLUS_LOG_LEVEL": "warning",
                # Two running, the rest queued: dispatch probes never start an engine.
                "PODPLUS_MAX_CONCURRENT_ASSEMBLIES": "2",
            },
        )
        self.me_url = self.server.base_url + "/api/users/me"
        self.headers: dict[str, str] = {}
        self._http: httpx.Client | None = None
        self._episodes: list[str] = []
        self._probe_episode: str | None = None

    @property
    def http(self) -> httpx.Client:
        assert self._http is not None, "authenticate() first"
        return self._http

    def authenticate(self) -> None:
        account = register(self.server.base_url)
        self.headers = account.headers
        self._http = httpx.Client(base_url=self.server.base_url, headers=self.headers, timeout=60)

    def _upload(self, path: Path, kind: str) -> str:
        with path.open("rb") as handle:
            response = self.http.post(
                "/api/media",
                data={"kind": kind},
                files={"file": (path.name, handle, "audio/wav")},
                timeout=600,
            )
        if response.status_code != 201:
            raise RuntimeError(f"upload of {path.name}: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def prepare(self, files: EpisodeFiles, *, jobs: int) -> None:
        segments = [self._upload(path, "content") for path in files.segments]
        intro, outro = self._upload(files.intro, "intro"), self._upload(files.outro, "outro")
        bed = self._upload(files.bed, "music")
        body = {
            "segments": [{"media_id": media_id} for media_id in segments],
            "intro_id": intro,
            "outro_id": outro,
            "music_bed": {"media_id": bed, "duck": True},
            "output": {"format": "mp3", "bitrate_kbps": 128},
        }
        for index in range(jobs):
            self._episodes.append(self._episode({**body, "title": f"Benchmark {index + 1}"}))
        self._probe_episode = self._episode(
            {"title": "Dispatch probe", "segments": [{"media_id": intro}]}
        )

    def _episode(self, body: dict[str, object]) -> str:
        response = self.http.post("/api/episodes", json=body)
        if response.status_code != 201:
            raise RuntimeError(f"POST /api/episodes: {response.status_code} {response.text}")
        return str(response.json()["id"])

    def dispatch(self, index: int) -> Dispatched:
        response, latency_ms = _timed_post(
            self.http, f"/api/episodes/{self._episodes[index]}/assemble"
        )
        if response.status_code != 202:
            raise RuntimeError(f"assemble: {response.status_code} {response.text}")
        return Dispatched(str(response.json()["job_id"]), latency_ms)

    def probe_dispatch(self) -> float:
        """Dispatch the probe episode and cancel the job at once; return the dispatch time."""
        assert self._probe_episode is not None
        response, latency_ms = _timed_post(
            self.http, f"/api/episodes/{self._probe_episode}/assemble"
        )
        if response.status_code != 202:
            raise RuntimeError(f"probe assemble: {response.status_code} {response.text}")
        self.http.post(f"/api/jobs/{response.json()['job_id']}/cancel")
        return latency_ms

    def job(self, job_id: str) -> JobState:
        data = self.http.get(f"/api/jobs/{job_id}").json()
        return JobState(str(data["status"]), float(data.get("progress") or 0.0), data.get("error"))

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        self.server.stop()


class BaselineTarget:
    """One of ``servers.thread_baseline`` / ``servers.process_baseline``."""

    def __init__(self, module: str, name: str, data_dir: Path) -> None:
        port = free_port()
        self.name = name
        self.server = ServerProcess(
            name,
            [sys.executable, "-m", module, "--port", str(port), "--data-dir", str(data_dir)],
            port=port,
            log_path=data_dir / "server.log",
        )
        self.me_url = self.server.base_url + "/me"
        self.headers: dict[str, str] = {}
        self._http = httpx.Client(base_url=self.server.base_url, timeout=120)
        self._body: dict[str, object] = {}

    def authenticate(self) -> None:
        token = self._http.post("/token").json()["access_token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        self._http.get("/me", headers=self.headers).raise_for_status()

    def prepare(self, files: EpisodeFiles, *, jobs: int) -> None:
        # The same audio podplus assembles: intro, segments and outro, bed under all.
        parts = [files.intro, *files.segments, files.outro]
        self._body = {"segments": [str(path) for path in parts], "music_bed": str(files.bed)}

    def dispatch(self, index: int) -> Dispatched:
        response, latency_ms = _timed_post(self._http, "/jobs", json=self._body)
        response.raise_for_status()
        return Dispatched(str(response.json()["job_id"]), latency_ms)

    def job(self, job_id: str) -> JobState:
        data = self._http.get(f"/jobs/{job_id}").json()
        return JobState(str(data["status"]), float(data["progress"]))

    def close(self) -> None:
        self._http.close()
        self.server.stop(grace_s=3.0)


def make_target(name: str, data_dir: Path, *, podplus_command: list[str] | None = None) -> Target:
    data_dir.mkdir(parents=True, exist_ok=True)
    if name == "podplus":
        return PodplusTarget(data_dir, command=podplus_command)
    if name == "thread":
        return BaselineTarget("servers.thread_baseline", "thread baseline", data_dir)
    if name == "process":
        return BaselineTarget("servers.process_baseline", "process baseline", data_dir)
    raise ValueError(f"unknown target {name!r}")

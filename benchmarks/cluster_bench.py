"""The scaled-out shape against the embedded one, measured in the same run.

    .venv/bin/python benchmarks/cluster_bench.py [--dispatch-jobs 10] [--mix 2] [--crashes 2]

The cluster is ``scripts/cluster.py``'s (PostgreSQL, ``weed mini``, two APIs that run no
jobs, two workers, one assembly at a time each); the embedded mode is one ``podplus
serve`` on SQLite with one assembly at a time. It measures:

- dispatch: a 1-second episode at a time on idle workers, from the moment the assemble
  request is sent to the job row's ``started_at`` (running) and to the engine process's
  start (``processes.started_at``, its kernel start time); p50 and p99;
- throughput: the same episode mix queued at once, jobs per hour with one worker and with
  two (the second worker stopped for the first run), and in the embedded mode;
- crash recovery: ``kill -9`` of the worker running a job, to the job's engine running on
  the other worker; in the embedded mode, a ``kill -9`` of the server recovers only when
  it is started again, so its figure includes that restart.

Writes ``benchmarks/results/cluster.md`` and prints it. Every process shares this
machine's cores: two workers here measure the carrier and its parallelism, not a second
machine's CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from harness.processes import BENCH_DIR, REPO_DIR
from harness.report import machine, ratio, table

RESULTS = BENCH_DIR / "results" / "cluster.md"
PASSWORD = "cluster bench password"
# The mix every throughput run assembles, repeated ``--mix`` times: (parts, seconds each).
DISPATCHED = "event=tasks.assemble.dispatched "
MIX = [(1, 20.0), (2, 10.0), (3, 6.0)]


def _cluster_module() -> Any:
    path = REPO_DIR / "scripts" / "cluster.py"
    spec = importlib.util.spec_from_file_location("podplus_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


cluster_script = _cluster_module()


# -- what every mode offers the measurements --------------------------------------------


@dataclass
class Target:
    """One podplus deployment seen from outside: its APIs, its database, its job runners."""

    name: str
    api_url: str
    database_url: str
    # Where the processes that run jobs log (their ``tasks.assemble.dispatched`` lines).
    logs: list[Path]
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.api_url, timeout=120.0)

    def sign_up(self) -> None:
        email = f"bench-{secrets.token_hex(4)}@example.com"
        created = self.http.post("/api/users", json={"email": email, "password": PASSWORD})
        created.raise_for_status()
        token = self.http.post("/api/auth/token", data={"username": email, "password": PASSWORD})
        token.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def upload(self, path: Path) -> str:
        with path.open("rb") as handle:
            answer = self.http.post("/api/media", files={"file": (path.name, handle, "audio/wav")})
        answer.raise_for_status()
        return str(answer.json()["id"])

    def episode(self, title: str, media_ids: list[str]) -> str:
        body = {"title": title, "segments": [{"media_id": m} for m in media_ids]}
        answer = self.http.post("/api/episodes", json=body)
        answer.raise_for_status()
        return str(answer.json()["id"])

    def assemble(self, episode_id: str) -> str:
        answer = self.http.post(f"/api/episodes/{episode_id}/assemble")
        if answer.status_code != 202:
            raise RuntimeError(f"assemble answered {answer.status_code}: {answer.text}")
        return str(answer.json()["job_id"])

    def status(self, job_id: str) -> str:
        return str(self.http.get(f"/api/jobs/{job_id}").json()["status"])

    def wait_finished(self, job_ids: list[str], *, timeout_s: float = 600.0) -> None:
        deadline = time.monotonic() + timeout_s
        pending = set(job_ids)
        while pending:
            pending = {j for j in pending if self.status(j) not in ("succeeded", "failed")}
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(pending)} jobs still unfinished after {timeout_s} s")
            time.sleep(0.05)
        failed = [j for j in job_ids if self.status(j) != "succeeded"]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(job_ids)} jobs failed")

    def query(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        if self.database_url.startswith("sqlite:///"):
            with contextlib.closing(sqlite3.connect(self.database_url[len("sqlite:///") :])) as db:
                return db.execute(sql.replace("%s", "?"), args).fetchall()
        with psycopg.connect(self.database_url) as connection:
            return connection.execute(sql, args).fetchall()  # type: ignore[arg-type]

    def started(self, job_id: str) -> tuple[float | None, float | None]:
        """When the job row went running, and when its latest engine was started: the
        time of the runner's ``event=tasks.assemble.dispatched`` line, logged as the
        engine process exists. (The process's own start time can't serve: the kernel
        counts it from a boot time rounded to the second.)"""
        job = self.query("SELECT started_at FROM jobs WHERE id = %s", job_id)
        return (job[0][0] if job else None, self.dispatched(job_id))

    def dispatched(self, job_id: str) -> float | None:
        found = []
        for path in self.logs:
            with contextlib.suppress(FileNotFoundError):
                for line in path.read_text(errors="replace").splitlines():
                    if DISPATCHED in line and f" job_id={job_id} " in line:
                        found.append(_log_time(line))
        return max(found, default=None)


def _log_time(line: str) -> float:
    """The time of a podplus log line (``2026-11-29 14:13:02,140 level=…``, local time)."""
    stamp, millis = line[:23].split(",")
    return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1e3


# -- the measurements ------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Dispatch:
    post_ms: list[float] = field(default_factory=list)
    running_ms: list[float] = field(default_factory=list)
    engine_ms: list[float] = field(default_factory=list)


def measure_dispatch(target: Target, clip: Path, jobs: int) -> Dispatch:
    """One job at a time, each on an idle runner: request sent → running → engine."""
    found = Dispatch()
    media_id = target.upload(clip)
    for index in range(jobs):
        episode_id = target.episode(f"Dispatch {index}", [media_id])
        sent = time.time()
        job_id = target.assemble(episode_id)
        found.post_ms.append((time.time() - sent) * 1e3)
        target.wait_finished([job_id])
        running, engine = target.started(job_id)
        if running is not None:
            found.running_ms.append(max(0.0, running - sent) * 1e3)
        if engine is not None:
            found.engine_ms.append(max(0.0, engine - sent) * 1e3)
    return found


def measure_throughput(target: Target, mix: list[list[Path]]) -> float:
    """Jobs per hour for ``mix`` queued at once, from the first request to the last end."""
    episodes = [
        target.episode(f"Mix {i}", [target.upload(path) for path in parts])
        for i, parts in enumerate(mix)
    ]
    started = time.monotonic()
    job_ids = [target.assemble(episode_id) for episode_id in episodes]
    target.wait_finished(job_ids)
    return len(job_ids) / (time.monotonic() - started) * 3600


def measure_cluster_crash(cluster: Any, target: Target, parts: list[Path]) -> float:
    """``kill -9`` the worker whose engine runs a job → that job's engine on the other."""
    episode_id = target.episode("Crash", [target.upload(path) for path in parts])
    job_id = target.assemble(episode_id)
    victim = wait_for(lambda: _engine_worker(cluster, job_id), "the engine to start")
    killed_at = time.time()
    cluster.kill_worker(victim)
    again = wait_for(
        lambda: (e := target.started(job_id)[1]) is not None and e > killed_at and e,
        "the job's engine on another worker",
        timeout_s=300,
    )
    target.wait_finished([job_id])
    cluster.start_worker(victim)
    return float(again) - killed_at


def _engine_worker(cluster: Any, job_id: str) -> str | None:
    for name in cluster.workers:
        for process in cluster.engines(name):
            with contextlib.suppress(Exception):
                if job_id in " ".join(process.cmdline()):
                    return str(name)
    return None


def wait_for(check: Callable[[], Any], what: str, *, timeout_s: float = 120.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.02)
    raise RuntimeError(f"timed out waiting for {what}")


# -- the embedded mode -----------------------------------------------------------------


@contextlib.contextmanager
def embedded(root: Path) -> Iterator[tuple[Target, Any]]:
    """One ``podplus serve`` on SQLite, running its own jobs one at a time."""
    service = embedded_service(root)
    start_embedded(service)
    try:
        yield (
            Target(
                "embedded",
                f"http://127.0.0.1:{service.env['PODPLUS_PORT']}",
                f"sqlite:///{root / 'podplus.db'}",
                [service.log_path],
            ),
            service,
        )
    finally:
        service.stop()


def embedded_service(root: Path) -> Any:
    env = {
        **os.environ,
        "PODPLUS_DATA_DIR": str(root),
        "PODPLUS_PORT": str(cluster_script.free_port()),
        "PODPLUS_SECRET_KEY": secrets.token_urlsafe(48),
        "PODPLUS_MAX_CONCURRENT_ASSEMBLIES": "1",
        "PODPLUS_MAX_ACTIVE_JOBS_PER_USER": "1000",
        "PODPLUS_KDF_WORKERS": "1",
    }
    argv = [sys.executable, "-m", "podplus", "serve"]
    return cluster_script.Service("embedded", argv, env, root / "serve.log")


def start_embedded(service: Any) -> None:
    service.start()
    url = f"http://127.0.0.1:{service.env['PODPLUS_PORT']}/healthz"
    wait_for(lambda: _answers(url), "the embedded server", timeout_s=60)


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=1.0).status_code == 200
    return False


def measure_embedded_crash(target: Target, service: Any, parts: list[Path]) -> float:
    """``kill -9`` the server mid-job → the job's engine again, after a restart."""
    episode_id = target.episode("Crash", [target.upload(path) for path in parts])
    job_id = target.assemble(episode_id)
    wait_for(lambda: target.started(job_id)[1], "the engine to start")
    killed_at = time.time()
    service.kill()
    start_embedded(service)
    again = wait_for(
        lambda: (e := target.started(job_id)[1]) is not None and e > killed_at and e,
        "the job's engine after the restart",
        timeout_s=300,
    )
    target.wait_finished([job_id])
    return float(again) - killed_at


# -- audio, the run, the report --------------------------------------------------------


def tone(path: Path, seconds: float, frequency_hz: float) -> Path:
    if not path.exists():
        expression = f"0.3*sin(2*PI*{frequency_hz}*t)*(0.6+0.4*sin(2*PI*2.7*t))"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
             f"aevalsrc={expression}:s=44100:d={seconds}", "-ac", "2", str(path)],
            check=True,
        )  # fmt: skip
    return path


def ms_line(values: list[float]) -> tuple[str, str]:
    if not values:
        return "–", "–"
    return f"{percentile(values, 0.5):,.0f}", f"{percentile(values, 0.99):,.0f}"


def report(figures: dict[str, Any], args: argparse.Namespace) -> str:
    dispatch: dict[str, Dispatch] = figures["dispatch"]
    rows = []
    for name, found in dispatch.items():
        rows.append([name, *ms_line(found.post_ms), *ms_line(found.running_ms),
                     *ms_line(found.engine_ms)])  # fmt: skip
    throughput = figures["throughput"]
    base = throughput.get("embedded, 1 slot", 0.0)
    one = throughput.get("cluster, 1 worker", 0.0)
    crash = figures["crash"]
    stall = figures["stall_s"]
    lines = [
        "# Scale-out: the cluster against the embedded mode",
        "",
        machine(),
        "",
        "Load average (1 min) at the start and the end of the run: "
        f"{figures['load'][0]:.1f} and {figures['load'][1]:.1f} on {os.cpu_count()} cores; "
        "on a machine others are using, every figure below carries their noise.",
        "",
        f"`make bench-cluster` (`benchmarks/cluster_bench.py`; {args.dispatch_jobs} dispatches "
        f"per mode, a mix of {len(MIX) * args.mix} episodes per throughput run, "
        f"{args.crashes} crashes). The cluster: PostgreSQL, `weed mini`, two APIs "
        "(`PODPLUS_RUN_JOBS=false`), two workers with one assembly at a time each; the "
        "embedded mode: one `podplus serve` on SQLite, one assembly at a time. All on this "
        "machine's cores.",
        "",
        "## Dispatch (ms, from the assemble request sent)",
        "",
        table(
            [
                "mode",
                "202 p50",
                "202 p99",
                "running p50",
                "running p99",
                "engine p50",
                "engine p99",
            ],
            rows,
        ),  # fmt: skip
        "",
        "*running*: the job row's `started_at`; *engine*: the runner's "
        "`event=tasks.assemble.dispatched` log line, written once the engine process exists "
        "(the cluster's includes fetching the parts from the store into the scratch folder).",
        "",
        "## Jobs per hour (the same mix queued at once)",
        "",
        table(
            ["mode", "jobs/hour", "vs embedded", "vs 1 worker"],
            [
                [
                    name,
                    f"{value:,.0f}",
                    ratio(value, base),
                    ratio(value, one) if "cluster" in name else "–",
                ]
                for name, value in throughput.items()
            ],  # fmt: skip
        ),
        "",
        "## Crash recovery (`kill -9` → the job's engine running again)",
        "",
        table(
            ["mode", "runs", "median s", "max s"],
            [
                [name, str(len(values)), f"{statistics.median(values):.1f}", f"{max(values):.1f}"]
                for name, values in crash.items()
                if values
            ],  # fmt: skip
        ),
        "",
        f"The cluster's bound is `PODPLUS_WORKER_STALL_S` ({stall:g} s here) plus a heartbeat; "
        "the embedded mode recovers only when its server is started again (the figure "
        "includes that restart, done at once here).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dispatch-jobs", type=int, default=10)
    parser.add_argument("--mix", type=int, default=2, help="times the episode mix is queued")
    parser.add_argument("--crashes", type=int, default=2)
    parser.add_argument("--crash-seconds", type=float, default=60.0, help="the crash episode")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cluster-bench-", dir=BENCH_DIR / "work"))
    audio = work / "audio"
    audio.mkdir()
    clip = tone(audio / "clip.wav", 1.0, 440)
    mix = [
        [tone(audio / f"mix-{parts}-{i}.wav", seconds, 200 + 60 * i) for i in range(parts)]
        for parts, seconds in MIX
    ] * args.mix
    crash_parts = [tone(audio / "crash.wav", args.crash_seconds, 300)]
    figures: dict[str, Any] = {"dispatch": {}, "throughput": {}, "crash": {}}
    stall_s = float(os.environ.get("PODPLUS_WORKER_STALL_S", "10"))
    figures["stall_s"] = stall_s
    figures["load"] = [os.getloadavg()[0], 0.0]

    print("embedded mode (one podplus serve on SQLite) …", flush=True)
    with embedded(work / "embedded") as (target, service):
        target.sign_up()
        figures["dispatch"]["embedded"] = measure_dispatch(target, clip, args.dispatch_jobs)
        figures["throughput"]["embedded, 1 slot"] = measure_throughput(target, mix)
        figures["crash"]["embedded (restart)"] = [
            measure_embedded_crash(target, service, crash_parts) for _ in range(args.crashes)
        ]

    print("cluster (scripts/cluster.py) …", flush=True)
    env = {"PODPLUS_MAX_ACTIVE_JOBS_PER_USER": "1000"}
    with cluster_script.Cluster(
        work / "cluster", env=env, say=lambda line: print(line, flush=True)
    ) as cluster:
        logs = [service.log_path for service in cluster.workers.values()]
        target = Target("cluster", cluster.api_urls[0], cluster.database_url, logs)
        target.sign_up()
        figures["dispatch"]["cluster, 2 workers"] = measure_dispatch(
            target, clip, args.dispatch_jobs
        )
        cluster.stop_worker("worker-2")
        figures["throughput"]["cluster, 1 worker"] = measure_throughput(target, mix)
        cluster.start_worker("worker-2")
        figures["throughput"]["cluster, 2 workers"] = measure_throughput(target, mix)
        figures["crash"]["cluster (other worker)"] = [
            measure_cluster_crash(cluster, target, crash_parts) for _ in range(args.crashes)
        ]
    figures["load"][1] = os.getloadavg()[0]
    text = report(figures, args)
    RESULTS.write_text(text)
    print(text, flush=True)
    shutil.rmtree(work, ignore_errors=True)  # kept only when a run fails, for its logs
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The scaled-out shape on one machine: PostgreSQL, an S3 store, two APIs and two workers.

    .venv/bin/python scripts/cluster.py [--apis 2] [--workers 2] [--root DIR] [--keep]

Starts a throw-away PostgreSQL (``scripts/postgres.sh``, a folder and port of its own),
SeaweedFS's ``weed mini`` as the S3 store (``scripts/weed.sh``), ``podplus serve`` API
processes that run no jobs (``PODPLUS_RUN_JOBS=false``) on ports of their own, and
``podplus worker`` processes with distinct names and scratch folders: every process with
a data folder of its own, as if on a machine of its own, sharing only the database, the
store and the secret key. It waits until each answers, prints the URLs, and runs until
Ctrl-C or SIGTERM, when it stops all of it (workers first, so they hand their jobs back)
and leaves nothing running.

Importable, for the tests (``tests/cluster``) and ``benchmarks/cluster_bench.py``::

    with Cluster(root) as cluster:
        httpx.get(cluster.api_urls[0] + "/healthz")
        cluster.kill_worker("worker-1")     # kill -9, as a lost machine
        cluster.start_worker("worker-1")
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

import httpx
import psutil

REPO_DIR = Path(__file__).resolve().parent.parent
SCRIPTS_DIR = REPO_DIR / "scripts"
BUCKET = "podplus-cluster"
ACCESS_KEY_ID = "podplus-cluster-key"
SECRET_ACCESS_KEY = "podplus-cluster-secret-0123456789"
START_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 20.0


class ClusterError(Exception):
    """A piece of the cluster did not start (the message says which, with its log)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """One long-running process in a session of its own, its output in ``log_path``."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        # A session of its own: a Ctrl-C on the terminal reaches the cluster, which stops
        # the pieces in order, and a killpg reaches the whole process and nothing else.
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None and not self._exited()

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace").rstrip()
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def kill(self) -> None:
        """``kill -9`` the process alone, as a crash or a lost machine would."""
        if self.alive():
            assert self.process is not None
            self.process.kill()
            self.process.wait()
        self._close_log()

    def stop(self, *, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM to its group, a wait for it to finish what it does, then SIGKILL to
        whatever is left of the group."""
        if self.process is None:
            return
        if self.process.returncode is None:
            # Until it is reaped its pid can't be reused, so the group is still its own.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout_s
            while not self._exited() and time.monotonic() < deadline:
                time.sleep(0.05)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        self._close_log()

    def _exited(self) -> bool:
        """Whether it has exited, without reaping it (``alive`` would)."""
        flags = os.WEXITED | os.WNOWAIT | os.WNOHANG
        try:
            return os.waitid(os.P_PID, self.pid, flags) is not None
        except ChildProcessError:  # reaped already
            return True

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Store:
    """``weed mini`` started by ``scripts/weed.sh``; stopped and restarted as it was (same
    ports, same data) to play a store that goes away for a while."""

    root: Path
    endpoint: str = ""
    _argv: list[str] = field(default_factory=list)
    # The restarted one, a child of this process (the first is the script's).
    _process: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "PODPLUS_TEST_S3_DIR": str(self.root),
            "PODPLUS_TEST_S3_BUCKET": BUCKET,
            "PODPLUS_TEST_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "PODPLUS_TEST_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "GOMEMLIMIT": os.environ.get("GOMEMLIMIT", "256MiB"),
        }

    def start(self) -> str:
        found = subprocess.run(
            [str(SCRIPTS_DIR / "weed.sh"), "start"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode != 0:
            raise ClusterError(f"scripts/weed.sh start failed:\n{found.stderr.strip()}")
        self.endpoint = found.stdout.strip().splitlines()[-1]
        self._argv = psutil.Process(self.pid).cmdline()
        return self.endpoint

    @property
    def pid(self) -> int:
        return int((self.root / "pid").read_text().strip())

    def alive(self) -> bool:
        try:
            process = psutil.Process(self.pid)
        except (psutil.Error, OSError, ValueError):
            return False
        return process.status() != psutil.STATUS_ZOMBIE

    def kill(self) -> None:
        """``kill -9`` the store: every request to it fails until ``restart``."""
        if not self.alive():
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        if self._process is not None:
            self._process.wait()
        _wait_gone(self.pid)

    def restart(self, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start the store again with the command line it had: same ports, same data."""
        if self.alive():
            return
        with (self.root / "weed.log").open("ab") as log:
            self._process = process = subprocess.Popen(
                self._argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        (self.root / "pid").write_text(f"{process.pid}\n")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            # Back means taking writes: its S3 port answers a while before its volume
            # server has registered again, and until then every upload is refused.
            if self._takes_writes():
                return
            time.sleep(0.2)
        raise ClusterError(f"weed mini did not take writes again on {self.endpoint}")

    def _takes_writes(self) -> bool:
        from podplus.settings import Settings
        from podplus.storage.objects import open_object_store

        settings = Settings(
            storage_url=f"s3://{BUCKET}/.probe",
            s3_endpoint=self.endpoint,
            s3_access_key_id=ACCESS_KEY_ID,
            s3_secret_access_key=SECRET_ACCESS_KEY,
            s3_timeout_s=2.0,
        )

        async def probe() -> None:
            store = open_object_store(settings)
            with tempfile.NamedTemporaryFile() as sample:
                sample.write(b"podplus")
                sample.flush()
                await store.put_file("write-probe", Path(sample.name))
            await store.delete("write-probe")

        try:
            asyncio.run(probe())
        except Exception:
            return False
        return True

    def stop(self) -> None:
        subprocess.run([str(SCRIPTS_DIR / "weed.sh"), "stop"], env=self.env, check=False)
        if self._process is not None:
            self._process.wait()


@dataclass
class Postgres:
    """A throw-away PostgreSQL server of its own (``scripts/postgres.sh``), or a fresh
    database on a server that is already there (the test suite's)."""

    server_url: str | None = None
    url: str = ""
    folder: Path | None = None
    port: int = 0
    _database: str = ""

    def start(self) -> str:
        if self.server_url:
            self._database = f"podplus_cluster_{secrets.token_hex(6)}"
            self._admin(f'CREATE DATABASE "{self._database}"')
            self.url = self.server_url.rsplit("/", 1)[0] + f"/{self._database}"
            return self.url
        # Outside the cluster's folder: the server runs as the postgres user, who may not
        # be able to enter a private temporary folder.
        self.folder = Path(tempfile.mkdtemp(prefix="podplus-cluster-pg-"))
        self.port = free_port()
        found = subprocess.run(
            [str(SCRIPTS_DIR / "postgres.sh"), "start"],
            env=self._env(),
            capture_output=True,
            text=True,
            check=False,
        )
        if found.returncode != 0:
            raise ClusterError(f"scripts/postgres.sh start failed:\n{found.stderr.strip()}")
        self.url = found.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        if self._database:
            self._admin(f'DROP DATABASE IF EXISTS "{self._database}" WITH (FORCE)')
            self._database = ""
        elif self.folder is not None:
            subprocess.run([str(SCRIPTS_DIR / "postgres.sh"), "stop"], env=self._env(), check=False)
            shutil.rmtree(self.folder, ignore_errors=True)

    def _env(self) -> dict[str, str]:
        assert self.folder is not None
        return {
            **os.environ,
            "PODPLUS_TEST_PG_DIR": str(self.folder),
            "PODPLUS_TEST_PG_PORT": str(self.port),
        }

    def _admin(self, statement: str) -> None:
        import psycopg

        assert self.server_url
        with psycopg.connect(self.server_url, autocommit=True) as connection:
            connection.execute(statement)  # type: ignore[arg-type]


class Cluster:
    """PostgreSQL, the store, ``apis`` API processes and ``workers`` workers, under ``root``.

    ``postgres_url`` (a server's URL) puts the cluster's database on that server instead of
    starting one; ``env`` is added to every podplus process's environment (an engine
    command, a stall bound…); ``worker_slots`` is each worker's
    ``PODPLUS_MAX_CONCURRENT_ASSEMBLIES``; ``say`` hears how long each piece took to start.
    """

    def __init__(
        self,
        root: Path,
        *,
        apis: int = 2,
        workers: int = 2,
        postgres_url: str | None = None,
        env: Mapping[str, str] | None = None,
        worker_slots: int = 1,
        say: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.root = root.resolve()
        self._say = say
        self.secret_key = secrets.token_urlsafe(48)
        self.postgres = Postgres(server_url=postgres_url)
        self.store = Store(self.root / "s3")
        self._extra_env = dict(env or {})
        self._worker_slots = worker_slots
        self.apis: list[Service] = []
        self.workers: dict[str, Service] = {}
        self._api_count = apis
        self._worker_names = [f"worker-{index + 1}" for index in range(workers)]

    # -- what the cluster offers -------------------------------------------------------

    @property
    def api_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{service.env['PODPLUS_PORT']}" for service in self.apis]

    @property
    def database_url(self) -> str:
        return self.postgres.url

    @property
    def storage_url(self) -> str:
        return f"s3://{BUCKET}/media"

    def common_env(self) -> dict[str, str]:
        """What every podplus process of the cluster shares."""
        return {
            **os.environ,
            "PODPLUS_DATABASE_URL": self.postgres.url,
            "PODPLUS_SECRET_KEY": self.secret_key,
            "PODPLUS_STORAGE_URL": self.storage_url,
            "PODPLUS_S3_ENDPOINT": self.store.endpoint,
            "PODPLUS_S3_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "PODPLUS_S3_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "PODPLUS_KDF_WORKERS": "1",
            **self._extra_env,
        }

    # -- starting and stopping ---------------------------------------------------------

    def start(self, *, timeout_s: float = START_TIMEOUT_S) -> Cluster:
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            # Side by side: neither needs the other, and each takes seconds.
            with self._step("PostgreSQL and weed mini"), ThreadPoolExecutor(2) as pool:
                started = [pool.submit(self.postgres.start), pool.submit(self.store.start)]
                for future in started:
                    future.result()
            for index in range(self._api_count):
                self.apis.append(self._api(index + 1))
            # The first API migrates the database alone; the rest start together after it.
            with self._step("API 1 (migrates the database)"):
                self._start_apis(self.apis[:1], timeout_s)
            with self._step("the other APIs and the workers"):
                known = _queue_workers(self.postgres.url)
                for name in self._worker_names:
                    self.workers[name] = self._worker(name)
                for service in self.workers.values():
                    service.start()
                self._start_apis(self.apis[1:], timeout_s)
                self._wait_for_workers(list(self.workers.values()), known, timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    @contextlib.contextmanager
    def _step(self, what: str) -> Iterator[None]:
        started = time.monotonic()
        yield
        self._say(f"  {what} … {time.monotonic() - started:.1f} s")

    def stop(self) -> None:
        """Workers first (they hand their jobs back), then the APIs, the store, the database."""
        # Told all at once, so their grace periods run side by side.
        for service in self.workers.values():
            if service.alive():
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.pid, signal.SIGTERM)
        for service in [*self.workers.values(), *self.apis]:
            service.stop()
        self.store.stop()
        self.postgres.stop()

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- playing failures --------------------------------------------------------------

    def kill_worker(self, name: str) -> None:
        """``kill -9`` a worker alone; its engines die with it (their parent-death signal)."""
        self.workers[name].kill()

    def start_worker(self, name: str, *, timeout_s: float = START_TIMEOUT_S) -> None:
        """Start a worker by that name (again, after ``kill_worker``, or a new one)."""
        if name in self.workers and self.workers[name].alive():
            return
        known = _queue_workers(self.postgres.url)
        self.workers[name] = self._worker(name)
        self.workers[name].start()
        self._wait_for_workers([self.workers[name]], known, timeout_s)

    def stop_worker(self, name: str) -> None:
        """A clean stop (SIGTERM): the worker finishes or hands back its jobs, then exits."""
        self.workers[name].stop()

    def engines(self, name: str) -> list[psutil.Process]:
        """The live processes a worker started (engines and their ffmpeg)."""
        service = self.workers[name]
        if not service.alive():
            return []
        try:
            found = psutil.Process(service.pid).children(recursive=True)
        except psutil.Error:
            return []
        return [p for p in found if _running(p)]

    def leftovers(self) -> list[str]:
        """Processes of this cluster still running: its own, and any whose command line or
        data folder points into the cluster's folders (the store, the database, engines)."""
        markers = [str(self.root)]
        if self.postgres.folder is not None:
            markers.append(str(self.postgres.folder))
        own = {service.pid for service in [*self.apis, *self.workers.values()] if service.process}
        return leftovers(markers, own)

    # -- the pieces --------------------------------------------------------------------

    def _api(self, number: int) -> Service:
        folder = self.root / f"api-{number}"
        env = {
            **self.common_env(),
            "PODPLUS_DATA_DIR": str(folder),
            "PODPLUS_HOST": "127.0.0.1",
            "PODPLUS_PORT": str(free_port()),
            "PODPLUS_RUN_JOBS": "false",
        }
        argv = [sys.executable, "-m", "podplus", "serve"]
        return Service(f"api-{number}", argv, env, folder / "serve.log")

    def _worker(self, name: str) -> Service:
        folder = self.root / name
        env = {
            "PODPLUS_MAX_CONCURRENT_ASSEMBLIES": str(self._worker_slots),
            **self.common_env(),
            "PODPLUS_DATA_DIR": str(folder),
            "PODPLUS_SCRATCH_DIR": str(folder / "scratch"),
            "PODPLUS_WORKER_NAME": name,
        }
        argv = [sys.executable, "-m", "podplus", "worker"]
        return Service(name, argv, env, folder / "worker.log")

    def _start_apis(self, services: list[Service], timeout_s: float) -> None:
        for service in services:
            service.start()
        deadline = time.monotonic() + timeout_s
        for service in services:
            url = f"http://127.0.0.1:{service.env['PODPLUS_PORT']}/healthz"
            while True:
                if not service.alive():
                    raise ClusterError(f"{service.name} exited:\n{service.log_tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise ClusterError(f"{service.name} never answered:\n{service.log_tail()}")
                time.sleep(0.1)

    def _wait_for_workers(
        self, services: list[Service], known: set[int] | None, timeout_s: float
    ) -> None:
        """Until each worker has registered with the queue: a row of its own in
        ``procrastinate_workers`` (which it keeps alive with heartbeats) beyond ``known``,
        those there before it started."""
        deadline = time.monotonic() + timeout_s
        while True:
            for service in services:
                if not service.alive():
                    raise ClusterError(f"{service.name} exited:\n{service.log_tail()}")
            now = _queue_workers(self.postgres.url)
            if now is not None and len(now - (known or set())) >= len(services):
                return
            if time.monotonic() > deadline:
                logs = "\n".join(f"{s.name}:\n{s.log_tail()}" for s in services)
                raise ClusterError(f"workers never registered with the queue:\n{logs}")
            time.sleep(0.1)


def _queue_workers(database_url: str) -> set[int] | None:
    """The ids of the workers procrastinate knows, or None if it has no table here."""
    import psycopg

    try:
        with psycopg.connect(database_url, connect_timeout=5) as connection:
            rows = connection.execute("SELECT id FROM procrastinate_workers").fetchall()
    except psycopg.errors.UndefinedTable:
        return None
    return {int(row[0]) for row in rows}


def _running(process: psutil.Process) -> bool:
    try:
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.Error:
            return
        time.sleep(0.05)


def leftovers(markers: list[str], pids: set[int] | None = None) -> list[str]:
    """Running processes that are in ``pids``, or whose command line, working folder or
    ``PODPLUS_DATA_DIR`` names one of the ``markers`` folders."""
    found = []
    # This process and those that started it (a shell, make) name the folder too.
    me = psutil.Process()
    ours = {me.pid, *(parent.pid for parent in me.parents())}
    for process in psutil.process_iter(["pid", "cmdline", "status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE or process.pid in ours:
            continue
        cmdline = " ".join(process.info["cmdline"] or [])
        places = [cmdline]
        with contextlib.suppress(psutil.Error):
            places.append(process.cwd())
            places.append(process.environ().get("PODPLUS_DATA_DIR", ""))
        if process.pid in (pids or set()) or any(
            m in place for m in markers for place in places if place
        ):
            found.append(f"pid {process.pid}: {cmdline[:160]}")
    return found


# -- the command -------------------------------------------------------------------------


class _Stop(Exception):
    """SIGTERM, turned into an exception like Ctrl-C's KeyboardInterrupt."""


def _raise_stop(signum: int, frame: object) -> None:
    raise _Stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apis", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-slots", type=int, default=1, help="assemblies per worker")
    parser.add_argument("--root", type=Path, help="the cluster's folder (default: a new one)")
    parser.add_argument("--keep", action="store_true", help="keep the folder (logs) on exit")
    args = parser.parse_args(argv)
    root = args.root or Path(tempfile.mkdtemp(prefix="podplus-cluster-"))
    signal.signal(signal.SIGTERM, _raise_stop)
    cluster = Cluster(
        root,
        apis=args.apis,
        workers=args.workers,
        worker_slots=args.worker_slots,
        say=lambda line: print(line, flush=True),
    )
    try:
        print(f"starting in {root} …", flush=True)
        cluster.start()
        print(_summary(cluster), flush=True)
        while True:
            for service in [*cluster.apis, *cluster.workers.values()]:
                if not service.alive():
                    print(f"{service.name} exited:\n{service.log_tail()}", flush=True)
                    return 1
            time.sleep(0.5)
    except (KeyboardInterrupt, _Stop):
        return 0
    except ClusterError as exc:
        print(f"cluster: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        # A second Ctrl-C must not leave half of it running.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping …", flush=True)
        cluster.stop()
        left = cluster.leftovers()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        if left:
            print("still running:\n  " + "\n  ".join(left), flush=True)
        else:
            print("stopped; nothing left running", flush=True)


def _summary(cluster: Cluster) -> str:
    lines = ["podplus cluster ready:"]
    lines += [f"  API {index + 1}:      {url}" for index, url in enumerate(cluster.api_urls)]
    lines += [
        f"  workers:    {', '.join(cluster.workers)} (logs in {cluster.root}/<name>/worker.log)",
        f"  S3:         {cluster.store.endpoint} ({cluster.storage_url}, key {ACCESS_KEY_ID})",
        f"  PostgreSQL: {cluster.database_url} (in {cluster.postgres.folder})",
        f"  secret key: PODPLUS_SECRET_KEY={cluster.secret_key}",
        "Ctrl-C (or SIGTERM) stops all of it.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""The deployment check: a throw-away podplus, every step timed, exit 1 on the first failure.

Starts ``python -m podplus serve`` on a temporary data directory and a free port, then:
registers and logs in, asks ``/api/users/me``, checks that the landing page's "Get
Started" goes through the login modal, makes a show with generated artwork, assembles a
short generated episode of it (dispatch under a second, ``/me`` answering while it runs,
audio served after), publishes it and reads the feed and the audio as a podcast app does,
and finally ``kill -9``-s the server in the middle of a longer assembly, restarts it, and
checks that no engine or ffmpeg survived and that the job recovers. Must finish in two
minutes.

    .venv/bin/python scripts/smoke.py [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import httpx
import psutil

BUDGET_S = 120.0
DISPATCH_LIMIT_S = 1.0
ME_LIMIT_S = 1.0
SECRET_KEY = "smoke-test-secret-key-long-enough-for-hs256-signing"
EMAIL = "smoke@example.com"
PASSWORD = "smoke test password"
SAMPLE_RATE_HZ = 44100
# The kill -9 episode: long enough that the engine is still at work when the server dies.
LONG_SEGMENT_S = 240
LONG_SEGMENTS = 2
ARTWORK_PX = 1400
# What a podcast app sends (the download counter takes it for a listener, not a bot).
APP_USER_AGENT = "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; en_us)"
SHOW = {
    "title": "Smoke Signals",
    "description": "The podplus deployment check, as a podcast.",
    "author": "podplus",
    "owner_name": "podplus",
    "owner_email": EMAIL,
    "language": "en",
    "category": "Technology",
    "slug": "smoke-signals",
}
ITUNES = "{http://www.itunes.com/dtds/podcast-1.0.dtd}"


class StepFailed(Exception):
    """A check did not hold; the message is the reason printed after ✗."""


@dataclass
class Clock:
    """The two-minute budget: every wait is bounded by what is left of it."""

    started: float = field(default_factory=time.monotonic)

    def left_s(self) -> float:
        return BUDGET_S - (time.monotonic() - self.started)

    def bounded(self, timeout_s: float) -> float:
        left = self.left_s()
        if left <= 0:
            raise StepFailed(f"the {BUDGET_S:.0f} s budget is spent")
        return min(timeout_s, left)


@contextlib.contextmanager
def step(name: str) -> Iterator[dict[str, str]]:
    """Time a step and print ``✓ name … 123 ms`` (plus any detail it sets) or ``✗ name …``."""
    detail: dict[str, str] = {}
    started = time.perf_counter()
    try:
        yield detail
    except StepFailed as exc:
        print(f"✗ {name} … {exc}", flush=True)
        raise
    except Exception as exc:
        print(f"✗ {name} … {type(exc).__name__}: {exc}", flush=True)
        raise StepFailed(str(exc)) from exc
    elapsed_ms = (time.perf_counter() - started) * 1e3
    extra = f" ({detail['note']})" if detail.get("note") else ""
    print(f"✓ {name} … {elapsed_ms:,.0f} ms{extra}", flush=True)


def check(condition: bool, reason: str) -> None:
    if not condition:
        raise StepFailed(reason)


# -- the server ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``python -m podplus serve`` in a session of its own, on ``data_dir`` and ``port``."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = data_dir / "server.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, clock: Clock, *, timeout_s: float = 20.0) -> None:
        env = {
            **os.environ,
            "PODPLUS_DATA_DIR": str(self.data_dir),
            "PODPLUS_PORT": str(self.port),
            "PODPLUS_HOST": "127.0.0.1",
            "PODPLUS_SECRET_KEY": SECRET_KEY,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "podplus", "serve"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + clock.bounded(timeout_s)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StepFailed(f"the server exited {self.process.returncode}: {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise StepFailed(f"no answer on /healthz in {timeout_s:.0f} s: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def kill_hard(self) -> None:
        """``kill -9`` the server process alone (not its group), as a crash would."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, *, timeout_s: float = 15.0) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return None if self.process is None else self.process.returncode
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").strip()
        except FileNotFoundError:
            return "(no log)"
        return "\n  " + "\n  ".join(text.splitlines()[-lines:]) if text else "(empty log)"


# -- processes the server started ------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    pid: int
    create_time: float
    cmdline: str

    def alive(self) -> bool:
        """Still running and still the same process (a reused pid is someone else)."""
        try:
            process = psutil.Process(self.pid)
            return bool(
                process.create_time() == self.create_time
                and process.status() != psutil.STATUS_ZOMBIE
            )
        except psutil.Error:
            return False


def is_ffmpeg(cmdline: list[str]) -> bool:
    # Within the first few words: ffmpeg may be started through nice or setpriv.
    return any(Path(part).name == "ffmpeg" for part in cmdline[:6])


def is_engine_or_ffmpeg(cmdline: list[str]) -> bool:
    return "podplus.engine" in " ".join(cmdline) or is_ffmpeg(cmdline)


def engine_family(server_pid: int) -> list[Seen]:
    """The server's descendants that are engines or ffmpeg."""
    try:
        children = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for child in children:
        with contextlib.suppress(psutil.Error):
            cmdline = child.cmdline()
            if is_engine_or_ffmpeg(cmdline):
                found.append(Seen(child.pid, child.create_time(), " ".join(cmdline)))
    return found


def merge(seen: list[Seen], more: list[Seen]) -> list[Seen]:
    known = {(item.pid, item.create_time) for item in seen}
    return seen + [item for item in more if (item.pid, item.create_time) not in known]


def strays(data_dir: Path, seen: list[Seen], *, created_before: float) -> list[str]:
    """Engines or ffmpeg started before ``created_before`` and still alive: those seen
    earlier, and any whose command line names this run's data directory (so other podplus
    instances on the host, and engines the restarted server starts, are not counted)."""
    left = {item.pid: item.cmdline for item in seen if item.alive()}
    marker = str(data_dir)
    for process in psutil.process_iter(["pid", "cmdline", "status", "create_time"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if process.info["create_time"] >= created_before:
            continue
        if is_engine_or_ffmpeg(cmdline) and marker in " ".join(cmdline):
            left[process.info["pid"]] = " ".join(cmdline)
    return [f"pid {pid}: {cmd[:120]}" for pid, cmd in sorted(left.items())]


def reap_strays(data_dir: Path, seen: list[Seen]) -> None:
    """On the way out after a failure, kill what this run left (only what it can prove is its)."""
    for item in seen:
        if item.alive():
            with contextlib.suppress(psutil.Error):
                psutil.Process(item.pid).kill()
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = process.info["cmdline"] or []
        if is_engine_or_ffmpeg(cmdline) and str(data_dir) in " ".join(cmdline):
            with contextlib.suppress(psutil.Error):
                process.kill()


# -- audio -----------------------------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=60,
    )


def tone(path: Path, *, duration_s: float, frequency_hz: float) -> Path:
    # Level rising and falling like speech, so loudness analysis sees more than a flat tone.
    expression = f"0.3*sin(2*PI*{frequency_hz}*t)*(0.6+0.4*sin(2*PI*2.7*t))"
    ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={expression}:s={SAMPLE_RATE_HZ}:d={duration_s}",
        "-ac", "2", "-c:a", "pcm_s16le", str(path),
    )  # fmt: skip
    return path


def artwork(path: Path) -> Path:
    """Square JPEG artwork of the size the directories ask for at least."""
    ffmpeg(
        "-f", "lavfi", "-i", f"testsrc2=s={ARTWORK_PX}x{ARTWORK_PX}", "-frames:v", "1",
        "-q:v", "4", str(path),
    )  # fmt: skip
    return path


def speech(path: Path, text: str) -> Path:
    if shutil.which("espeak-ng") is None:
        return tone(path, duration_s=2, frequency_hz=330)
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-w", str(raw), text], check=True, timeout=30)
    ffmpeg("-i", str(raw), "-ar", str(SAMPLE_RATE_HZ), "-ac", "2", str(path))
    raw.unlink()
    return path


# -- the API ---------------------------------------------------------------------------------


class Api:
    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30.0)

    def use_token(self, token: str) -> None:
        self.http.headers["Authorization"] = f"Bearer {token}"

    def expect(self, response: httpx.Response, status: int) -> Any:
        if response.status_code != status:
            raise StepFailed(
                f"{response.request.method} {response.request.url.path} answered "
                f"{response.status_code}, expected {status}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def upload(self, path: Path, kind: str) -> str:
        with path.open("rb") as handle:
            response = self.http.post(
                "/api/media",
                data={"kind": kind},
                files={"file": (path.name, handle, "audio/wav")},
                timeout=120,
            )
        return str(self.expect(response, 201)["id"])

    def episode(self, title: str, segments: list[str], **extra: Any) -> str:
        body = {"title": title, "segments": [{"media_id": m} for m in segments], **extra}
        return str(self.expect(self.http.post("/api/episodes", json=body), 201)["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        return dict(self.expect(self.http.get(f"/api/jobs/{job_id}"), 200))


def wait_for(
    clock: Clock, what: str, poll: Callable[[], Any], *, timeout_s: float, every_s: float = 0.2
) -> Any:
    deadline = time.monotonic() + clock.bounded(timeout_s)
    while time.monotonic() < deadline:
        result = poll()
        if result:
            return result
        time.sleep(every_s)
    raise StepFailed(f"timed out after {timeout_s:.0f} s waiting for {what}")


# -- the landing page gate -------------------------------------------------------------------


class PageScan(HTMLParser):
    """Module scripts and "Get Started" controls in an HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.get_started: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "script" and attributes.get("src"):
            self.scripts.append(str(attributes["src"]))
        if tag in ("a", "button"):
            self._open = attributes
            if "get-started" in " ".join(str(v) for v in attributes.values()):
                self.get_started.append(attributes)

    def handle_data(self, data: str) -> None:
        if self._open is not None and "get started" in data.lower():
            if self._open not in self.get_started:
                self.get_started.append(self._open)
            self._open = None


IMPORT = re.compile(r"""(?:import|from)\s*(?:[\w{}\s,*]+from\s*)?["'](\.{1,2}/[^"']+)["']""")


def script_graph(http: httpx.Client, page_url: str, sources: list[str]) -> dict[str, str]:
    """Every same-origin script the page loads, following relative ES module imports."""
    origin = urlparse(page_url).netloc
    pending = [urljoin(page_url, src) for src in sources]
    scripts: dict[str, str] = {}
    while pending and len(scripts) < 50:
        url = pending.pop()
        if url in scripts or urlparse(url).netloc != origin:
            continue
        response = http.get(url)
        if response.status_code != 200:
            raise StepFailed(f"{urlparse(url).path} answered {response.status_code}")
        scripts[url] = response.text
        pending += [urljoin(url, spec) for spec in IMPORT.findall(response.text)]
    return scripts


def check_gate(base_url: str) -> str:
    """The landing page's "Get Started" must lead to a login modal unless a session exists.

    Read statically, without a browser: the page has a Get Started control and a module
    script; the scripts it loads bind that control and build a modal ``<dialog>`` with an
    email and password form; the studio page loads the same modal; the API refuses a
    request without a token.
    """
    with httpx.Client(base_url=base_url, timeout=10.0) as http:
        page = http.get("/")
        check(page.status_code == 200, f"GET / answered {page.status_code}")
        check("text/html" in page.headers.get("content-type", ""), "GET / is not HTML")
        scan = PageScan()
        scan.feed(page.text)
        check(bool(scan.get_started), "no Get Started button or link on the landing page")
        check(bool(scan.scripts), "the landing page loads no script to gate Get Started")
        scripts = script_graph(http, base_url + "/", scan.scripts)
        code = "\n".join(scripts.values())
        check("get-started" in code or "Get Started" in code, "no script binds Get Started")
        check("showModal" in code or "dialog" in code, "no modal dialog in the landing scripts")
        check(
            "password" in code and ("/api/auth/token" in code or "auth/token" in code),
            "the landing scripts have no login form posting to /api/auth/token",
        )
        bare_links = [a for a in scan.get_started if a.get("href") not in (None, "", "#")]
        check(
            not bare_links,
            f"Get Started is a plain link to {bare_links[0].get('href') if bare_links else ''}",
        )
        studio = http.get("/studio")
        if studio.status_code == 200:
            studio_scan = PageScan()
            studio_scan.feed(studio.text)
            studio_code = "\n".join(
                script_graph(http, base_url + "/studio", studio_scan.scripts).values()
            )
            check(
                "showModal" in studio_code or "dialog" in studio_code,
                "/studio does not load the login modal for a visitor without a token",
            )
        refused = http.get("/api/users/me").status_code
        check(refused == 401, f"/api/users/me without a token answered {refused}")
    buttons = len(scan.get_started)
    return f"{buttons} Get Started controls, {len(scripts)} scripts, login <dialog>"


# -- the feed, as a podcast app reads it ------------------------------------------------------


def read_feed(app: httpx.Client, show: dict[str, Any], published: dict[str, Any]) -> str:
    """Fetch the show's feed with no token, parse it with the standard library, and check
    the episode's item: its GUID, and an enclosure with the public URL, exact byte length
    and MIME type; the channel's artwork too."""
    response = app.get(show["feed_url"])
    check(response.status_code == 200, f"the feed answered {response.status_code}")
    media_type = response.headers.get("content-type", "")
    check(media_type.startswith("application/rss+xml"), f"the feed is {media_type}")
    try:
        channel = ET.fromstring(response.content).find("channel")
    except ET.ParseError as exc:
        raise StepFailed(f"the feed is not XML: {exc}") from exc
    check(channel is not None, "the feed has no <channel>")
    assert channel is not None
    image = channel.find(f"{ITUNES}image")
    check(
        image is not None and image.get("href") == show["artwork_url"],
        "itunes:image is not the show's artwork",
    )
    items = channel.findall("item")
    check(len(items) == 1, f"the feed has {len(items)} items, expected 1")
    item = items[0]
    check(item.findtext("guid") == published["guid"], f"guid {item.findtext('guid')!r}")
    enclosure = item.find("enclosure")
    check(enclosure is not None, "the item has no <enclosure>")
    assert enclosure is not None
    expected = {
        "url": published["audio_url"],
        "length": str(published["size_bytes"]),
        "type": published["media_type"],
    }
    found = {name: enclosure.get(name) for name in expected}
    check(found == expected, f"enclosure {found}, expected {expected}")
    encoding = response.headers.get("content-encoding", "identity")
    return f"1 item, enclosure {expected['type']} of {published['size_bytes']:,} bytes, {encoding}"


# -- the run ---------------------------------------------------------------------------------


def run(work_dir: Path, clock: Clock) -> None:
    data_dir = work_dir / "data"
    audio_dir = work_dir / "audio"
    data_dir.mkdir()
    audio_dir.mkdir()
    server = Server(data_dir, free_port())
    seen: list[Seen] = []
    try:
        with step("generate audio and artwork (ffmpeg lavfi, espeak-ng)") as note:
            intro = speech(audio_dir / "intro.wav", "Welcome to the podplus smoke test.")
            cover = artwork(audio_dir / "cover.jpg")
            short = tone(audio_dir / "segment.wav", duration_s=4, frequency_hz=220)
            long_parts = [
                tone(
                    audio_dir / f"long-{i}.wav",
                    duration_s=LONG_SEGMENT_S,
                    frequency_hz=180 + 40 * i,
                )
                for i in range(LONG_SEGMENTS)
            ]
            note["note"] = f"{LONG_SEGMENTS * LONG_SEGMENT_S // 60} min for the kill -9 episode"

        with step(f"server starts on 127.0.0.1:{server.port}"):
            server.start(clock)
        api = Api(server.base_url)

        with step("registration answers"):
            user = api.expect(
                api.http.post("/api/users", json={"email": EMAIL, "password": PASSWORD}), 201
            )
            check(user.get("email") == EMAIL, f"registered as {user.get('email')!r}")

        with step("login answers"):
            token = api.expect(
                api.http.post("/api/auth/token", data={"username": EMAIL, "password": PASSWORD}),
                200,
            )["access_token"]
            api.use_token(token)

        with step("/api/users/me answers"):
            me = api.expect(api.http.get("/api/users/me"), 200)
            check(me.get("email") == EMAIL, f"/me says {me.get('email')!r}")

        with step('landing page gates "Get Started" behind the login modal') as note:
            note["note"] = check_gate(server.base_url)

        with step("upload media"):
            intro_id = api.upload(intro, "intro")
            short_id = api.upload(short, "content")
            long_ids = [api.upload(path, "content") for path in long_parts]

        # Before the episode: an episode joins its show when it is described (changing a
        # ready episode forgets its audio).
        with step("create a show with its artwork") as note:
            show = api.expect(api.http.post("/api/shows", json=SHOW), 201)
            with cover.open("rb") as handle:
                show = api.expect(
                    api.http.put(
                        f"/api/shows/{show['id']}/artwork",
                        files={"file": (cover.name, handle, "image/jpeg")},
                    ),
                    200,
                )
            check(show.get("artwork_size_px") == ARTWORK_PX, f"artwork: {show}")
            note["note"] = urlparse(show["feed_url"]).path

        with step("create episodes"):
            quick_episode = api.episode(
                "Smoke", [short_id], intro_id=intro_id, output={"format": "mp3"}, show_id=show["id"]
            )
            long_episode = api.episode("Smoke, long", long_ids, output={"format": "mp3"})

        with step(f"assembly is dispatched in under {DISPATCH_LIMIT_S:g} s") as note:
            started = time.perf_counter()
            accepted = api.expect(api.http.post(f"/api/episodes/{quick_episode}/assemble"), 202)
            dispatch_s = time.perf_counter() - started
            check(dispatch_s < DISPATCH_LIMIT_S, f"dispatch took {dispatch_s * 1e3:,.0f} ms")
            job_id = accepted["job_id"]
            note["note"] = f"POST answered in {dispatch_s * 1e3:,.0f} ms"

        with step("/api/users/me keeps answering while it runs") as note:
            answered, slowest_s, job = 0, 0.0, api.job(job_id)
            deadline = time.monotonic() + clock.bounded(60)
            while job["status"] in ("queued", "running") and time.monotonic() < deadline:
                started = time.perf_counter()
                api.expect(api.http.get("/api/users/me", timeout=ME_LIMIT_S * 5), 200)
                slowest_s = max(slowest_s, time.perf_counter() - started)
                answered += 1
                job = api.job(job_id)
                time.sleep(0.05)
            check(answered > 0, "the job was over before /me could be asked")
            check(slowest_s < ME_LIMIT_S, f"the slowest /me took {slowest_s * 1e3:,.0f} ms")
            note["note"] = f"{answered} answers, slowest {slowest_s * 1e3:,.0f} ms"

        with step("the assembly finishes and its audio is served") as note:
            job = wait_for(
                clock,
                "the assembly",
                lambda: (j := api.job(job_id))["status"] not in ("queued", "running") and j,
                timeout_s=60,
            )
            check(job["status"] == "succeeded", f"the job {job['status']}: {job.get('error')}")
            audio = api.http.get(f"/api/episodes/{quick_episode}/audio")
            check(audio.status_code == 200, f"the audio answered {audio.status_code}")
            check(len(audio.content) > 10_000, f"the audio is {len(audio.content)} bytes")
            note["note"] = (
                f"{len(audio.content) / 1e3:,.0f} kB of {audio.headers.get('content-type')}"
            )

        with step("publish the episode") as note:
            published = api.expect(
                api.http.post(f"/api/episodes/{quick_episode}/publish", json={"number": 1}), 200
            )["publication"]
            check(published and published["status"] == "published", f"publication: {published}")
            note["note"] = urlparse(published["audio_url"]).path

        app = httpx.Client(timeout=30.0, headers={"User-Agent": APP_USER_AGENT})
        with step("a podcast app reads the feed") as note:
            note["note"] = read_feed(app, show, published)

        with step("the app HEADs the enclosure") as note:
            head = app.head(published["audio_url"])
            check(head.status_code == 200, f"HEAD answered {head.status_code}")
            check(
                head.headers.get("content-length") == str(published["size_bytes"]),
                f"Content-Length {head.headers.get('content-length')}, "
                f"the feed says {published['size_bytes']}",
            )
            check(head.headers.get("accept-ranges") == "bytes", "no Accept-Ranges: bytes")
            note["note"] = f"{published['size_bytes']:,} bytes of {head.headers['content-type']}"

        with step("the app reads a range from the middle (206)") as note:
            size = published["size_bytes"]
            first, last = size // 2, size // 2 + 9_999
            part = app.get(published["audio_url"], headers={"Range": f"bytes={first}-{last}"})
            check(part.status_code == 206, f"the range answered {part.status_code}")
            check(
                part.headers.get("content-range") == f"bytes {first}-{last}/{size}",
                f"Content-Range {part.headers.get('content-range')}",
            )
            check(part.content == audio.content[first : last + 1], "the bytes differ")
            past = app.get(published["audio_url"], headers={"Range": f"bytes={size}-"})
            check(past.status_code == 416, f"a range past the end answered {past.status_code}")
            note["note"] = f"bytes {first:,}-{last:,} of {size:,}; past the end 416"
        app.close()

        with step("a long assembly is running, with its engine and ffmpeg") as note:
            long_job = api.expect(api.http.post(f"/api/episodes/{long_episode}/assemble"), 202)[
                "job_id"
            ]

            def engine_at_work() -> list[Seen]:
                family = engine_family(server.pid)
                has_ffmpeg = any(is_ffmpeg(item.cmdline.split()) for item in family)
                return family if has_ffmpeg and api.job(long_job)["status"] == "running" else []

            seen = wait_for(clock, "an engine running ffmpeg", engine_at_work, timeout_s=30)
            note["note"] = f"{len(seen)} processes: pids {', '.join(str(s.pid) for s in seen)}"

        with step("kill -9 the server mid-assembly") as note:
            progress = api.job(long_job).get("progress")
            seen = merge(seen, engine_family(server.pid))
            server.kill_hard()
            killed_at = time.time()
            time.sleep(0.5)
            alive = [item for item in seen if item.alive()]
            note["note"] = (
                f"at progress {progress}; half a second later {len(alive)} of "
                f"{len(seen)} engine/ffmpeg processes were still alive"
            )

        with step("the server restarts on the same data"):
            server.start(clock)
            api = Api(server.base_url)
            api.use_token(token)

        with step("no engine or ffmpeg from before the kill is left"):
            deadline = time.monotonic() + clock.bounded(5)
            left = strays(data_dir, seen, created_before=killed_at)
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left = strays(data_dir, seen, created_before=killed_at)
            check(not left, "still running 5 s after the restart: " + "; ".join(left))

        with step("the interrupted job recovers and finishes") as note:
            job = wait_for(
                clock,
                "the interrupted job",
                lambda: (j := api.job(long_job))["status"] not in ("queued", "running") and j,
                timeout_s=90,
                every_s=0.5,
            )
            check(
                job["status"] == "succeeded",
                f"the job ended {job['status']} after the restart: {job.get('error')}",
            )
            note["note"] = f"attempts {job.get('attempts')}"

        with step("a clean shutdown leaves no engine or ffmpeg"):
            seen = merge(seen, engine_family(server.pid))
            code = server.stop()
            # uvicorn re-raises the signal it stopped for, so SIGTERM is a clean exit too.
            check(code in (0, -signal.SIGTERM), f"the server exited {code}")
            left = strays(data_dir, seen, created_before=time.time())
            check(not left, "left running: " + "; ".join(left))
    except StepFailed:
        print(f"  server log:{server.log_tail()}", file=sys.stderr)
        raise
    finally:
        server.stop()
        reap_strays(data_dir, seen)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    clock = Clock()
    work_dir = Path(tempfile.mkdtemp(prefix="podplus-smoke-"))
    try:
        run(work_dir, clock)
    except StepFailed:
        print(f"smoke: FAILED after {time.monotonic() - clock.started:.1f} s", flush=True)
        return 1
    finally:
        if args.keep:
            print(f"kept {work_dir}")
        else:
            shutil.rmtree(work_dir, ignore_errors=True)
    print(f"smoke: all steps passed in {time.monotonic() - clock.started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``podplus`` client commands, run as a user runs them (a ``podplus`` process, its output
piped or on a terminal) against a real ``podplus serve`` with the real engine.

What a script relies on is pinned: exit codes (0 done, 1 refused, 2 usage, 3 the job failed,
4 no server), one JSON document with ``--json`` (progress as JSON lines before it), plain
lines when piped, a 0600 credentials file, and a token that never appears in any output."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from podplus.client.api import PodplusClient, _partial_path
from podplus.ids import new_id
from tests.audio_meter import decode, integrated_lufs, stream_layout
from tests.conftest import PASSWORD, LiveServer
from tests.media_files import image, speech, tone

pytestmark = pytest.mark.slow

TIMEOUT_S = 300


@dataclass
class Cli:
    """``podplus`` as a process of its own, in a folder of its own, with its own config dir."""

    server: LiveServer
    home: Path
    email: str
    outputs: list[str] = field(default_factory=list)

    @property
    def config_dir(self) -> Path:
        return self.home / "config" / "podplus"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PODPLUS_")}
        return {**env, "XDG_CONFIG_HOME": str(self.home / "config"), **extra}

    def __call__(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "podplus", *args],
            env=self.env(**extra),
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
        self.outputs += [done.stdout, done.stderr]
        return done

    def login(self) -> subprocess.CompletedProcess[str]:
        return self(
            "login", "--server", self.server.base_url, "--email", self.email,
            PODPLUS_PASSWORD=PASSWORD,
        )  # fmt: skip

    def token(self) -> str:
        return str(json.loads((self.config_dir / "credentials.json").read_text())["token"])

    def api(self) -> PodplusClient:
        return PodplusClient(self.server.base_url, token=self.token())

    def listed(self, path: str) -> list[dict[str, Any]]:
        """Every item of an API list, as the logged-in user sees it."""
        with self.api() as api:
            return list(api.pages(path))


@pytest.fixture(scope="module")
def server(module_live_server_factory: Callable[..., LiveServer]) -> LiveServer:
    """One server for the module: each test signs up an account of its own (``cli``)."""
    return module_live_server_factory().start()


def new_cli(server: LiveServer, home: Path) -> Iterator[Cli]:
    """A new account on ``server``, and the client in ``home``; at the end, no output showed
    its token."""
    email = f"ada-{new_id()[:12]}@example.com"
    created = httpx.post(
        f"{server.base_url}/api/users", json={"email": email, "password": PASSWORD}
    )
    assert created.status_code == 201, created.text
    home.mkdir()
    made = Cli(server, home, email)
    yield made
    # Whatever a command printed, on any stream, the token was never in it.
    if (made.config_dir / "credentials.json").exists():
        token = made.token()
        assert not any(token in text for text in made.outputs)


@pytest.fixture
def cli(server: LiveServer, tmp_path: Path) -> Iterator[Cli]:
    yield from new_cli(server, tmp_path / "home")


@pytest.fixture
def cli_with_own_server(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> Iterator[Cli]:
    """For the test that stops its server."""
    yield from new_cli(live_server_factory().start(), tmp_path / "home")


def one_document(stdout: str) -> dict[str, Any]:
    """--json's answer: the last line, a JSON object; every line before it is progress."""
    lines = stdout.splitlines()
    for line in lines[:-1]:
        assert json.loads(line)["event"] == "progress", line
    document: dict[str, Any] = json.loads(lines[-1])
    assert "event" not in document
    return document


def plain(text: str) -> bool:
    """Lines a pipe can take: no carriage returns, no terminal escapes."""
    return "\r" not in text and "\x1b" not in text


def test_login_keeps_a_token_only_its_owner_can_read_and_logout_ends_it(cli: Cli) -> None:
    logged_in = cli.login()
    assert logged_in.returncode == 0, logged_in.stderr
    assert f"as {cli.email}" in logged_in.stdout
    credentials = cli.config_dir / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(cli.config_dir.stat().st_mode) == 0o700
    # Written by rename: no temporary file is left beside it.
    assert sorted(p.name for p in cli.config_dir.iterdir()) == ["credentials.json"]
    # A client command needs no server settings, and leaves no ./var behind.
    assert not (cli.home / "var").exists()
    token = cli.token()
    assert (
        httpx.get(
            f"{cli.server.base_url}/api/users/me", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )

    logged_out = cli("logout")
    assert logged_out.returncode == 0, logged_out.stderr
    assert not credentials.exists()
    # Ended on the server too, not only forgotten here.
    assert (
        httpx.get(
            f"{cli.server.base_url}/api/users/me", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 401
    )
    after = cli("episodes")
    assert after.returncode == 2
    assert "Not logged in" in after.stderr
    assert not any(token in text for text in cli.outputs)


@pytest.mark.parametrize(
    ("with_email", "extra", "code", "says"),
    [
        (True, {"PODPLUS_PASSWORD": "wrong password!"}, 1, "(unauthorized, HTTP 401)"),
        (True, {}, 2, "Set PODPLUS_PASSWORD"),
        (False, {"PODPLUS_PASSWORD": PASSWORD}, 2, "--email is required"),
    ],
)
def test_a_login_that_cannot_be_made_stores_nothing(
    cli: Cli, with_email: bool, extra: dict[str, str], code: int, says: str
) -> None:
    args = ["--email", cli.email] if with_email else []
    refused = cli("login", "--server", cli.server.base_url, *args, **extra)
    assert refused.returncode == code, refused.stderr
    assert says in refused.stderr
    assert not cli.config_dir.exists()


def test_a_bad_server_url_is_a_usage_error_and_no_server_is_exit_4(
    cli_with_own_server: Cli,
) -> None:
    cli = cli_with_own_server
    bad = cli(
        "login", "--server", "ftp://example.com", "--email", cli.email, PODPLUS_PASSWORD=PASSWORD
    )
    assert bad.returncode == 2 and "--server" in bad.stderr
    assert cli.login().returncode == 0
    cli.server.stop()
    for args in (["episodes"], ["episodes", "--json"], ["upload", str(tone(cli.home / "a.wav"))]):
        gone = cli(*args)
        assert gone.returncode == 4, (args, gone.stderr)
        assert "Cannot reach the server" in gone.stderr
    as_json = cli("episodes", "--json")
    assert json.loads(as_json.stdout)["error"]["code"] == "unreachable"


def test_upload_prints_plain_lines_when_piped_and_one_document_with_json(cli: Cli) -> None:
    assert cli.login().returncode == 0
    take = tone(cli.home / "take1.wav", seconds=1.0)
    sting = tone(cli.home / "sting.wav", seconds=0.5, frequency_hz=880)
    uploaded = cli("upload", str(take), str(sting))
    assert uploaded.returncode == 0, uploaded.stderr
    assert plain(uploaded.stdout)
    assert "upload take1.wav: 100%" in uploaded.stdout
    assert uploaded.stdout.rstrip().endswith("sting.wav")

    as_json = cli("upload", str(sting), "--kind", "intro", "--json")
    assert as_json.returncode == 0, as_json.stderr
    [item] = one_document(as_json.stdout)["items"]
    assert (item["filename"], item["kind"]) == ("sting.wav", "intro")

    listed = {m["filename"] for m in cli.listed("/api/media")}
    assert listed == {"take1.wav", "sting.wav"}


def test_upload_refusals_have_their_exit_codes_and_say_why(cli: Cli) -> None:
    assert cli.login().returncode == 0
    take = tone(cli.home / "take1.wav", seconds=1.0)
    cover = image(cli.home / "cover.png")
    missing = cli("upload", str(cli.home / "nope.wav"))
    assert missing.returncode == 2 and "nope.wav: no such file" in missing.stderr
    bad_kind = cli("upload", str(take), "--kind", "poster")
    assert bad_kind.returncode == 2  # argparse's own usage error

    refused = cli("upload", str(take), str(cover), "--json")
    assert refused.returncode == 1
    assert "(unsupported_media, HTTP 415)" in refused.stderr
    answer = one_document(refused.stdout)
    assert answer["error"]["status"] == 415
    assert answer["error"]["message"].startswith("The upload can't be read as an audio file")
    # What was uploaded before the refusal is in the answer, so a script can carry on.
    assert [item["filename"] for item in answer["items"]] == ["take1.wav"]


def test_episodes_lists_them_and_json_is_one_document(cli: Cli) -> None:
    assert cli.login().returncode == 0
    empty = cli("episodes")
    assert (empty.returncode, empty.stdout.strip()) == (0, "No episodes yet.")
    with cli.api() as api:
        take_id = api.upload(tone(cli.home / "take.wav", seconds=1.0))["id"]
    for title in ("First", "Second"):
        made = httpx.post(
            f"{cli.server.base_url}/api/episodes",
            headers={"Authorization": f"Bearer {cli.token()}"},
            json={"title": title, "segments": [{"media_id": take_id}]},
        )
        assert made.status_code == 201, made.text
    listed = cli("episodes")
    assert listed.returncode == 0 and plain(listed.stdout)
    assert [line.split()[-1] for line in listed.stdout.splitlines()[1:]] == ["Second", "First"]
    items = one_document(cli("episodes", "--json").stdout)["items"]
    assert [item["title"] for item in items] == ["Second", "First"]
    assert {item["status"] for item in items} == {"draft"}


def test_assemble_waits_downloads_and_reports_a_failed_job_with_exit_3(cli: Cli) -> None:
    assert cli.login().returncode == 0
    with cli.api() as api:
        take = api.upload(tone(cli.home / "take.wav", seconds=2.0))
    auth = {"Authorization": f"Bearer {cli.token()}"}

    def new_episode(title: str) -> str:
        made = httpx.post(
            f"{cli.server.base_url}/api/episodes",
            headers=auth,
            json={"title": title, "segments": [{"media_id": take["id"]}]},
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    episode_id = new_episode("Good")
    out = cli.home / "good.m4a"
    waited = cli("assemble", episode_id, "--download", str(out), "--json")
    assert waited.returncode == 0, waited.stderr
    lines = [json.loads(line) for line in waited.stdout.splitlines()]
    stages = [line.get("stage") for line in lines[:-1]]
    assert "assembly" in stages and stages[-1] == "download"
    answer = one_document(waited.stdout)
    assert answer["job"]["status"] == "succeeded" and answer["episode"]["status"] == "ready"
    assert answer["download"] == {"path": str(out), "size_bytes": out.stat().st_size}
    assert (
        out.read_bytes()
        == httpx.get(f"{cli.server.base_url}/api/episodes/{episode_id}/audio", headers=auth).content
    )
    assert sorted(p.name for p in cli.home.iterdir() if p.name.startswith(".")) == []

    again = cli("assemble", episode_id)
    assert again.returncode == 0 and "Queued job" in again.stdout

    unknown = cli("assemble", "0123456789abcdef0123456789abcdef", "--wait")
    assert unknown.returncode == 1 and "(not_found, HTTP 404)" in unknown.stderr

    # The take's file gone from the server's disk: the real engine can't read it.
    doomed = new_episode("Doomed")
    (cli.server.data_dir / "media" / take["id"]).unlink()
    failed = cli("assemble", doomed, "--wait", "--json")
    assert failed.returncode == 3, failed.stderr
    assert "The assembly failed" in failed.stderr
    answer = one_document(failed.stdout)
    assert answer["error"]["code"] == "job_failed" and answer["job"]["status"] == "failed"


def test_produce_with_the_real_engine_downloads_audio_on_loudness_target(cli: Cli) -> None:
    assert cli.login().returncode == 0
    take = speech(
        cli.home / "take.wav",
        "Welcome to the engine room. Today we take apart a podcast and put it back together.",
    )
    auth = {"Authorization": f"Bearer {cli.token()}"}
    show = httpx.post(
        f"{cli.server.base_url}/api/shows",
        headers=auth,
        json={
            "title": "The Engine Room", "description": "Machines.", "author": "Ada",
            "owner_name": "Ada", "owner_email": cli.email, "language": "en",
            "category": "Technology",
            "slug": "engine-room", "defaults": {"tags": {"artist": "Ada"}},
        },
    )  # fmt: skip
    assert show.status_code == 201, show.text
    out = cli.home / "out.mp3"
    produced = cli(
        "produce", str(take), "--show", "engine-room", "--title", "Pilot",
        "--wait", "--download", str(out),
    )  # fmt: skip
    assert produced.returncode == 0, produced.stderr
    assert plain(produced.stdout)
    assert "Saved " in produced.stdout and "succeeded 100%" in produced.stdout

    audio = decode(out)
    assert abs(integrated_lufs(audio) - -16.0) <= 0.5
    assert stream_layout(out)[0] == 44100
    [episode] = cli.listed("/api/episodes")
    assert (episode["title"], episode["show_id"], episode["output"]["format"]) == (
        "Pilot", show.json()["id"], "mp3",
    )  # fmt: skip
    assert episode["tags"] == {"artist": "Ada"}
    # Nothing half-written beside the download.
    assert sorted(p.name for p in cli.home.iterdir()) == ["config", "out.mp3", "take.wav"]


def test_produce_refusals_have_their_exit_codes(cli: Cli) -> None:
    assert cli.login().returncode == 0
    take = tone(cli.home / "take.wav", seconds=1.0)
    cover = image(cli.home / "cover.png")
    no_folder = cli("produce", str(take), "--download", str(cli.home / "nowhere" / "out.mp3"))
    assert no_folder.returncode == 2 and "--download" in no_folder.stderr
    not_audio = cli("produce", str(take), str(cover))
    assert not_audio.returncode == 1
    assert "files[1]: The upload can't be read" in not_audio.stderr
    bad_options = cli("produce", str(take), "--options", '{"crossfade_s": 99}', "--json")
    assert bad_options.returncode == 1
    assert one_document(bad_options.stdout)["error"]["message"] == (
        "options.crossfade_s: must be a number ≤ 30"
    )
    no_show = cli("produce", str(take), "--show", "no-such-show")
    assert no_show.returncode == 1 and "show_id: no show with id" in no_show.stderr
    # Nothing was stored by any of them.
    assert cli.listed("/api/media") == []


def test_a_terminal_gets_a_live_bar(cli: Cli) -> None:
    assert cli.login().returncode == 0
    take = tone(cli.home / "take.wav", seconds=1.0)
    output = run_on_a_terminal(cli, "produce", str(take), "--wait")
    assert "\r\x1b[K" in output
    assert "[##############################] 100%" in output
    assert "Assembled episode" in output


def run_on_a_terminal(cli: Cli, *args: str) -> str:
    """``podplus args`` with its stdout on a pseudo-terminal; everything it wrote there."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "podplus", *args],
        env=cli.env(),
        cwd=cli.home,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=subprocess.PIPE,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], TIMEOUT_S)
        if not ready:
            process.kill()
            raise AssertionError("no output from the terminal")
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the follower side closed: the process is done writing
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    _, errors = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0, errors
    text = b"".join(chunks).decode(errors="replace")
    cli.outputs.append(text)
    return text


def test_an_interrupted_download_resumes_where_it_stopped(cli: Cli) -> None:
    assert cli.login().returncode == 0
    take = tone(cli.home / "take.wav", seconds=2.0)
    produced = cli("produce", str(take), "--wait", "--json")
    assert produced.returncode == 0, produced.stderr
    episode_id = one_document(produced.stdout)["episode"]["id"]
    with cli.api() as api:
        whole = cli.home / "whole.mp3"
        api.download(episode_id, whole)
        audio = whole.read_bytes()
        etag = httpx.head(
            f"{cli.server.base_url}/api/episodes/{episode_id}/audio",
            headers={"Authorization": f"Bearer {cli.token()}"},
        ).headers["etag"]
        # What an interrupted run left: the first half, here marked so a resume shows.
        resumed = cli.home / "resumed.mp3"
        half = len(audio) // 2
        _partial_path(resumed, etag).write_bytes(b"\xff" * half)
        size_bytes = api.download(episode_id, resumed)
    assert size_bytes == len(audio)
    # Only the second half was fetched: the marked first half is still there.
    assert resumed.read_bytes() == b"\xff" * half + audio[half:]
    assert not _partial_path(resumed, etag).exists()

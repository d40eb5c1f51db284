"""podplus as users run it: a real ``podplus serve`` (uvicorn) process, the real engine,
real ffmpeg. Includes the crash that podplus was built to survive."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from podplus.app import create_app
from tests.conftest import PASSWORD, LiveServer, register
from tests.media_files import speech, tone

pytestmark = pytest.mark.slow


def login(base_url: str, email: str = "ada@example.com") -> dict[str, str]:
    created = httpx.post(f"{base_url}/api/users", json={"email": email, "password": PASSWORD})
    assert created.status_code == 201, created.text
    token = httpx.post(f"{base_url}/api/auth/token", data={"username": email, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def upload(base_url: str, auth: dict[str, str], path: Path, kind: str = "content") -> str:
    with path.open("rb") as handle:
        response = httpx.post(
            f"{base_url}/api/media",
            headers=auth,
            files={"file": (path.name, handle)},
            data={"kind": kind},
            timeout=60,
        )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def poll_job(
    base_url: str,
    auth: dict[str, str],
    job_id: str,
    until: Callable[[dict[str, Any]], bool],
    timeout_s: float = 60,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = httpx.get(f"{base_url}/api/jobs/{job_id}", headers=auth).json()
        if until(job):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never got there: {job}")


def wait_until(condition: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "never happened"
        time.sleep(0.05)


def engine_tree(server: LiveServer) -> list[psutil.Process]:
    """The server's engines and their ffmpeg children (other servers on this machine aside)."""
    assert server.process is not None
    try:
        family = psutil.Process(server.process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]


def test_the_login_flow_over_real_http(live_server: LiveServer) -> None:
    auth = login(live_server.base_url)
    me = httpx.get(f"{live_server.base_url}/api/users/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["email"] == "ada@example.com"
    assert httpx.get(f"{live_server.base_url}/api/users/me").status_code == 401


def test_upload_describe_assemble_download(live_server: LiveServer, tmp_path: Path) -> None:
    base = live_server.base_url
    auth = login(base)
    intro = upload(base, auth, tone(tmp_path / "intro.wav", seconds=2, frequency_hz=660), "intro")
    take = upload(base, auth, speech(tmp_path / "take.wav"))
    bed = upload(base, auth, tone(tmp_path / "bed.mp3", seconds=3, frequency_hz=220), "music")
    episode = httpx.post(
        f"{base}/api/episodes",
        headers=auth,
        json={
            "title": "End to end",
            "intro_id": intro,
            "segments": [{"media_id": take}],
            "music_bed": {"media_id": bed, "gain_db": -18, "duck": True},
            "crossfade_s": 0.5,
            "output": {"format": "mp3", "bitrate_kbps": 96},
            "tags": {"artist": "podplus tests"},
        },
    ).json()
    started = time.monotonic()
    queued = httpx.post(f"{base}/api/episodes/{episode['id']}/assemble", headers=auth)
    assert queued.status_code == 202
    job = poll_job(
        base, auth, queued.json()["job_id"], lambda j: j["status"] not in ("queued", "running")
    )
    assert job["status"] == "succeeded", job
    ready = httpx.get(f"{base}/api/episodes/{episode['id']}", headers=auth).json()
    assert ready["status"] == "ready"
    assert ready["integrated_lufs"] == pytest.approx(-16, abs=0.5)
    audio = httpx.get(f"{base}{ready['audio_url']}", headers=auth)
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/mpeg"
    output = tmp_path / "episode.mp3"
    output.write_bytes(audio.content)
    report = json.loads(
        subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-print_format",
                "json",
                "-show_format",
                "-show_streams",
                str(output),
            ],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    )
    assert report["format"]["format_name"] == "mp3"
    assert float(report["format"]["duration"]) == pytest.approx(ready["duration_s"], abs=0.1)
    assert report["format"]["tags"]["artist"] == "podplus tests"
    assert time.monotonic() - started < 60


def test_kill_9_mid_assembly_then_restart_recovers_the_job(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server_factory().start()
    base = server.base_url
    auth = login(base)
    # Long enough to still be assembling when the server dies.
    take = upload(base, auth, tone(tmp_path / "long.flac", seconds=240))
    episode = httpx.post(
        f"{base}/api/episodes",
        headers=auth,
        json={"title": "Crash", "segments": [{"media_id": take}]},
    ).json()
    job_id = httpx.post(f"{base}/api/episodes/{episode['id']}/assemble", headers=auth).json()[
        "job_id"
    ]
    work = server.data_dir / "scratch" / "work"
    # Rendering: the float intermediate is being written.
    wait_until(lambda: bool(list((work / job_id).glob(".podplus-*/mix.f32le"))))
    before = engine_tree(server)
    assert any("ffmpeg" in p.name() for p in before), "an engine should be running"

    server.kill_hard()
    # The engine and its ffmpeg die with their parent (PR_SET_PDEATHSIG); give them a moment.
    _, survivors = psutil.wait_procs(before, timeout=5)
    print("survivors after kill -9:", [p.pid for p in survivors])
    # Killed, the engine cleaned nothing: its float intermediate is still there.
    assert list((work / job_id).glob(".podplus-*/mix.f32le"))

    restarted = live_server_factory(server.data_dir).start()
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in before)
    # The sweep took the dead run's folder away before it queued the job again.
    assert re.search(
        r"event=supervisor\.boot_sweep killed=\d requeued=1 failed=0 work_removed=1", restarted.log
    )
    job = poll_job(
        restarted.base_url,
        auth,
        job_id,
        lambda j: j["status"] != "queued" and j["status"] != "running",
        timeout_s=120,
    )
    assert job["status"] == "succeeded", job
    assert job["attempts"] == 2 and job["error"] is None
    assert engine_tree(restarted) == []

    # The log says so, with no traceback anywhere.
    assert (
        f"event=tasks.assemble.finished episode_id={episode['id']} job_id={job_id} "
        "status=succeeded" in restarted.log
    )
    assert "Traceback" not in restarted.log
    # The files: nothing of the job in work/, the episode's audio in place.
    assert list(work.iterdir()) == []
    ready = httpx.get(f"{restarted.base_url}/api/episodes/{episode['id']}", headers=auth).json()
    # Named for its attempt (the second): a late first attempt could overwrite nothing.
    audio = server.data_dir / "media" / "episodes" / f"{episode['id']}-{job_id}-2.mp3"
    assert ready["status"] == "ready" and audio.stat().st_size == ready["size_bytes"] > 0
    # The rows: the job succeeded on its second attempt; both engines are recorded as over.
    with sqlite3.connect(server.data_dir / "podplus.db") as database:
        row = database.execute(
            "SELECT status, attempts, error, failure_cause, lease_expires_at FROM jobs "
            "WHERE id = ?",
            (job_id,),
        ).fetchone()
        engines = database.execute(
            "SELECT count(*), count(ended_at) FROM processes WHERE job_id = ?", (job_id,)
        ).fetchone()
    assert row == ("succeeded", 2, None, None, None)
    assert engines == (2, 2)


def test_me_keeps_answering_while_two_assemblies_run(
    live_server: LiveServer, tmp_path: Path
) -> None:
    base = live_server.base_url
    auth = login(base)
    take = upload(base, auth, tone(tmp_path / "long.flac", seconds=180))
    jobs = []
    for number in range(2):
        episode = httpx.post(
            f"{base}/api/episodes",
            headers=auth,
            json={"title": f"Load {number}", "segments": [{"media_id": take}]},
        ).json()
        jobs.append(
            httpx.post(f"{base}/api/episodes/{episode['id']}/assemble", headers=auth).json()[
                "job_id"
            ]
        )
    for job_id in jobs:
        poll_job(base, auth, job_id, lambda j: j["status"] == "running")
    latencies = []
    with httpx.Client(base_url=base, headers=auth) as client:
        for _ in range(50):
            started = time.perf_counter()
            assert client.get("/api/users/me").status_code == 200
            latencies.append(time.perf_counter() - started)
    running = [httpx.get(f"{base}/api/jobs/{j}", headers=auth).json()["status"] for j in jobs]
    # Loose on purpose: the benchmark measures; this only says "answers, not minutes".
    assert max(latencies) < 1.0
    assert "running" in running


def channel_less(wav: Path) -> bytes:
    """``wav`` with its channel count zeroed: ffprobe fails on it with a line that names the
    decoder by its heap address (``[pcm_s16le @ 0x55…] Decoder requires channel count``)."""
    data = wav.read_bytes()
    return data[:22] + b"\0\0" + data[24:]


def assert_nothing_internal(error: str, data_dir: Path) -> None:
    assert str(data_dir) not in error
    assert not re.search(r"(^|[\s'\"(\[])/\w", error), error  # no absolute path at all
    assert not re.search(r"0x[0-9a-fA-F]+", error), error
    assert "Traceback" not in error and 'File "' not in error


async def test_a_corrupt_input_fails_the_job_naming_the_part_not_the_path(  # type: ignore[no-untyped-def]
    client, auth, settings, tmp_path, caplog
) -> None:
    from tests.api import finished, wait_for

    caplog.set_level("INFO")
    clip = tone(tmp_path / "take.wav", seconds=2)
    media, episode = await one_part_episode(client, auth, clip)
    # The stored file goes bad on disk after it was accepted.
    stored = settings.media_root / media["id"]
    stored.write_bytes(channel_less(stored))
    queued = await client.post(f"/api/episodes/{episode['id']}/assemble", headers=auth)
    job_id = queued.json()["job_id"]
    job = await wait_for(client, auth, job_id, finished, timeout_s=30)
    assert job["status"] == "failed"
    assert job["error"].startswith("The assembly failed: take.wav: ffprobe can't read it: ")
    assert "Decoder requires channel count" in job["error"]
    assert_nothing_internal(job["error"], settings.data_dir)
    # The log has it all, beside the job id: the path and the address included.
    failed = next(line for line in caplog.text.splitlines() if "tasks.assemble.failed" in line)
    assert f"job_id={job_id}" in failed and str(stored) in failed and " @ 0x" in failed
    assert list((settings.scratch_dir / "work").iterdir()) == []


async def test_an_engine_that_breaks_shows_no_traceback(  # type: ignore[no-untyped-def]
    settings, tmp_path, caplog
) -> None:
    from tests.api import finished, new_episode, wait_for

    caplog.set_level("INFO")
    # The real engine, short of file descriptors (as on a host at its limits): it dies of
    # an OSError with a Python traceback full of the server's paths.
    starved = ("prlimit", "--nofile=8:8", "--", *settings.engine_command)
    app = create_app(replace(settings, engine_command=starved))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            auth = await register(client)
            episode_id = await new_episode(client, auth, tmp_path)
            queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
            job_id = queued.json()["job_id"]
            job = await wait_for(client, auth, job_id, finished, timeout_s=30)
    assert job["status"] == "failed"
    assert job["error"] == "The assembly failed; the server log has the details."
    assert_nothing_internal(job["error"], settings.data_dir)
    failed = next(line for line in caplog.text.splitlines() if "tasks.assemble.failed" in line)
    assert f"job_id={job_id}" in failed and "Traceback" in failed
    assert "Too many open files" in failed


async def test_kill_9_of_the_engine_fails_the_job_and_leaves_no_work(  # type: ignore[no-untyped-def]
    client, auth, settings, tmp_path
) -> None:
    from tests.api import finished, wait_for

    clip = tone(tmp_path / "long.flac", seconds=240)
    media, episode = await one_part_episode(client, auth, clip)
    queued = await client.post(f"/api/episodes/{episode['id']}/assemble", headers=auth)
    job_id = queued.json()["job_id"]
    work = settings.scratch_dir / "work"
    # Rendering: the float intermediate is being written.
    for _ in range(600):
        if list((work / job_id).glob(".podplus-*/mix.f32le")):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the engine never started rendering")
    [engine] = [
        child
        for child in psutil.Process().children()
        if "podplus.engine" in " ".join(child.cmdline())
    ]
    engine.kill()  # the engine alone: its ffmpeg go with it (PR_SET_PDEATHSIG)
    job = await wait_for(client, auth, job_id, finished, timeout_s=30)
    assert (job["status"], job["error"]) == ("failed", "engine crashed (killed by SIGKILL)")
    assert list(work.iterdir()) == []


async def one_part_episode(client, auth, clip):  # type: ignore[no-untyped-def]
    """Upload ``clip`` and describe an episode of it alone: (the media, the episode)."""
    media = (
        await client.post(
            "/api/media", headers=auth, files={"file": (clip.name, clip.read_bytes())}
        )
    ).json()
    episode = (
        await client.post(
            "/api/episodes",
            headers=auth,
            json={"title": "x", "segments": [{"media_id": media["id"]}]},
        )
    ).json()
    return media, episode

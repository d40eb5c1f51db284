"""The runner, through the HTTP API: queue, claim, progress, finish, cancel, time out.

These drive the runner with the stand-in engine so each ending can be forced; the
real engine's end-to-end runs are in ``tests/test_end_to_end.py``, and what one
assembly does, without the queue, is pinned in ``test_assembly.py``.
"""

from __future__ import annotations

import asyncio
import time

import psutil

from podplus.settings import Settings
from podplus.storage.database import connect, open_database
from podplus.storage.jobs import FailureCause, Job, JobStore
from tests.api import finished, new_episode, served, wait_for
from tests.conftest import register
from tests.jobs.worker_processes import still_running


async def stored(settings: Settings, job_id: str) -> Job:
    """The job's row as the table holds it (with what the API doesn't show)."""
    database = open_database(settings.database_url)
    await connect(database)
    try:
        job = await JobStore(database).get(job_id)
    finally:
        await database.disconnect()
    assert job is not None
    return job


def work_left(settings: Settings) -> list[str]:
    """What assemblies left in the work folder: nothing, once they are done."""
    return [path.name for path in (settings.scratch_dir / "work").iterdir()]


async def test_assemble_answers_202_and_the_job_runs_to_ready(settings, tmp_path, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level("INFO")
    async with served(settings, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        response = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        assert response.status_code == 202
        job_id = response.json()["job_id"]
        assert response.json()["status"] == "queued"
        assert response.headers["location"] == f"/api/jobs/{job_id}"
        job = await wait_for(client, auth, job_id, finished)
        assert job["status"] == "succeeded"
        assert job["progress"] == 1.0 and job["attempts"] == 1
        assert job["started_at"] and job["finished_at"]
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        assert episode["status"] == "ready"
        assert episode["job"]["id"] == job_id
        assert episode["audio_url"] == f"/api/episodes/{episode_id}/audio"
        assert episode["integrated_lufs"] == -16.0
        assert episode["size_bytes"] == len(b"ID3 not really audio")
        listed = (await client.get("/api/jobs", headers=auth)).json()["items"]
        assert [item["id"] for item in listed] == [job_id]
        assert (await stored(settings, job_id)).failure_cause is None
        assert work_left(settings) == []
    assert f"event=tasks.assemble.dispatched episode_id={episode_id} job_id={job_id} pid=" in (
        caplog.text
    )
    assert f"job_id={job_id} status=succeeded seconds=" in caplog.text


async def test_the_audio_serves_ranges_and_an_etag(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        await wait_for(client, auth, job_id, finished)
        whole = await client.get(f"/api/episodes/{episode_id}/audio", headers=auth)
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "audio/mpeg"
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["etag"]
        part = await client.get(
            f"/api/episodes/{episode_id}/audio", headers={**auth, "Range": "bytes=4-7"}
        )
        assert part.status_code == 206
        assert part.content == whole.content[4:8]
        assert part.headers["content-range"] == f"bytes 4-7/{len(whole.content)}"
        # No token in the query string (see tests/web/test_episode_audio.py).
        token = auth["Authorization"].split()[1]
        by_query = await client.get(f"/api/episodes/{episode_id}/audio?access_token={token}")
        assert by_query.status_code == 401


async def test_a_second_assemble_while_one_is_live_is_409(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "hang") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        first = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        second = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        assert first.status_code == 202
        assert second.status_code == 409
        await client.post(f"/api/jobs/{first.json()['job_id']}/cancel", headers=auth)


async def test_a_failing_engine_fails_the_job_with_its_message(settings, tmp_path, caplog):  # type: ignore[no-untyped-def]
    caplog.set_level("INFO")
    async with served(settings, "fail") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        job = await wait_for(client, auth, job_id, finished)
        assert job["status"] == "failed"
        assert "Invalid data found" in job["error"]
        assert (await stored(settings, job_id)).failure_cause is FailureCause.ENGINE_ERROR
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        assert episode["status"] == "failed" and episode["audio_url"] is None
        assert work_left(settings) == []
    # The whole of the engine's words go to the log, beside the job id.
    assert f"event=tasks.assemble.failed episode_id={episode_id} job_id={job_id} " in caplog.text
    assert f"job_id={job_id} status=failed" in caplog.text


async def test_a_crashed_engine_fails_the_job_and_the_next_one_starts(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "crash", max_concurrent_assemblies=1) as (client, auth):
        first = await new_episode(client, auth, tmp_path)
        second = await new_episode(client, auth, tmp_path)
        jobs = [
            (await client.post(f"/api/episodes/{e}/assemble", headers=auth)).json()["job_id"]
            for e in (first, second)
        ]
        results = [await wait_for(client, auth, job_id, finished) for job_id in jobs]
        assert [job["error"] for job in results] == ["engine crashed (killed by SIGSEGV)"] * 2
        causes = [(await stored(settings, job_id)).failure_cause for job_id in jobs]
        assert causes == [FailureCause.CRASHED] * 2
        # The crashed engine's temporary folder went with its work folder.
        assert work_left(settings) == []


async def test_cancel_kills_the_group_within_two_seconds(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "child-then-hang") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        await wait_for(client, auth, job_id, lambda job: job["phase"] == "render")
        engines = [
            p for p in psutil.Process().children() if "stand_in_engine.py" in " ".join(p.cmdline())
        ]
        group = [engines[0], *engines[0].children(recursive=True)]
        started = time.monotonic()
        response = await client.post(f"/api/jobs/{job_id}/cancel", headers=auth)
        assert response.status_code == 202
        job = await wait_for(client, auth, job_id, finished, timeout_s=2)
        alive = still_running(group, timeout_s=max(0.1, 2 - (time.monotonic() - started)))
        assert job["status"] == "cancelled"
        assert alive == []
        assert (await stored(settings, job_id)).failure_cause is None
        assert work_left(settings) == []
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        assert episode["status"] == "draft"
        again = await client.post(f"/api/jobs/{job_id}/cancel", headers=auth)
        assert again.status_code == 409


async def test_a_queued_job_is_cancelled_before_it_starts(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "hang", max_concurrent_assemblies=1) as (client, auth):
        busy = await new_episode(client, auth, tmp_path)
        waiting = await new_episode(client, auth, tmp_path)
        busy_job = (await client.post(f"/api/episodes/{busy}/assemble", headers=auth)).json()
        queued = (await client.post(f"/api/episodes/{waiting}/assemble", headers=auth)).json()
        response = await client.post(f"/api/jobs/{queued['job_id']}/cancel", headers=auth)
        assert response.status_code == 202
        assert response.json()["status"] == "cancelled"
        assert response.json()["attempts"] == 0
        await client.post(f"/api/jobs/{busy_job['job_id']}/cancel", headers=auth)


async def test_the_wall_clock_limit_fails_the_job_with_timeout(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "child-then-hang", assembly_timeout_s=1.0) as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        job = await wait_for(client, auth, job_id, finished, timeout_s=10)
        assert (job["status"], job["error"]) == ("failed", "timeout")
        assert (await stored(settings, job_id)).failure_cause is FailureCause.TIMEOUT
        assert work_left(settings) == []


async def test_media_in_use_by_a_running_assembly_cannot_be_deleted(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "hang") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        media_id = episode["segments"][0]["media_id"]
        job = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()
        assert (await client.delete(f"/api/media/{media_id}", headers=auth)).status_code == 409
        assert (await client.delete(f"/api/episodes/{episode_id}", headers=auth)).status_code == 409
        assert (
            await client.patch(f"/api/episodes/{episode_id}", headers=auth, json={"title": "x"})
        ).status_code == 409
        await client.post(f"/api/jobs/{job['job_id']}/cancel", headers=auth)
        await wait_for(client, auth, job["job_id"], finished)
        assert (await client.delete(f"/api/media/{media_id}", headers=auth)).status_code == 204


async def test_fifty_concurrent_writes_beside_progress_never_lock(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(settings, "chatty", progress_write_interval_s=0.0) as (client, auth):
        episodes = [await new_episode(client, auth, tmp_path) for _ in range(2)]
        for episode_id in episodes:
            await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
        clip_media = (await client.get("/api/media", headers=auth)).json()["items"][0]["id"]
        writes = [
            client.post(
                "/api/episodes",
                headers=auth,
                json={"title": f"Ep {n}", "segments": [{"media_id": clip_media}]},
            )
            for n in range(50)
        ]
        responses = await asyncio.gather(*writes)
        assert [r.status_code for r in responses] == [201] * 50
        jobs = (await client.get("/api/jobs", headers=auth)).json()["items"]
        assert all(job["status"] == "running" for job in jobs), "progress must overlap the writes"
        listed = await client.get("/api/episodes?limit=100", headers=auth)
        assert len(listed.json()["items"]) == 52


async def test_past_the_active_jobs_quota_assemble_is_429_and_queues_nothing(settings, tmp_path):  # type: ignore[no-untyped-def]
    async with served(
        settings, "hang", max_concurrent_assemblies=1, max_active_jobs_per_user=2
    ) as (client, auth):
        episodes = [await new_episode(client, auth, tmp_path) for _ in range(3)]
        accepted = [
            await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
            for episode_id in episodes[:2]
        ]
        assert [response.status_code for response in accepted] == [202, 202]
        refused = await client.post(f"/api/episodes/{episodes[2]}/assemble", headers=auth)
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "quota_exceeded"
        assert "active jobs quota (2)" in refused.json()["error"]["message"]
        jobs = (await client.get("/api/jobs", headers=auth)).json()["items"]
        assert len(jobs) == 2
        episode = (await client.get(f"/api/episodes/{episodes[2]}", headers=auth)).json()
        assert episode["status"] == "draft" and episode["job"] is None
        # The quota is each user's own: someone else still gets in.
        other = await register(client, "grace@example.com")
        theirs = await new_episode(client, other, tmp_path)
        response = await client.post(f"/api/episodes/{theirs}/assemble", headers=other)
        assert response.status_code == 202
        for job in jobs:
            await client.post(f"/api/jobs/{job['id']}/cancel", headers=auth)
        await client.post(f"/api/jobs/{response.json()['job_id']}/cancel", headers=other)

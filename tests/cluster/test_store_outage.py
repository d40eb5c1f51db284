"""The store goes away for a few seconds (``weed mini`` killed, then started again on the
same ports and data) while a job runs, one waits in the queue and a user uploads: the
API answers 503 in JSON meanwhile, jobs end (failed with the store as cause, or retried
and done), none hangs, and once the store is back everything works again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.conftest import (
    Studio,
    alive,
    engine_starts,
    job_row,
    running_cluster,
    wait_until,
)
from tests.media_files import tone

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # A store that doesn't answer in 3 s counts as down (the default is 30 s).
    with running_cluster(tmp_path_factory.mktemp("cluster"), PODPLUS_S3_TIMEOUT_S="3") as running:
        yield running


def test_jobs_end_cleanly_and_the_api_answers_503_while_the_store_is_down(
    cluster: Any, studio: Studio, tmp_path: Path
) -> None:
    running_title = "Outage while running, hold 4s"
    running_job = studio.assemble(studio.episode(running_title, [studio.upload()]))
    queued_episode = studio.episode("Outage while queued", [studio.upload(frequency_hz=660)])
    engine = wait_until("the engine to start", lambda: engine_starts(cluster, running_title))[0]
    media_before = studio.clients[0].get("/api/media").json()

    cluster.store.kill()
    try:
        queued_job = studio.assemble(queued_episode, api=1)
        clip = tone(tmp_path / "refused.wav", seconds=2)
        refused = studio.clients[0].post(
            "/api/media", files={"file": (clip.name, clip.read_bytes(), "audio/wav")}
        )
        # Down until the running job's engine is over, so its upload meets the outage.
        wait_until("the engine to finish", lambda: not alive(engine["pid"]), timeout_s=120)
    finally:
        cluster.store.restart()

    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"].startswith("application/json")
    assert refused.json()["error"]["code"] == "store_unavailable"
    # The refused upload left nothing behind.
    assert studio.clients[0].get("/api/media").json() == media_before
    for job_id in (running_job, queued_job):
        job = studio.finished_job(job_id, timeout_s=120)  # never hangs
        if job["status"] == "failed":
            assert job_row(cluster, job_id)["failure_cause"] == "store_unavailable", job
            assert "store" in (job["error"] or "").lower(), job
        else:
            assert job["status"] == "succeeded", job


def test_after_the_store_is_back_uploads_and_assemblies_work_again(
    cluster: Any, studio: Studio
) -> None:
    episode_id = studio.episode("After the outage", [studio.upload()])

    job = studio.finished_job(studio.assemble(episode_id))

    assert job["status"] == "succeeded", job
    audio = studio.clients[1].get(f"/api/episodes/{episode_id}/audio")
    assert audio.status_code == 200
    assert len(audio.content) > 10_000

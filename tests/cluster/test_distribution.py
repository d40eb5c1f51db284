"""Jobs carried to workers on other "machines": uploaded through one API, assembled on a
worker from the store, served by the other API; a worker lost mid-job; a cancel that
reaches the worker running the job. Real processes throughout (``scripts/cluster.py``)."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Any

import psutil
import psycopg
import pytest

from tests.cluster.conftest import (
    Studio,
    alive,
    engine_starts,
    job_row,
    running_cluster,
    wait_until,
)

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with running_cluster(tmp_path_factory.mktemp("cluster")) as running:
        yield running


def group_alive(pgid: int) -> bool:
    """Whether any process of the process group ``pgid`` is still running."""
    for process in psutil.process_iter(["status"]):
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        with contextlib.suppress(OSError):
            if os.getpgid(process.pid) == pgid:
                return True
    return False


def test_uploaded_through_one_api_assembled_on_a_worker_downloaded_through_the_other(
    cluster: Any, studio: Studio
) -> None:
    parts = [studio.upload(frequency_hz=330), studio.upload(frequency_hz=550)]
    title = "Round trip"
    episode_id = studio.episode(title, parts, api=0)
    job_id = studio.assemble(episode_id, api=0)

    job = studio.finished_job(job_id)

    assert job["status"] == "succeeded", job
    # The APIs run no jobs: the one engine start was a worker's.
    assert [start["worker"] for start in engine_starts(cluster, title)] in (
        ["worker-1"],
        ["worker-2"],
    )
    from_second = studio.clients[1].get(f"/api/episodes/{episode_id}/audio")
    from_first = studio.clients[0].get(f"/api/episodes/{episode_id}/audio")
    assert from_second.status_code == 200, from_second.text
    assert len(from_second.content) > 10_000
    assert from_second.content == from_first.content
    ranged = studio.clients[1].get(
        f"/api/episodes/{episode_id}/audio", headers={"Range": "bytes=100-1123"}
    )
    assert ranged.status_code == 206
    assert ranged.headers["content-range"] == f"bytes 100-1123/{len(from_second.content)}"
    assert ranged.content == from_second.content[100:1124]


def test_a_worker_killed_mid_assembly_has_its_job_finished_once_by_the_other(
    cluster: Any, studio: Studio
) -> None:
    title = "Lost worker, hold 8s"
    episode_id = studio.episode(title, [studio.upload()])
    job_id = studio.assemble(episode_id)
    first = wait_until("the engine to start", lambda: engine_starts(cluster, title))[0]
    lost, survivor = first["worker"], ({"worker-1", "worker-2"} - {first["worker"]}).pop()
    assert alive(first["pid"])
    assert job_row(cluster, job_id)["lease_owner"] == lost  # the row names its worker

    cluster.kill_worker(lost)

    # Its engine dies with it (parent-death signal), and the other worker takes the job.
    wait_until("the lost worker's engine to die", lambda: not alive(first["pid"]), timeout_s=10)
    job = studio.finished_job(job_id, timeout_s=90)
    assert job["status"] == "succeeded", job
    starts = engine_starts(cluster, title)
    assert [start["worker"] for start in starts] == [lost, survivor]
    assert job["attempts"] == 2
    audio = studio.clients[1].get(f"/api/episodes/{episode_id}/audio")
    assert audio.status_code == 200
    # Finished once: one assembled audio for the episode, and no engine of it still running.
    assert not any(alive(start["pid"]) for start in starts)
    with psycopg.connect(cluster.database_url) as connection:
        rows = connection.execute(
            "SELECT status FROM jobs WHERE episode_id = %s", (episode_id,)
        ).fetchall()
    assert rows == [("succeeded",)]

    cluster.start_worker(lost)  # the next tests have two workers again


def test_a_cancel_reaches_the_engine_on_the_worker_running_the_job(
    cluster: Any, studio: Studio
) -> None:
    title = "Cancelled, hold 60s"
    episode_id = studio.episode(title, [studio.upload()])
    job_id = studio.assemble(episode_id)
    start = wait_until("the engine to start", lambda: engine_starts(cluster, title))[0]
    engine_group = os.getpgid(start["pid"])
    assert engine_group == start["pid"]  # a process group of its own, as the supervisor makes

    answer = studio.clients[1].post(f"/api/jobs/{job_id}/cancel")

    assert answer.status_code in (200, 202), answer.text
    # The engine's whole group gone (the bound is 2 s; the deadline here is roomy
    # because the machine is shared, and the test asserts the state, not the time).
    wait_until("the engine's group to be gone", lambda: not group_alive(engine_group), timeout_s=15)
    job = studio.finished_job(job_id, timeout_s=30)
    assert job["status"] == "cancelled", job
    assert len(engine_starts(cluster, title)) == 1
    assert cluster.workers[start["worker"]].alive()


def test_a_worker_stopped_with_sigterm_hands_its_job_to_the_other(
    cluster: Any, studio: Studio
) -> None:
    title = "Drained, hold 30s"
    episode_id = studio.episode(title, [studio.upload()])
    job_id = studio.assemble(episode_id)
    first = wait_until("the engine to start", lambda: engine_starts(cluster, title))[0]
    drained = first["worker"]

    os.killpg(cluster.workers[drained].pid, signal.SIGTERM)

    job = studio.finished_job(job_id, timeout_s=90)
    assert job["status"] == "succeeded", job
    assert [s["worker"] for s in engine_starts(cluster, title)][1:] == [
        ({"worker-1", "worker-2"} - {drained}).pop()
    ]
    assert not alive(first["pid"])
    cluster.workers[drained].stop()
    cluster.start_worker(drained)

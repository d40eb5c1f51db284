"""Webhooks from a real ``podplus serve``: an assembly by the real engine ends, and a
receiver on 127.0.0.1 gets ``job.succeeded``, signed, after a failed first attempt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer
from tests.media_files import tone
from tests.test_end_to_end import login, poll_job, upload, wait_until
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow


def test_an_assembly_that_ends_is_posted_signed_to_the_receiver(
    live_server_factory: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = live_server_factory(
        PODPLUS_WEBHOOKS_ALLOW_PRIVATE="true", PODPLUS_WEBHOOK_RETRY_BASE_S="0.2"
    ).start()
    base = server.base_url
    auth = login(base)
    with Receiver(script=[500]) as receiver:
        created = httpx.post(
            f"{base}/api/webhooks",
            headers=auth,
            json={"url": receiver.url, "events": ["job.succeeded", "job.failed"]},
        )
        assert created.status_code == 201, created.text
        hook = created.json()
        media_id = upload(base, auth, tone(tmp_path / "take.wav", seconds=1.0))
        episode = httpx.post(
            f"{base}/api/episodes",
            headers=auth,
            json={"title": "Hooked", "segments": [{"media_id": media_id}]},
        ).json()
        queued = httpx.post(f"{base}/api/episodes/{episode['id']}/assemble", headers=auth)
        job = poll_job(
            base,
            auth,
            queued.json()["job_id"],
            until=lambda job: job["status"] != "queued" and job["status"] != "running",
        )
        assert job["status"] == "succeeded", job
        log_url = f"{base}/api/webhooks/{hook['id']}/deliveries"
        wait_until(
            lambda: httpx.get(log_url, headers=auth).json()["items"][0]["status"] == "succeeded"
        )
        log = httpx.get(log_url, headers=auth).json()
    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == log["items"][0]["id"]
    for request in (first, second):
        payload = request.verified(hook["secret"])
        assert payload["type"] == "job.succeeded"
        assert payload["data"] == job
    (delivery,) = log["items"]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 2
    server.stop()
    assert hook["secret"].removeprefix("whsec_") not in server.log

"""Deliveries as a receiver sees them: a real HTTP server on 127.0.0.1 that checks every
signature with ``standardwebhooks``, answers what the test scripts, or hangs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from podplus.settings import Settings
from tests.api import finished, new_episode, wait_for
from tests.jobs.conftest import stand_in_command
from tests.publishing import make_show, publish, ready_episode
from tests.webhooks.conftest import (
    create_hook,
    deliveries,
    serving,
    wait_for_log,
    wait_until,
)
from tests.webhooks.receiver import Receiver


async def test_a_test_event_arrives_signed_and_its_log_says_so(hook_settings: Settings) -> None:
    with Receiver() as receiver:
        async with serving(hook_settings) as (client, auth):
            hook = await create_hook(client, auth, receiver.url)
            queued = await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            assert queued.status_code == 202, queued.text
            assert queued.json()["status"] == "pending"

            log = await wait_for_log(
                client, auth, hook["id"], lambda items: items[0]["status"] == "succeeded"
            )
    (request,) = receiver.requests
    payload = request.verified(hook["secret"])
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {"webhook_id": hook["id"]}
    assert request.headers["webhook-id"] == queued.json()["id"] == log[0]["id"]
    assert request.headers["content-type"] == "application/json"
    assert log[0]["attempts"] == 1 and log[0]["last_response_code"] == 200
    assert log[0]["next_attempt_at"] is None and log[0]["last_error"] is None


async def test_a_receiver_that_fails_twice_gets_three_attempts_with_one_webhook_id(
    hook_settings: Settings,
) -> None:
    with Receiver(script=[500, 500]) as receiver:
        async with serving(hook_settings) as (client, auth):
            hook = await create_hook(client, auth, receiver.url)
            await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            (delivery,) = await wait_for_log(
                client, auth, hook["id"], lambda items: items[0]["status"] == "succeeded"
            )
    assert len(receiver.requests) == 3
    assert {request.headers["webhook-id"] for request in receiver.requests} == {delivery["id"]}
    # Every attempt is signed afresh (its own timestamp) over the very same body.
    assert len({request.body for request in receiver.requests}) == 1
    for request in receiver.requests:
        assert request.verified(hook["secret"])["type"] == "webhook.test"
    assert delivery["attempts"] == 3 and delivery["last_response_code"] == 200


async def test_while_it_fails_the_log_shows_the_answer_and_the_next_try(
    hook_settings: Settings,
) -> None:
    # Retries a day apart: the first failure stays in the log, pending.
    slow_retries = replace(hook_settings, webhook_retry_base_s=86400.0)
    with Receiver(default=503) as receiver:
        async with serving(slow_retries) as (client, auth):
            hook = await create_hook(client, auth, receiver.url)
            await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            (delivery,) = await wait_for_log(
                client,
                auth,
                hook["id"],
                lambda items: (
                    items[0]["attempts"] == 1 and items[0]["last_response_code"] is not None
                ),
            )
    assert len(receiver.requests) == 1
    assert delivery["status"] == "pending"
    assert delivery["last_response_code"] == 503
    assert delivery["last_error"] == "the receiver answered 503"
    assert delivery["next_attempt_at"] > delivery["last_attempt_at"]


async def test_a_redirect_is_not_followed_and_410_ends_the_deliveries(
    hook_settings: Settings,
) -> None:
    with (
        Receiver() as elsewhere,
        Receiver(script=[307], default=410, headers={"Location": elsewhere.url}) as receiver,
    ):
        async with serving(hook_settings) as (client, auth):
            hook = await create_hook(client, auth, receiver.url)
            await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            (delivery,) = await wait_for_log(
                client, auth, hook["id"], lambda items: items[0]["status"] == "failed"
            )
    assert elsewhere.requests == []
    assert len(receiver.requests) == 2
    assert delivery["last_response_code"] == 410
    assert "410" in delivery["last_error"] and delivery["next_attempt_at"] is None


@pytest.mark.parametrize(("mode", "event"), [("ok", "job.succeeded"), ("fail", "job.failed")])
async def test_a_finished_job_is_sent_with_the_json_the_api_shows_for_it(
    hook_settings: Settings, tmp_path: Path, mode: str, event: str
) -> None:
    settings = replace(hook_settings, engine_command=stand_in_command(mode))
    with Receiver() as receiver, Receiver() as other:
        async with serving(settings) as (client, auth):
            hook = await create_hook(client, auth, receiver.url, [event])
            # Asked for another event: hears nothing of this job.
            deaf = await create_hook(client, auth, other.url, ["episode.published"])
            episode_id = await new_episode(client, auth, tmp_path)
            queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
            job = await wait_for(client, auth, queued.json()["job_id"], finished)
            assert job["status"] == event.removeprefix("job.")
            await wait_for_log(
                client,
                auth,
                hook["id"],
                lambda items: bool(items) and items[0]["status"] == "succeeded",
            )
            shown = (await client.get(f"/api/jobs/{job['id']}", headers=auth)).json()
            assert await deliveries(client, auth, deaf["id"]) == []
    (request,) = receiver.requests
    payload = request.verified(hook["secret"])
    assert payload["type"] == event
    assert payload["data"] == shown
    assert other.requests == []


async def test_a_cancelled_queued_job_is_sent_as_job_cancelled(
    hook_settings: Settings, tmp_path: Path
) -> None:
    # No runner: the job stays queued until the handler cancels it; a delivery is a row,
    # sent by whichever worker runs next.
    with Receiver() as receiver:
        async with serving(replace(hook_settings, run_jobs=False)) as (client, auth):
            hook = await create_hook(client, auth, receiver.url, ["job.cancelled"])
            episode_id = await new_episode(client, auth, tmp_path)
            queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
            cancelled = await client.post(
                f"/api/jobs/{queued.json()['job_id']}/cancel", headers=auth
            )
            assert cancelled.json()["status"] == "cancelled"
            (pending,) = await deliveries(client, auth, hook["id"])
            assert pending["status"] == "pending" and receiver.requests == []
        async with serving(hook_settings, account=False):
            await wait_until(lambda: len(receiver.requests) == 1)
    payload = receiver.requests[0].verified(hook["secret"])
    assert payload["type"] == "job.cancelled"
    assert payload["data"] == cancelled.json()


async def test_the_api_and_other_receivers_carry_on_while_one_receiver_hangs(
    hook_settings: Settings, tmp_path: Path
) -> None:
    with Receiver(hang=True) as stuck, Receiver() as healthy:
        async with serving(hook_settings) as (client, auth):
            hanging = await create_hook(client, auth, stuck.url, ["episode.published"])
            fine = await create_hook(client, auth, healthy.url, ["job.succeeded"])
            await client.post(f"/api/webhooks/{hanging['id']}/test", headers=auth)
            await wait_until(stuck.arrived.is_set)

            # The receiver holds the attempt open; the API answers, an assembly runs to
            # its end, and another receiver gets its event.
            assert (await client.get("/api/users/me", headers=auth)).status_code == 200
            episode_id = await new_episode(client, auth, tmp_path)
            queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
            job = await wait_for(client, auth, queued.json()["job_id"], finished)
            assert job["status"] == "succeeded"
            await wait_for_log(
                client,
                auth,
                fine["id"],
                lambda items: len(items) == 1 and items[0]["status"] == "succeeded",
            )
            (stuck_delivery,) = await deliveries(client, auth, hanging["id"])
            assert not stuck.released.is_set()
            assert stuck_delivery["status"] == "pending" and stuck_delivery["attempts"] == 1
            stuck.released.set()
            await wait_for_log(
                client, auth, hanging["id"], lambda items: items[0]["status"] == "succeeded"
            )
    assert [request.verified(fine["secret"])["type"] for request in healthy.requests] == [
        "job.succeeded"
    ]
    assert len(stuck.requests) == 1


async def test_publishing_sends_episode_published_with_the_episode_the_api_answers(
    hook_settings: Settings, tmp_path: Path
) -> None:
    real_engine = replace(hook_settings, engine_command=Settings().engine_command)
    with Receiver() as receiver:
        async with serving(real_engine) as (client, auth):
            hook = await create_hook(client, auth, receiver.url, ["episode.published"])
            show = await make_show(client, auth)
            episode = await ready_episode(client, auth, tmp_path, show_id=show["id"])
            published = await publish(client, auth, episode["id"])
            assert published.status_code == 200, published.text
            (delivery,) = await wait_for_log(
                client,
                auth,
                hook["id"],
                lambda items: bool(items) and items[0]["status"] == "succeeded",
            )
    (request,) = receiver.requests
    payload = request.verified(hook["secret"])
    assert payload["type"] == "episode.published" == delivery["type"]
    assert payload["data"] == published.json()
    assert payload["data"]["publication"]["status"] == "published"

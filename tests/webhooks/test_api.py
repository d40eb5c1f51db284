"""``/api/webhooks``: owner-scoped, bounded, the secret shown once and kept only sealed."""

from __future__ import annotations

import base64
import logging
from dataclasses import replace
from typing import Any

import httpx
import pytest

from podplus.settings import Settings
from tests.conftest import register
from tests.webhooks.conftest import (
    create_hook,
    deliveries,
    rows,
    serving,
    wait_for_log,
)
from tests.webhooks.receiver import Receiver


async def test_the_secret_is_shown_once_and_kept_nowhere_in_the_clear(
    hook_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with Receiver() as receiver:
        async with serving(hook_settings) as (client, auth):
            created = await client.post(
                "/api/webhooks",
                headers=auth,
                json={"url": receiver.url, "events": ["job.failed", "episode.published"]},
            )
            assert created.status_code == 201, created.text
            hook = created.json()
            assert created.headers["location"] == f"/api/webhooks/{hook['id']}"
            assert hook["events"] == ["job.failed", "episode.published"]
            await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            await wait_for_log(
                client, auth, hook["id"], lambda items: items[0]["status"] == "succeeded"
            )
            shown = [
                (await client.get(f"/api/webhooks/{hook['id']}", headers=auth)).text,
                (await client.get("/api/webhooks", headers=auth)).text,
                (await client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=auth)).text,
            ]
    secret = hook["secret"]
    raw = base64.b64decode(secret.removeprefix("whsec_"))
    assert secret.startswith("whsec_") and len(raw) >= 24
    assert receiver.requests[0].verified(secret)["type"] == "webhook.test"
    for text in shown:
        assert secret not in text and '"secret"' not in text
    stored = rows(hook_settings, "SELECT secret_sealed FROM webhooks")
    (sealed,) = stored[0]
    assert isinstance(sealed, str) and secret.removeprefix("whsec_") not in sealed
    assert raw not in base64.urlsafe_b64decode(sealed.removeprefix("v1."))
    for record in caplog.records:
        assert secret.removeprefix("whsec_") not in record.getMessage()
        assert receiver.requests[0].headers["webhook-signature"] not in record.getMessage()


async def test_an_account_may_have_only_so_many_webhooks(hook_settings: Settings) -> None:
    with Receiver() as receiver:
        async with serving(replace(hook_settings, max_webhooks_per_user=2)) as (client, auth):
            for _ in range(2):
                await create_hook(client, auth, receiver.url)
            refused = await client.post(
                "/api/webhooks", headers=auth, json={"url": receiver.url, "events": ["job.failed"]}
            )
            other = await register(client, "grace@example.com")
            theirs = await client.post(
                "/api/webhooks", headers=other, json={"url": receiver.url, "events": ["job.failed"]}
            )
    assert refused.status_code == 409
    assert refused.json()["error"] == {
        "code": "conflict",
        "message": "You have 2 webhooks, as many as one account may; delete one first.",
    }
    assert theirs.status_code == 201
    assert rows(hook_settings, "SELECT count(*) FROM webhooks") == [(3,)]


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([], "events: "),
        (["job.succeeded", "job.succeeded"], "events: must name each event once"),
        (["job.started"], "events[0]: "),
        (["webhook.test"], "events[0]: "),
        ("job.failed", "events: "),
    ],
)
async def test_the_events_come_from_the_fixed_list_each_once(
    hook_settings: Settings, events: object, problem: str
) -> None:
    async with serving(hook_settings) as (client, auth):
        response = await client.post(
            "/api/webhooks",
            headers=auth,
            json={"url": "http://127.0.0.1:9/hook", "events": events},
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(problem)
    assert rows(hook_settings, "SELECT count(*) FROM webhooks") == [(0,)]


async def test_someone_elses_webhook_is_not_found_whatever_is_asked(
    hook_settings: Settings,
) -> None:
    with Receiver() as receiver:
        async with serving(replace(hook_settings, run_jobs=False)) as (client, auth):
            hook = await create_hook(client, auth, receiver.url)
            other = await register(client, "grace@example.com")
            answers = [
                await client.get(f"/api/webhooks/{hook['id']}", headers=other),
                await client.delete(f"/api/webhooks/{hook['id']}", headers=other),
                await client.post(f"/api/webhooks/{hook['id']}/test", headers=other),
                await client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=other),
            ]
            listed = (await client.get("/api/webhooks", headers=other)).json()
            still = await client.get(f"/api/webhooks/{hook['id']}", headers=auth)
    assert [answer.status_code for answer in answers] == [404] * 4
    assert listed["items"] == []
    assert still.status_code == 200
    assert rows(hook_settings, "SELECT count(*) FROM webhook_deliveries") == [(0,)]


async def test_the_delivery_log_comes_a_page_at_a_time_and_goes_with_its_webhook(
    hook_settings: Settings,
) -> None:
    # No worker runs here: the test events stay queued, as the log shows.
    with Receiver() as receiver:
        async with serving(replace(hook_settings, run_jobs=False)) as (client, auth):
            hook = await create_hook(client, auth, receiver.url)
            other = await create_hook(client, auth, receiver.url)
            queued = [
                (await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)).json()
                for _ in range(5)
            ]
            seen: list[str] = []
            url = f"/api/webhooks/{hook['id']}/deliveries?limit=2"
            page = (await client.get(url, headers=auth)).json()
            while True:
                seen += [item["id"] for item in page["items"]]
                if page["next"] is None:
                    break
                foreign = await client.get(
                    f"/api/webhooks/{other['id']}/deliveries?cursor={page['next']}", headers=auth
                )
                assert foreign.status_code == 422
                page = (await client.get(f"{url}&cursor={page['next']}", headers=auth)).json()
            assert all(
                item["status"] == "pending" for item in await deliveries(client, auth, hook["id"])
            )
            deleted = await client.delete(f"/api/webhooks/{hook['id']}", headers=auth)
            gone = await client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=auth)
    assert seen == [item["id"] for item in reversed(queued)]
    assert all(item["id"].startswith("msg_") for item in queued)
    assert deleted.status_code == 204 and gone.status_code == 404
    assert rows(hook_settings, "SELECT count(*) FROM webhook_deliveries") == [(0,)]
    assert receiver.requests == []


async def test_every_answer_is_one_the_document_lists_in_its_shape(
    hook_settings: Settings,
) -> None:
    # The fuzzer's URLs never resolve to a public address, so it never sees these 2xx
    # answers (tests/contract): they are checked against /openapi.json here.
    import jsonschema

    with Receiver() as receiver:
        async with serving(replace(hook_settings, max_webhooks_per_user=1)) as (client, auth):
            document = (await client.get("/openapi.json")).json()
            hook_id = ""
            answers: list[tuple[str, str, httpx.Response]] = []

            async def send(method: str, template: str, **options: Any) -> httpx.Response:
                path = template.replace("{webhook_id}", hook_id)
                answer = await client.request(method, path, headers=auth, **options)
                answers.append((method.lower(), template, answer))
                return answer

            body = {"url": receiver.url, "events": ["job.succeeded"]}
            hook_id = (await send("POST", "/api/webhooks", json=body)).json()["id"]
            await send("POST", "/api/webhooks", json=body)  # 409: one is the most
            await send("GET", "/api/webhooks")
            await send("GET", "/api/webhooks/{webhook_id}")
            await send("POST", "/api/webhooks/{webhook_id}/test")
            await wait_for_log(
                client, auth, hook_id, lambda items: items[0]["status"] == "succeeded"
            )
            await send("GET", "/api/webhooks/{webhook_id}/deliveries")
            await send("DELETE", "/api/webhooks/{webhook_id}")
            await send("GET", "/api/webhooks/{webhook_id}")  # 404
    statuses = []
    for method, template, answer in answers:
        listed = document["paths"][template][method]["responses"]
        status = str(answer.status_code)
        assert status in listed, (method, template, status)
        statuses.append(status)
        content = listed[status].get("content")
        if content:
            schema = {**content["application/json"]["schema"], "components": document["components"]}
            jsonschema.validate(answer.json(), schema)
    assert statuses == ["201", "409", "200", "200", "202", "200", "204", "404"]

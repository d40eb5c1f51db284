"""SSRF: a webhook URL may not lead to this host, its network or a cloud's metadata service,
when it is saved and at every delivery, whatever its DNS answers meanwhile."""

from __future__ import annotations

from dataclasses import replace

import pytest

from podplus.settings import Settings
from tests.webhooks.conftest import (
    PUBLIC_ADDRESS,
    FakeDNS,
    create_hook,
    rows,
    serving,
    wait_for_log,
)
from tests.webhooks.receiver import Receiver


@pytest.fixture
def strict_settings(hook_settings: Settings) -> Settings:
    """As an operator runs podplus: private targets refused."""
    return replace(hook_settings, webhooks_allow_private=False)


@pytest.mark.parametrize(
    ("answers", "rule"),
    [
        (["10.1.2.3"], "private"),
        (["127.0.0.1"], "loopback"),
        (["::1"], "loopback"),
        (["169.254.169.254"], "metadata"),
        (["fd00:ec2::254"], "metadata"),
        (["169.254.10.1"], "link_local"),
        (["100.64.0.7"], "cgnat"),
        (["::ffff:10.0.0.1"], "private"),
        (["64:ff9b::7f00:1"], "loopback"),
        (["0.0.0.0"], "unspecified"),
        (["224.0.0.1"], "multicast"),
        (["240.0.0.1"], "reserved"),
        ([PUBLIC_ADDRESS, "192.168.1.20"], "private"),  # every address counts
        ([], "unresolvable"),
    ],
)
async def test_a_url_whose_host_resolves_to_a_refused_address_is_refused_at_save(
    strict_settings: Settings, answers: list[str], rule: str
) -> None:
    dns = FakeDNS({"hooks.example.com": answers})
    async with serving(strict_settings, dns) as (client, auth):
        response = await client.post(
            "/api/webhooks",
            headers=auth,
            json={"url": "https://hooks.example.com/podplus", "events": ["job.succeeded"]},
        )
        listed = (await client.get("/api/webhooks", headers=auth)).json()
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("url: ") and f"(rule: {rule})" in message
    assert dns.asked == ["hooks.example.com"]
    assert listed["items"] == []
    assert rows(strict_settings, "SELECT count(*) FROM webhooks") == [(0,)]


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://127.0.0.1:8000/hook", "loopback"),
        ("http://[::1]/hook", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "metadata"),
        ("http://[::ffff:169.254.169.254]/", "metadata"),
        ("http://10.0.0.1/", "private"),
    ],
)
async def test_an_address_in_the_url_is_checked_like_a_resolved_one(
    strict_settings: Settings, url: str, rule: str
) -> None:
    dns = FakeDNS()
    async with serving(strict_settings, dns) as (client, auth):
        response = await client.post(
            "/api/webhooks", headers=auth, json={"url": url, "events": ["job.failed"]}
        )
    assert response.status_code == 422, response.text
    assert f"(rule: {rule})" in response.json()["error"]["message"]
    assert dns.asked == []
    assert rows(strict_settings, "SELECT count(*) FROM webhooks") == [(0,)]


async def test_the_metadata_service_stays_refused_when_private_targets_are_allowed(
    hook_settings: Settings,
) -> None:
    assert hook_settings.webhooks_allow_private
    dns = FakeDNS({"metadata.google.internal": ["169.254.169.254"]})
    async with serving(hook_settings, dns) as (client, auth):
        response = await client.post(
            "/api/webhooks",
            headers=auth,
            json={"url": "http://metadata.google.internal/", "events": ["job.failed"]},
        )
    assert response.status_code == 422
    assert "(rule: metadata)" in response.json()["error"]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/",
        "https://user:password@hooks.example.com/",
        "https://hooks.example.com/#part",
        "https://hooks.example.com/a b",
        "https://hooks.example.com:99999/",
        "https://hooks.example.com/" + "a" * 2048,
        "https:///no-host",
    ],
)
async def test_a_malformed_url_is_refused_before_any_lookup(
    strict_settings: Settings, url: str
) -> None:
    dns = FakeDNS({"hooks.example.com": [PUBLIC_ADDRESS]})
    async with serving(strict_settings, dns) as (client, auth):
        response = await client.post(
            "/api/webhooks", headers=auth, json={"url": url, "events": ["job.failed"]}
        )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("url: ")
    assert dns.asked == []


async def test_when_the_dns_answer_turns_private_the_delivery_is_refused_unsent(
    strict_settings: Settings,
) -> None:
    with Receiver() as receiver:
        dns = FakeDNS({"hooks.example.com": [PUBLIC_ADDRESS]})
        async with serving(strict_settings, dns) as (client, auth):
            hook = await create_hook(client, auth, f"http://hooks.example.com:{receiver.port}/hook")
            # Rebinding: the name now leads to this host, where the receiver listens.
            dns.answers["hooks.example.com"] = ["127.0.0.1"]
            await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            (delivery,) = await wait_for_log(
                client, auth, hook["id"], lambda items: items[0]["last_error"] is not None
            )
    assert receiver.requests == []
    assert delivery["status"] == "pending" and delivery["last_response_code"] is None
    assert delivery["last_error"].startswith("not sent: hooks.example.com resolves to 127.0.0.1")
    assert "(rule: loopback)" in delivery["last_error"]


async def test_a_delivery_goes_to_the_checked_address_with_the_urls_host_name(
    hook_settings: Settings,
) -> None:
    # The system resolver has never heard of this name: only the checked address, pinned,
    # can reach the receiver, and the receiver still sees the name it was given.
    with Receiver() as receiver:
        dns = FakeDNS({"receiver.podplus.test": ["127.0.0.1"]})
        async with serving(hook_settings, dns) as (client, auth):
            hook = await create_hook(
                client, auth, f"http://receiver.podplus.test:{receiver.port}/hook?source=pod"
            )
            await client.post(f"/api/webhooks/{hook['id']}/test", headers=auth)
            await wait_for_log(
                client, auth, hook["id"], lambda items: items[0]["status"] == "succeeded"
            )
    (request,) = receiver.requests
    assert request.headers["host"] == f"receiver.podplus.test:{receiver.port}"
    assert request.path == "/hook?source=pod"
    assert request.verified(hook["secret"])["type"] == "webhook.test"

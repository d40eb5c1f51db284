"""Operations endpoints: Prometheus metrics, and the live engine table for admins — who are
made on the command line only, and checked on every request."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys

from podplus.settings import Settings
from tests.api import finished, new_episode, served, wait_for
from tests.conftest import TEST_SECRET_KEY, register


async def podplus(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``podplus`` command, in its own process, on the test's data directory."""
    env = {**os.environ, "PODPLUS_DATA_DIR": str(settings.data_dir)}
    env["PODPLUS_SECRET_KEY"] = TEST_SECRET_KEY
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "podplus", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def sample(text: str, name: str, **labels: str) -> float | None:
    """The value of one Prometheus sample, or None if it isn't there."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


async def test_metrics_count_requests_by_route_template(client, auth) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        await client.get("/api/users/me", headers=auth)
    await client.get("/api/jobs/not-a-job", headers=auth)
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert sample(text, "podplus_http_requests_total", route="/api/users/me", status="200") == 3
    assert (
        sample(text, "podplus_http_requests_total", route="/api/jobs/{job_id}", status="404") == 1
    )
    assert sample(text, "podplus_http_request_duration_seconds_count", route="/api/users/me") == 3
    assert sample(text, "podplus_job_queue_depth") == 0
    assert sample(text, "podplus_boot_sweep_kills_total") == 0


async def test_metrics_show_jobs_engines_and_failures(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with served(settings, "fail") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        await wait_for(client, auth, job_id, finished)
        text = (await client.get("/metrics")).text
    assert sample(text, "podplus_jobs", status="failed") == 1
    assert sample(text, "podplus_job_failures_total", cause="engine_error") == 1


async def test_admins_see_live_engines_with_memory_and_cpu(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    async with served(settings, "child-then-hang") as (client, auth):
        boss = await register(client, "boss@example.com")
        assert (await podplus(settings, "user", "admin", "boss@example.com")).returncode == 0
        episode_id = await new_episode(client, auth, tmp_path)
        job_id = (await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)).json()[
            "job_id"
        ]
        await wait_for(client, auth, job_id, lambda job: job["phase"] == "render")
        assert (await client.get("/api/admin/processes", headers=auth)).status_code == 403
        listed = await client.get("/api/admin/processes", headers=boss)
        metrics_text = (await client.get("/metrics")).text
        await client.post(f"/api/jobs/{job_id}/cancel", headers=auth)
        await wait_for(client, auth, job_id, finished)
    assert listed.status_code == 200
    [engine] = listed.json()["items"]
    assert engine["job_id"] == job_id and engine["episode_id"] == episode_id
    assert engine["pid"] > 0 and engine["rss_bytes"] > 1_000_000
    assert engine["cpu_percent"] >= 0
    assert sample(metrics_text, "podplus_engine_processes") == 1
    # Totals only: a job id is the admin API's business, never a Prometheus label.
    assert (sample(metrics_text, "podplus_engine_rss_bytes") or 0) > 1_000_000
    assert job_id not in metrics_text


async def test_an_admin_revoked_on_the_command_line_is_refused_on_the_next_request(
    settings: Settings,
) -> None:
    async with served(settings, "succeed") as (client, _):
        # Signing up with the address an admin had once grants nothing.
        boss = await register(client, "boss@example.com")
        assert (await client.get("/api/admin/processes", headers=boss)).status_code == 403
        granted = await podplus(settings, "user", "admin", "Boss@Example.com")
        assert granted.returncode == 0, granted.stderr
        assert "boss@example.com" in granted.stdout and "admin=True" in granted.stdout
        assert (await client.get("/api/admin/processes", headers=boss)).status_code == 200
        revoked = await podplus(settings, "user", "admin", "boss@example.com", "--revoke")
        assert revoked.returncode == 0, revoked.stderr
        refused = await client.get("/api/admin/processes", headers=boss)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"


async def test_granting_admin_to_an_unknown_email_fails_saying_so(settings: Settings) -> None:
    async with served(settings, "succeed") as _:
        answer = await podplus(settings, "user", "admin", "nobody@example.com")
    assert answer.returncode == 1
    assert answer.stderr.strip() == "podplus: No account has the email nobody@example.com."

"""An assembled episode says what the engine did to each part; changed, it says nothing."""

from __future__ import annotations

from pathlib import Path

import httpx

from podplus.settings import Settings
from podplus.storage.reports import AssemblyReport
from tests.api import finished, new_episode, served, wait_for
from tests.jobs.stand_in_engine import REPORT, named

Auth = dict[str, str]


async def assemble(client: httpx.AsyncClient, auth: Auth, episode_id: str) -> None:
    queued = await client.post(f"/api/episodes/{episode_id}/assemble", headers=auth)
    assert queued.status_code == 202, queued.text
    job = await wait_for(client, auth, queued.json()["job_id"], finished)
    assert job["status"] == "succeeded"


async def test_a_finished_jobs_episode_carries_the_engines_report(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        draft = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        assert draft["report"] is None

        await assemble(client, auth, episode_id)
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        assert episode["status"] == "ready"
        # Titled as the manifest names the part: after the uploaded file.
        media_id = draft["segments"][0]["media_id"]
        media = (await client.get(f"/api/media/{media_id}", headers=auth)).json()
        expected = AssemblyReport.from_engine(named(REPORT, Path(media["filename"]).stem))
        assert expected is not None
        assert episode["report"] == expected.model_dump(mode="json")
        (part,) = episode["report"]["parts"]
        assert part["before"]["loudness_lufs"] == -23.4
        assert part["after"]["loudness_lufs"] == -16.0
        assert part["applied"] == REPORT["parts"][0]["applied"]
        # The engine's own paths and timings are not the API's business.
        assert "output" not in episode["report"] and "seconds" not in episode["report"]

        listed = (await client.get("/api/episodes", headers=auth)).json()
        assert listed["items"][0]["report"] == episode["report"]


async def test_a_changed_episode_has_no_report_of_its_old_audio(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "ok") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        await assemble(client, auth, episode_id)
        changed = await client.patch(
            f"/api/episodes/{episode_id}",
            headers=auth,
            json={"cleanup": {"max_pause_s": 1.0, "deess": True}},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["report"] is None and changed.json()["status"] == "draft"
        assert changed.json()["cleanup"]["max_pause_s"] == 1.0


async def test_a_report_that_does_not_fit_leaves_the_episode_ready_without_one(
    settings: Settings, tmp_path: Path
) -> None:
    async with served(settings, "bad-report") as (client, auth):
        episode_id = await new_episode(client, auth, tmp_path)
        await assemble(client, auth, episode_id)
        episode = (await client.get(f"/api/episodes/{episode_id}", headers=auth)).json()
        assert episode["status"] == "ready" and episode["report"] is None

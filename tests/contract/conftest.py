"""Contract fixtures: a real ``podplus serve`` with an account and things that exist on it.

Generated requests only reach the interesting branches (an episode that validates, a job to
cancel, audio to download) if some of the ids they carry are real; ``seeded`` uploads media,
describes and assembles episodes over HTTP and hands back the ids. Each fuzz test keeps a
``FuzzRun`` on the pytest config, and the terminal summary prints what they sent and found.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import TEST_SECRET_KEY, LiveServer, free_port
from tests.media_files import image, tone
from tests.publishing import picture, show_body
from tests.terminal_summary import hand_over
from tests.test_end_to_end import login, poll_job, upload

# The fuzzing account is an admin, so /api/admin/processes answers 200 and its body is checked.
FUZZ_EMAIL = "fuzz@example.com"
REPRODUCER_CHARS = 400


@dataclass(frozen=True)
class Seeded:
    """Things that exist on the server before generation starts, and the files they came from."""

    auth: dict[str, str]
    # A content, an intro and a music file, and a cover: what a valid episode body names.
    audio_ids: tuple[str, ...]
    cover_id: str
    # Assembled, so their audio downloads; their jobs have finished, so can't be cancelled.
    episode_ids: tuple[str, ...]
    job_ids: tuple[str, ...]
    # For DELETE and PATCH to use up, so the ids above stay real for the other operations.
    spare_media_ids: tuple[str, ...]
    spare_episode_ids: tuple[str, ...]
    audio_bytes: bytes
    cover_bytes: bytes
    # A show with artwork and the two assembled episodes published in it, so the public
    # feed, audio, chapters and artwork answer with something; a spare show to delete.
    show_ids: tuple[str, ...] = ()
    spare_show_ids: tuple[str, ...] = ()
    feed_keys: tuple[str, ...] = ()
    public_files: tuple[str, ...] = ()


@dataclass
class FuzzRun:
    """What one schemathesis test sent and found, for the summary the lead quotes."""

    # How each operation answered: the proof that generation reached past the 4xx answers.
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    scenarios: int = 0
    # (operation, status, check) -> what was wrong and the first request that showed it, as
    # a curl command. Once each: Hypothesis replays a failure while shrinking it.
    failures: dict[tuple[str, int, str], tuple[str, str]] = field(default_factory=dict)

    def record(self, operation: str, status: int, failed: dict[str, str], reproducer: str) -> None:
        """Count one answer; ``failed`` maps each failed check to what it said."""
        self.statuses.setdefault(operation, Counter())[status] += 1
        for check, what in failed.items():
            self.failures.setdefault((operation, status, check), (what, reproducer))

    def summary(self, name: str) -> list[str]:
        calls = sum(sum(counts.values()) for counts in self.statuses.values())
        scenarios = f" in {self.scenarios} scenarios" if self.scenarios else ""
        lines = [
            f"{name}: {len(self.statuses)} operations, {calls} calls{scenarios}, "
            f"{len(self.failures)} distinct failures"
        ]
        for operation, counts in sorted(self.statuses.items()):
            answers = " ".join(f"{status}x{n}" for status, n in sorted(counts.items()))
            lines.append(f"    {operation:<42} {answers}")
        for (operation, status, check), (what, curl) in sorted(self.failures.items()):
            lines.append(f"    FAILED {operation} -> {status} {check}: {what}")
            lines.append(f"        {curl[:REPRODUCER_CHARS]}")
        return lines


@pytest.fixture
def fuzz_run(request: pytest.FixtureRequest) -> Iterator[FuzzRun]:
    """This test's record; its summary goes to the end of the run's output (from whichever
    xdist worker ran the test)."""
    run = FuzzRun()
    yield run
    hand_over(request.node, "schemathesis", run.summary(request.node.originalname))


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: the linked calls meet what the fuzzing left behind."""
    data_dir = tmp_path_factory.mktemp("contract")
    env = {
        **os.environ,
        "PODPLUS_DATA_DIR": str(data_dir),
        "PODPLUS_PORT": str(free_port()),
        "PODPLUS_SECRET_KEY": TEST_SECRET_KEY,
        # Generated sign-ups should reach the answers past the throttle (201, 409, 422).
        "PODPLUS_SIGNUP_MAX_PER_ADDRESS": "100000",
    }
    server = LiveServer(data_dir, int(env["PODPLUS_PORT"]), env, data_dir / "server.log")
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture(scope="module")
def seeded(contract_server: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Seeded:
    base = contract_server.base_url
    auth = login(base, FUZZ_EMAIL)
    # Admin rights are granted on the command line only.
    granted = subprocess.run(
        [sys.executable, "-m", "podplus", "user", "admin", FUZZ_EMAIL],
        env=contract_server.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert granted.returncode == 0, granted.stderr
    files = tmp_path_factory.mktemp("seed")
    audio = tone(files / "tone.wav", seconds=1.0)
    cover = image(files / "cover.png", size="64x64")
    audio_ids = tuple(upload(base, auth, audio, kind) for kind in ("content", "intro", "music"))
    cover_id = upload(base, auth, cover, kind="cover")
    spare_media_ids = (upload(base, auth, audio), upload(base, auth, cover, kind="cover"))

    def new_show(slug: str) -> dict[str, str]:
        created = httpx.post(f"{base}/api/shows", headers=auth, json=show_body(slug=slug))
        assert created.status_code == 201, created.text
        return created.json()  # type: ignore[no-any-return]

    show = new_show("fuzz-show")
    with picture(files / "art.png").open("rb") as art:
        artwork = httpx.put(
            f"{base}/api/shows/{show['id']}/artwork", headers=auth, files={"file": art}
        )
    assert artwork.status_code == 200, artwork.text

    def describe(title: str, output_format: str = "mp3", show_id: str | None = None) -> str:
        body = {
            "title": title,
            "segments": [{"media_id": audio_ids[0]}],
            "cover_id": cover_id,
            "output": {"format": output_format},
            "show_id": show_id,
        }
        created = httpx.post(f"{base}/api/episodes", headers=auth, json=body)
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    def assemble(episode_id: str) -> str:
        queued = httpx.post(f"{base}/api/episodes/{episode_id}/assemble", headers=auth)
        assert queued.status_code == 202, queued.text
        job_id = str(queued.json()["job_id"])
        poll_job(base, auth, job_id, until=lambda job: job["status"] == "succeeded")
        return job_id

    # Two output formats, so the audio is served as more than one content type.
    episode_ids = (
        describe("Assembled mp3", show_id=show["id"]),
        describe("Assembled m4a", "m4a", show_id=show["id"]),
    )
    job_ids = tuple(assemble(episode_id) for episode_id in episode_ids)
    public_files = [artwork.json()["artwork_url"].rsplit("/", 1)[1]]
    for episode_id in episode_ids:
        published = httpx.post(f"{base}/api/episodes/{episode_id}/publish", headers=auth, json={})
        assert published.status_code == 200, published.text
        publication = published.json()["publication"]
        public_files += [
            url.rsplit("/", 1)[1] for url in (publication["audio_url"], publication["chapters_url"])
        ]
    return Seeded(
        auth=auth,
        audio_ids=audio_ids,
        cover_id=cover_id,
        episode_ids=episode_ids,
        job_ids=job_ids,
        spare_media_ids=spare_media_ids,
        spare_episode_ids=(describe("Spare 1"), describe("Spare 2")),
        audio_bytes=audio.read_bytes(),
        cover_bytes=cover.read_bytes(),
        show_ids=(show["id"],),
        spare_show_ids=(new_show("spare-show")["id"],),
        feed_keys=(show["slug"], show["feed_id"]),
        public_files=tuple(public_files),
    )

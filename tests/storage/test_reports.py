"""The engine's report is read like any input: known fields only, bounded, finite numbers."""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from podplus.storage.reports import (
    MAX_APPLIED_LINES,
    MAX_REPORT_PARTS,
    MAX_TEXT_CHARS,
    AssemblyReport,
)
from tests.jobs.stand_in_engine import REPORT
from tests.media_files import speech


def done(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"event": "done", "output": "/srv/work/episode.mp3", **REPORT}
    event = copy.deepcopy(event)
    event.update(changes)
    return event


def part(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(REPORT["parts"][0]), **changes}


def test_the_real_engines_report_is_read_whole(tmp_path: Path) -> None:
    take = speech(tmp_path / "take.wav")
    manifest = tmp_path / "m.json"
    manifest.write_text(json.dumps({"segments": [{"path": take.name, "title": "Take one"}]}))
    command = ["assemble", str(manifest), "-o", str(tmp_path / "out.mp3"), "--json"]
    ran = subprocess.run(
        [sys.executable, "-m", "podplus.engine", *command],
        capture_output=True,
        text=True,
        check=True,
    )
    event = json.loads(ran.stdout.splitlines()[-1])
    report = AssemblyReport.from_engine(event)
    assert report is not None
    assert [(p.title, p.field) for p in report.parts] == [("Take one", "segments[0]")]
    assert report.model_dump(mode="json") == {
        name: event[name] for name in ("parts", "chapters", "encodes", "limited")
    }


def test_what_the_studio_does_not_show_is_left_out() -> None:
    report = AssemblyReport.from_engine(done(parts=[part(extra="x")]))
    assert report is not None
    dumped = report.model_dump(mode="json")
    assert "output" not in dumped and "seconds" not in dumped
    assert "extra" not in dumped["parts"][0]


def test_an_event_without_a_report_has_none() -> None:
    assert AssemblyReport.from_engine({"event": "done", "duration_s": 1.0}) is None


def test_long_text_is_cut_and_control_characters_go() -> None:
    report = AssemblyReport.from_engine(
        done(parts=[part(title="a\x00b\nc" + "x" * 1000, applied=["y" * 5000])])
    )
    assert report is not None
    (only,) = report.parts
    assert only.title.startswith("a b c") and len(only.title) == MAX_TEXT_CHARS
    assert only.applied == ["y" * MAX_TEXT_CHARS]


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (done(parts=[part()] * (MAX_REPORT_PARTS + 1)), "parts"),
        (done(parts=[part(applied=["x"] * (MAX_APPLIED_LINES + 1))]), "parts.0.applied"),
        (done(parts=[part(gain_db=math.nan)]), "parts.0.gain_db"),
        (done(parts=[part(gain_db=math.inf)]), "parts.0.gain_db"),
        (done(parts=[part(gain_db=1e9)]), "parts.0.gain_db"),
        (done(parts=[part(gain_db=True)]), "parts.0.gain_db"),
        (done(parts=[part(before={"loudness_lufs": "loud"})]), "parts.0.before"),
        (done(parts=[part(title=["a"])]), "parts.0.title"),
        (done(parts=[part(duration_s=-1.0)]), "parts.0.duration_s"),
        (done(parts="all of them"), "parts"),
        (done(encodes=-1), "encodes"),
        (done(chapters=None), "chapters"),
    ],
)
def test_a_report_that_does_not_fit_is_refused_whole(event: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValidationError) as refused:
        AssemblyReport.from_engine(event)
    locations = [".".join(map(str, error["loc"])) for error in refused.value.errors()]
    assert any(location.startswith(problem) for location in locations), locations

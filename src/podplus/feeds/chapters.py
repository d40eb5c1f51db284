"""An episode's chapters in the Podcasting 2.0 JSON chapters format (version 1.2), which
``<podcast:chapters>`` points at.

The chapters are read from the published file itself (the engine writes one per part into
mp3 and m4a), so the JSON always matches the audio it sits beside. Format:
https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/examples/chapters/jsonChapters.md
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CHAPTERS_MEDIA_TYPE = "application/json+chapters"
CHAPTERS_VERSION = "1.2.0"
MAX_CHAPTER_TITLE_CHARS = 300


@dataclass(frozen=True)
class Chapter:
    start_s: float
    end_s: float | None
    title: str


def parse_ffprobe_chapters(report: Mapping[str, Any]) -> list[Chapter]:
    """The chapters of ffprobe's ``-show_chapters`` JSON report, in playing order.

    >>> parse_ffprobe_chapters({"chapters": [{"start_time": "1.5", "end_time": "3",
    ...     "tags": {"title": "Take"}}]})
    [Chapter(start_s=1.5, end_s=3.0, title='Take')]
    """
    chapters: list[Chapter] = []
    for entry in report.get("chapters") or []:
        start = _seconds(entry.get("start_time"))
        if start is None:
            continue
        tags = entry.get("tags") or {}
        title = str(tags.get("title") or f"Chapter {len(chapters) + 1}")
        chapters.append(
            Chapter(start_s=start, end_s=_seconds(entry.get("end_time")), title=title.strip())
        )
    return sorted(chapters, key=lambda chapter: chapter.start_s)


def chapters_json(chapters: Sequence[Chapter]) -> str:
    """Chapters as stored with a publication (and read back with ``chapters_from_json``)."""
    return json.dumps(
        [[chapter.start_s, chapter.end_s, chapter.title] for chapter in chapters],
        separators=(",", ":"),
    )


def chapters_from_json(text: str | None) -> tuple[Chapter, ...]:
    if not text:
        return ()
    return tuple(Chapter(start_s=s, end_s=e, title=t) for s, e, t in json.loads(text))


def chapters_document(chapters: Sequence[Chapter], *, file_name: str | None = None) -> bytes:
    """The JSON chapters file.

    >>> chapters_document([Chapter(0.0, 2.5, "Intro")])
    b'{"version":"1.2.0","chapters":[{"startTime":0.0,"endTime":2.5,"title":"Intro"}]}'
    """
    document: dict[str, Any] = {"version": CHAPTERS_VERSION}
    if file_name:
        document["fileName"] = file_name
    document["chapters"] = [
        {
            "startTime": round(chapter.start_s, 3),
            **({"endTime": round(chapter.end_s, 3)} if chapter.end_s is not None else {}),
            "title": chapter.title[:MAX_CHAPTER_TITLE_CHARS],
        }
        for chapter in chapters
    ]
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _seconds(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number >= 0 else None

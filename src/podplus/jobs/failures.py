"""What a failed job tells its owner; the whole story goes to the log.

The engine's own words can hold the server's paths (``/srv/podplus/media/3f9c…: ffprobe
can't read it``), ffmpeg's heap addresses (``[pcm_s16le @ 0x55e44594c3c0]``) or, when
the engine itself breaks, a Python traceback. The owner gets the failure in plain
words and a summary of the engine's message with each path replaced by the name of
the part it is (``take.wav``) and the addresses dropped; after a traceback, no
summary at all. Pure functions: the runner logs the detail beside the job id.

    >>> summarize("podplus-engine: /srv/m/ab12: can't read it", names={"/srv/m/ab12": "a.wav"})
    "a.wav: can't read it"
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

ENGINE_PREFIX = "podplus-engine: "
TRACEBACK = "Traceback (most recent call last)"
MAX_SUMMARY_LINES = 5
MAX_SUMMARY_CHARS = 500

# "[mp3 @ 0x55d5c3a8b2c0]" → "[mp3]", and a bare address anywhere.
_ADDRESS = re.compile(r"\s*@\s*0x[0-9a-fA-F]+|\b0x[0-9a-fA-F]{4,}\b")
# An absolute path (after a space, a quote, a bracket or at the start), with ffmpeg's
# "file:" in front of it or not; group 1 is its last part.
_ABSOLUTE_PATH = re.compile(r"(?:file:)?(?<![\w.~/-])/(?:[^\s/'\"()\[\],;]+/)*([^\s/'\"()\[\],;]*)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_SPACES = re.compile(r" {2,}")


def engine_error_message(
    stderr_tail: str, *, names: Mapping[str, str], roots: Sequence[str] = ()
) -> str:
    """The ``error`` of a job whose engine gave up (``FailureCause.ENGINE_ERROR``)."""
    summary = summarize(stderr_tail, names=names, roots=roots)
    if summary is None:
        return "The assembly failed; the server log has the details."
    return f"The assembly failed: {summary}"


def summarize(
    stderr_tail: str, *, names: Mapping[str, str], roots: Sequence[str] = ()
) -> str | None:
    """The engine's message from the end of its stderr, safe to show: None after a
    traceback (a bug, not the owner's to read), else its own message (the lines from
    its last ``podplus-engine:``), or its last lines when it wrote none, redacted."""
    if TRACEBACK in stderr_tail:
        return None
    lines = [line.strip() for line in stderr_tail.splitlines() if line.strip()]
    starts = [index for index, line in enumerate(lines) if line.startswith(ENGINE_PREFIX)]
    chosen = lines[starts[-1] :] if starts else lines[-MAX_SUMMARY_LINES:]
    chosen = [line.removeprefix(ENGINE_PREFIX) for line in chosen[:MAX_SUMMARY_LINES]]
    text = ""
    for line in (redact(line, names=names, roots=roots) for line in chosen):
        if line:
            text += line if not text else (" " if text.endswith(":") else "; ") + line
    if len(text) > MAX_SUMMARY_CHARS:
        text = text[: MAX_SUMMARY_CHARS - 1].rstrip() + "…"
    return text or None


def redact(text: str, *, names: Mapping[str, str], roots: Sequence[str] = ()) -> str:
    """``text`` with each path in ``names`` replaced by its name, anything else under one of
    the ``roots`` (the server's data folders) and any other absolute path by its last
    part, ffmpeg's heap addresses dropped, and control characters made spaces."""
    for path in sorted(names, key=len, reverse=True):
        name = _CONTROL.sub(" ", names[path]).strip() or "a file"
        text = text.replace(f"file:{path}", name).replace(path, name)
    for root in sorted(roots, key=len, reverse=True):
        # A root may hold spaces, which the general pattern below would stop at.
        under = re.compile(rf"(?:file:)?{re.escape(root.rstrip('/'))}(?:/[^\s'\":,;]*)?")
        text = under.sub(lambda match: match.group(0).rstrip("/").rsplit("/", 1)[-1], text)
    text = _ADDRESS.sub("", text)
    text = _ABSOLUTE_PATH.sub(lambda match: match.group(1) or "a folder", text)
    text = _CONTROL.sub(" ", text)
    return _SPACES.sub(" ", text).strip()

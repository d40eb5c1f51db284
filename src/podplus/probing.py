"""Looking inside uploads without blocking the event loop.

ffprobe and ffmpeg run as asyncio subprocesses; the command lines and the reading of
their output are the engine's pure functions, so an upload is judged exactly as the
engine will judge it at assembly time. Like the engine's, each child is tied to this
process's life (``PR_SET_PDEATHSIG``): a worker that dies takes its loudness measurement
(up to half an hour of it) along.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from podplus.engine.ffmpeg import child_setup, file_url
from podplus.engine.loudness import loudness_args, parse_ebur128
from podplus.engine.probe import ProbeResult, ffprobe_args, is_forbidden_format, parse_ffprobe

PROBE_TIMEOUT_S = 60.0
LOUDNESS_TIMEOUT_S = 1800.0


class ProbeFailed(Exception):
    """ffprobe or ffmpeg could not read the file; the message is ffmpeg's reason."""


async def probe(path: Path) -> ProbeResult:
    stdout, _ = await _run(ffprobe_args(path), timeout_s=PROBE_TIMEOUT_S, path=path)
    try:
        found = parse_ffprobe(json.loads(stdout or b"{}"))
    except json.JSONDecodeError as exc:
        raise ProbeFailed("ffprobe gave no readable report") from exc
    if is_forbidden_format(found.format_name):
        raise ProbeFailed(f"{found.format_name} files are not accepted")
    return found


async def integrated_lufs(path: Path, *, nice: int) -> float | None:
    """Integrated loudness (None for silence), measured once per upload at low priority."""
    _, stderr = await _run(lufs_args(path, nice=nice), timeout_s=LOUDNESS_TIMEOUT_S, path=path)
    try:
        return parse_ebur128(stderr.decode(errors="replace")).integrated_lufs
    except ValueError as exc:
        raise ProbeFailed("no loudness could be measured") from exc


def lufs_args(path: Path, *, nice: int) -> list[str]:
    """The engine's loudness command, without the costly true peak, under ``nice``."""
    return ["nice", "-n", str(nice), *loudness_args(path, true_peak=False)]


async def _run(argv: list[str], *, timeout_s: float, path: Path) -> tuple[bytes, bytes]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=child_setup(),  # noqa: PLW1509 - only a prctl call runs in the child
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
    except BaseException:
        if process.returncode is None:
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        # Our storage path means nothing to the uploader; keep only ffmpeg's reason.
        text = stderr.decode(errors="replace").replace(f"{file_url(path)}: ", "")
        tail = text.replace(str(path), "").strip().splitlines()[-1:] or ["unreadable"]
        raise ProbeFailed(tail[0].strip().rstrip("."))
    return stdout, stderr

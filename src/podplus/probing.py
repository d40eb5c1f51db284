"""Looking inside uploads, as cheaply and as safely as a hostile file allows.

A few kilobytes of FLAC can declare hours of 192 kHz 7.1 audio, and measuring its
loudness means decoding every sample of it. So an upload is judged in two steps:

1. ``ffprobe`` reads the headers (bounded by its probe size) and the file is refused on
   the figures it declares (duration, sample rate, channels; ``check_figures``) before
   a single sample is decoded;
2. only then is its loudness measured, within a time limit that scales with the
   declared duration.

Both run like the engines (``Analyzer``): through the same launcher (a parent-death
signal, then SCHED_IDLE and ``nice``), in a process group of their own that is killed
whole on a timeout, a cancellation (the client went away) or any error, and always
reaped. At most ``max_analyses_per_user`` analyses run at once for one owner, counted in
the database across every server (``podplus.storage.analysis_slots``). The command lines and
the reading of their output are the engine's pure functions, so an upload is judged
exactly as the engine will judge it at assembly time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from podplus.engine.ffmpeg import child_setup, file_url, safe_input
from podplus.engine.loudness import loudness_args, parse_ebur128
from podplus.engine.probe import ProbeResult, ffprobe_args, is_forbidden_format, parse_ffprobe
from podplus.errors import MediaOverLimit, UnsupportedMedia
from podplus.feeds.artwork import ImageFacts
from podplus.feeds.chapters import Chapter, parse_ffprobe_chapters
from podplus.storage.analysis_slots import AnalysisSlots

logger = logging.getLogger(__name__)

# ffprobe reads headers and at most its probe size (5 MB) of packets: cheap for any file.
PROBE_TIMEOUT_S = 30.0
# No loudness pass gets less than this, however short the file says it is; a file that
# lies about its length is still stopped here.
MIN_ANALYSIS_TIMEOUT_S = 30.0


class ProbeFailed(Exception):
    """ffprobe or ffmpeg could not read the file; the message is ffmpeg's reason."""


@dataclass(frozen=True, kw_only=True)
class AnalysisLimits:
    """What an upload may declare, and how long measuring it may take.

    ``timeout_s`` is the time allowed for a file of ``max_duration_s``; a shorter file
    gets its share of it, and never less than ``MIN_ANALYSIS_TIMEOUT_S`` (or
    ``timeout_s`` itself, when that is smaller).
    """

    max_duration_s: float
    max_sample_rate: int
    max_channels: int
    timeout_s: float

    def time_limit_s(self, duration_s: float) -> float:
        """>>> AnalysisLimits(max_duration_s=3600, max_sample_rate=96000, max_channels=8,
        ...     timeout_s=300).time_limit_s(1800)
        150.0
        """
        share = self.timeout_s * min(1.0, duration_s / self.max_duration_s)
        return max(min(MIN_ANALYSIS_TIMEOUT_S, self.timeout_s), share)


def check_figures(info: ProbeResult, limits: AnalysisLimits) -> float:
    """Refuse audio on what its headers declare, before anything is decoded.

    Returns the declared duration. A file that declares no duration, rate or channel
    count can't be bounded, so it is refused too (the engine needs all three anyway).
    """
    duration_s, sample_rate, channels = info.duration_s, info.sample_rate, info.channels
    if not duration_s or duration_s <= 0 or not sample_rate or not channels:
        raise UnsupportedMedia(
            "The upload can't be read as an audio file: "
            "it declares no duration, sample rate or channel count."
        )
    if duration_s > limits.max_duration_s:
        raise MediaOverLimit(
            f"The file is {_clock(duration_s)} long; the limit is {_clock(limits.max_duration_s)}.",
            limit="duration",
        )
    if sample_rate > limits.max_sample_rate:
        raise UnsupportedMedia(
            f"The file's sample rate is {sample_rate} Hz; the limit is "
            f"{limits.max_sample_rate} Hz. Resample it first."
        )
    if channels > limits.max_channels:
        raise UnsupportedMedia(
            f"The file has {channels} channels; the limit is {limits.max_channels}. "
            "Mix it down first."
        )
    return duration_s


class Analyzer:
    """Runs the probes and loudness passes for uploads (one per ``podplus serve``).

    ``launcher`` is the command prefix the supervisor starts engines with
    (``podplus.jobs.supervisor.launcher_prefix``): each tool in it execs the next, so no
    Python runs between the fork and ffmpeg, and the pid we kill is ffmpeg's own.
    """

    def __init__(
        self, *, limits: AnalysisLimits, launcher: Sequence[str], slots: AnalysisSlots
    ) -> None:
        self.limits = limits
        self._launcher = list(launcher)
        self._slots = slots

    @contextlib.asynccontextmanager
    async def slot(self, owner_id: str) -> AsyncIterator[None]:
        """Hold one of the owner's analysis slots, or raise ``AnalysisBusy``: one of
        ``max_analyses_per_user`` leased in the database, so the servers share them."""
        async with self._slots.hold(owner_id):
            yield

    async def probe(self, path: Path) -> ProbeResult:
        """What the file declares; ``ProbeFailed`` if ffprobe can't read it."""
        stdout, _ = await self._run(ffprobe_args(path), timeout_s=PROBE_TIMEOUT_S, path=path)
        try:
            found = parse_ffprobe(json.loads(stdout or b"{}"))
        except json.JSONDecodeError as exc:
            raise ProbeFailed("ffprobe gave no readable report") from exc
        if is_forbidden_format(found.format_name):
            raise ProbeFailed(f"{found.format_name} files are not accepted")
        return found

    async def probe_image(self, path: Path) -> ImageFacts:
        """What an image declares in its headers (codec, size, pixel format); nothing is
        decoded. ``ProbeFailed`` if ffprobe can't read it."""
        # As one picture: the image2 demuxer, pinned to this one file (``safe_input``), so
        # no container's demuxer reads the upload; ``artwork_problem`` checks what it found.
        argv = ffprobe_args(path, image=True)
        stdout, _ = await self._run(argv, timeout_s=PROBE_TIMEOUT_S, path=path)
        try:
            report = json.loads(stdout or b"{}")
        except json.JSONDecodeError as exc:
            raise ProbeFailed("ffprobe gave no readable report") from exc
        return parse_image(report)

    async def chapters(self, path: Path) -> list[Chapter]:
        """The chapters a (published) file carries; ``ProbeFailed`` if ffprobe can't say."""
        argv = [
            "ffprobe", "-v", "error", "-print_format", "json", "-show_chapters",
            *safe_input(path),
        ]  # fmt: skip
        stdout, _ = await self._run(argv, timeout_s=PROBE_TIMEOUT_S, path=path)
        try:
            return parse_ffprobe_chapters(json.loads(stdout or b"{}"))
        except json.JSONDecodeError as exc:
            raise ProbeFailed("ffprobe gave no readable report") from exc

    async def integrated_lufs(self, path: Path, *, duration_s: float) -> float | None:
        """Integrated loudness (None for silence) of a file declaring ``duration_s``.

        Raises ``MediaOverLimit`` past ``limits.time_limit_s(duration_s)``.
        """
        limit_s = self.limits.time_limit_s(duration_s)
        _, stderr = await self._run(lufs_args(path), timeout_s=limit_s, path=path)
        try:
            return parse_ebur128(stderr.decode(errors="replace")).integrated_lufs
        except ValueError as exc:
            raise ProbeFailed("no loudness could be measured") from exc

    async def _run(self, argv: list[str], *, timeout_s: float, path: Path) -> tuple[bytes, bytes]:
        process = await asyncio.create_subprocess_exec(
            *self._launcher,
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # Its own group, so one killpg reaches it whatever it has started; not its own
            # session, which the kernel's autogroup would schedule as the API's equal.
            process_group=0,
            # The launcher sets the death signal too, but only once it runs: this also
            # covers a parent that dies between the fork and the exec.
            preexec_fn=child_setup(),  # noqa: PLW1509 - only a prctl call runs in the child
        )
        logger.debug("event=media.analysis.started tool=%s pid=%s", argv[0], process.pid)
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=timeout_s)
        except TimeoutError:
            logger.info(
                "event=media.analysis.timeout pid=%s limit_s=%g tool=%s",
                process.pid, timeout_s, argv[0],
            )  # fmt: skip
            raise MediaOverLimit(
                f"Analysing the file took longer than its {timeout_s:g} s limit; it may be "
                "damaged, or unusually costly to decode.",
                limit="analysis_time",
            ) from None
        finally:
            # On a timeout, a cancellation (the client went away) or any error: kill the
            # whole group and reap it, so nothing outlives the request.
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
        if process.returncode != 0:
            # Our storage path means nothing to the uploader; keep only ffmpeg's reason.
            text = stderr.decode(errors="replace").replace(f"{file_url(path)}: ", "")
            tail = text.replace(str(path), "").strip().splitlines()[-1:] or ["unreadable"]
            raise ProbeFailed(tail[0].strip().rstrip("."))
        return stdout, stderr


def parse_image(report: dict[str, object]) -> ImageFacts:
    """The first picture stream of an ffprobe report; an empty ``ImageFacts`` if none.

    >>> facts = parse_image({"format": {"format_name": "image2"}, "streams": [{
    ...     "codec_type": "video", "codec_name": "png", "width": 1400, "height": 1400,
    ...     "pix_fmt": "rgb24"}]})
    >>> facts.codec, facts.width, facts.pixel_format, facts.container, facts.streams
    ('png', 1400, 'rgb24', 'image2', 1)
    """
    streams = report.get("streams")
    listed = streams if isinstance(streams, list) else []
    picture = next(
        (
            stream
            for stream in listed
            if isinstance(stream, dict) and stream.get("codec_type") == "video"
        ),
        {},
    )
    container = report.get("format")
    format_name = container.get("format_name") if isinstance(container, dict) else None

    def whole(value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    codec, pixel_format = picture.get("codec_name"), picture.get("pix_fmt")
    return ImageFacts(
        codec=codec if isinstance(codec, str) else None,
        width=whole(picture.get("width")),
        height=whole(picture.get("height")),
        pixel_format=pixel_format if isinstance(pixel_format, str) else None,
        container=format_name if isinstance(format_name, str) else None,
        streams=len(listed),
    )


def lufs_args(path: Path) -> list[str]:
    """The engine's loudness command, without the costly true peak; the launcher adds the
    priority."""
    return loudness_args(path, true_peak=False)


def _clock(seconds: float) -> str:
    """>>> _clock(14400), _clock(5415.2)
    ('4:00:00', '1:30:15')
    """
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

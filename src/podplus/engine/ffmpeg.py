"""Running ffmpeg: an argument list (never a shell), tied to our life, watched for progress.

The words every command line is made of are pure functions here: ``safe_input`` is the
only way a file becomes an input, ``filter_spec`` the only way a filter's options are
written, ``format_number`` the only way a number is. ``graph``, ``probe`` and ``loudness``
build whole command lines from them.

Each ffmpeg gets PR_SET_PDEATHSIG, so if the engine dies ffmpeg dies with it; its stderr
goes to a temporary file, so megabytes of warnings can never fill a pipe and stall it.
Every ffmpeg is started from the main thread: the kernel sends the death signal when the
*thread* that forked the child exits, so a child of a worker thread would die with that
thread. (Only the quick ffprobe calls run in a thread pool, each waited for in its thread.)
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import os
import re
import signal
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import IO, TypeAlias

PR_SET_PDEATHSIG = 1
STDERR_TAIL_LINES = 8
# With ``-loglevel level+…`` every line ffmpeg logs carries its level; these are the ones
# that say why it failed.
_FAILURE_LINE = re.compile(r"\[(fatal|error|panic)\] ")
_LEVEL_TAG = re.compile(r"\[(quiet|panic|fatal|error|warning|info|verbose|debug|trace)\] ")

OptionValue: TypeAlias = str | int | float | bool
# Demuxers that open other files named inside the input (playlists, concat lists,
# filename patterns) or synthesise input. A crafted upload must not reach any of them.
FORBIDDEN_DEMUXERS = frozenset(
    {"hls", "applehttp", "concat", "ffconcat", "dash", "lavfi", "tee", "image2", "sdp", "rtp"}
)
# What ``safe_input`` decides itself; an option overriding it would undo a safety property.
_OWNED_OPTIONS = frozenset({"i", "f", "protocol_whitelist", "pattern_type"})
_NAME = re.compile(r"[a-z][a-z0-9_]*")
# A filter may be given an instance name (``astats@before``) to tell its log lines apart.
_FILTER_NAME = re.compile(r"[a-z][a-z0-9_]*(?:@[a-z0-9_]+)?")
# Values that mean the same to every level of the filtergraph parser, written as they are.
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.+/-]+")
_GRAPH_SYNTAX = re.compile(r"([\\'\[\],;])")


def format_number(value: float) -> str:
    """A number as ffmpeg reads it: fixed point, at most six decimals, no exponent.

    >>> format_number(1.0), format_number(-2.5), format_number(1e-5)
    ('1', '-2.5', '0.00001')
    """
    if isinstance(value, bool) or not math.isfinite(value):
        # ffmpeg would read "nan" as an expression or fail far from the cause.
        raise ValueError(f"not a finite number: {value!r}")
    if isinstance(value, int):
        return str(value)
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def decibels(value: float) -> str:
    """``volume=3dB``, ``silencedetect=n=-50dB``: a level in dB as a filter reads it."""
    return f"{format_number(value)}dB"


def file_url(path: Path) -> str:
    """``file:`` makes ffmpeg read (or write) the path as a plain file, whatever its name
    looks like: ``a|b.wav`` is no pipe and ``http:x.mp3`` no address."""
    return f"file:{path}"


def safe_input(
    path: Path, *, demuxer: str | None = None, options: Mapping[str, OptionValue] | None = None
) -> list[str]:
    """``path`` as one ffmpeg or ffprobe input that can open that file and nothing else.

    ``demuxer`` skips format detection (``-f``); ``options`` are the input's own options
    (``{"ss": 0.5}`` is ``-ss 0.5``), placed before its ``-i`` as ffmpeg requires.

    >>> safe_input(Path("/ep/a.wav"), options={"ss": 0.5})
    ['-protocol_whitelist', 'file', '-ss', '0.5', '-i', 'file:/ep/a.wav']
    """
    # The whitelist is an option of this input alone: every input needs its own.
    args = ["-protocol_whitelist", "file"]
    if demuxer is not None:
        if not _NAME.fullmatch(demuxer):
            raise ValueError(f"not a demuxer name: {demuxer!r}")
        args += ["-f", demuxer]
        if demuxer == "image2":
            # One picture by its name: as a pattern, "c%d.jpg" would open c0.jpg, c1.jpg...
            args += ["-pattern_type", "none"]
        elif demuxer in FORBIDDEN_DEMUXERS:
            raise ValueError(f"the {demuxer} demuxer opens other inputs; it is never used")
    for name, value in (options or {}).items():
        if not _NAME.fullmatch(name) or name in _OWNED_OPTIONS:
            raise ValueError(f"safe_input sets -{name} itself or never: {name!r}")
        args += [f"-{name}", _format_value(value)]
    return [*args, "-i", file_url(path)]


def filter_spec(name: str, *values: OptionValue, **options: OptionValue) -> str:
    """One filter of a filtergraph, its options escaped for both levels of its parser.

    ``values`` are given by position (ffmpeg's shorthand order), ``options`` by name;
    numbers go through ``format_number``, booleans are 1 or 0.

    >>> filter_spec("acrossfade", d=1.0, c1="tri")
    'acrossfade=d=1:c1=tri'
    """
    if not _FILTER_NAME.fullmatch(name):
        raise ValueError(f"not a filter name: {name!r}")
    for word in options:
        if not _NAME.fullmatch(word):
            raise ValueError(f"not a filter or option name: {word!r}")
    args = [_filter_value(value) for value in values]
    args += [f"{key}={_filter_value(value)}" for key, value in options.items()]
    return f"{name}={':'.join(args)}" if args else name


def _format_value(value: OptionValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return format_number(value)
    return value


def _filter_value(value: OptionValue) -> str:
    text = _format_value(value)
    if _PLAIN_VALUE.fullmatch(text):
        return text
    # A filter's options are read twice. The graph parser comes first and takes "[],;"
    # as its own syntax; what it hands the filter is then split on ":". Each level strips
    # one layer of quotes and backslashes, so the value is quoted for the filter (inside
    # quotes only "'" is special: it is closed, escaped and reopened), then every
    # character the graph parser would act on is escaped. Quoting also keeps leading
    # and trailing spaces, which both levels would otherwise trim.
    quoted = "'" + text.replace("'", "'\\''") + "'"
    return _GRAPH_SYNTAX.sub(r"\\\1", quoted)


def die_with_parent(parent_pid: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux only).

    With ``parent_pid``, also exit at once if that parent is already gone: it may have
    died between the fork and the prctl call, and then no signal would ever come.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid is not None and os.getppid() != parent_pid:
        os._exit(1)


def child_setup() -> Callable[[], None]:
    """A ``preexec_fn`` for children of this process (only a prctl call runs there)."""
    return partial(die_with_parent, os.getpid())


def run_briefly(args: list[str]) -> subprocess.CompletedProcess[str]:
    """A short ffprobe or ffmpeg run (probing, measuring) that dies with us if we die."""
    return subprocess.run(
        args,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        preexec_fn=child_setup(),  # noqa: PLW1509 - only a prctl call runs in the child
    )


def last_line(stderr: str) -> str:
    return (stderr.strip().splitlines() or ["unreadable"])[-1]


def failure_lines(stderr: str, *, limit: int = STDERR_TAIL_LINES) -> str:
    """ffmpeg's error lines, untagged; its last lines when none is tagged as an error."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    failures = [line for line in lines if _FAILURE_LINE.search(line)]
    return "\n".join(_LEVEL_TAG.sub("", line) for line in (failures or lines)[-limit:])


class FFmpegRun:
    """One ffmpeg process. ``follow`` feeds ``out_time_s`` from ``-progress`` reports."""

    def __init__(self, args: list[str], *, stdout: int | IO[bytes] = subprocess.PIPE) -> None:
        self.args = args
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=self._stderr,
            preexec_fn=child_setup(),  # noqa: PLW1509 - only a prctl call runs in the child
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def follow(self, on_progress: Callable[[float], None]) -> None:
        """Read ``-progress pipe:1`` key=value lines until ffmpeg closes stdout."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit():
                on_progress(max(0, int(value)) / 1e6)

    def wait(self) -> int:
        if self.process.stdout is not None:
            self.process.stdout.read()
        return self.process.wait()

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stderr_tail(self) -> str:
        return failure_lines(self.stderr_text())

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()

"""Running ``wrk`` in its own process and reading back exact percentiles.

``latency.lua`` prints ``BENCH key=value`` lines from wrk's ``done()`` hook; wrk's own
summary rounds to two significant digits, which hides a 1.4× difference at 3 ms.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

LUA_SCRIPT = Path(__file__).with_name("latency.lua")
BENCH_LINE = re.compile(r"(\w+)=(-?\d+)")


class WrkError(RuntimeError):
    """wrk could not run, or its output lacked the figures ``latency.lua`` prints."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    mean_ms: float
    errors_socket: int
    errors_status: int
    errors_timeout: int

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    @property
    def errors(self) -> int:
        return self.errors_socket + self.errors_status + self.errors_timeout


def wrk_command(
    url: str,
    *,
    connections: int = 32,
    threads: int = 2,
    duration_s: float = 10.0,
    timeout_s: float = 10.0,
    headers: Mapping[str, str] | None = None,
) -> list[str]:
    """The argument list for one wrk run.

    The timeout is raised from wrk's 2 s default: a request slower than the timeout is
    counted as an error and left out of the latency histogram, which would flatter
    exactly the servers that are failing.
    """
    executable = shutil.which("wrk")
    if executable is None:
        raise WrkError("wrk is not installed (Debian: apt-get install wrk)")
    command = [
        executable,
        f"-c{connections}",
        f"-t{threads}",
        f"-d{max(1, round(duration_s))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def parse_wrk(output: str) -> WrkResult:
    values: dict[str, int] = {}
    for line in output.splitlines():
        if line.startswith("BENCH "):
            values.update((key, int(raw)) for key, raw in BENCH_LINE.findall(line))
    try:
        return WrkResult(
            requests=values["requests"],
            duration_s=values["duration_us"] / 1e6,
            p50_ms=values["p50_us"] / 1e3,
            p90_ms=values["p90_us"] / 1e3,
            p99_ms=values["p99_us"] / 1e3,
            p999_ms=values["p999_us"] / 1e3,
            max_ms=values["max_us"] / 1e3,
            mean_ms=values["mean_us"] / 1e3,
            errors_socket=values["errors_connect"] + values["errors_read"] + values["errors_write"],
            errors_status=values["errors_status"],
            errors_timeout=values["errors_timeout"],
        )
    except KeyError as exc:
        raise WrkError(f"wrk printed no {exc.args[0]}; output was:\n{output}") from exc


class WrkRun:
    """A wrk process started now and read when it ends, so other work can run beside it."""

    def __init__(self, url: str, **options: object) -> None:
        self.command = wrk_command(url, **options)  # type: ignore[arg-type]
        self._process = subprocess.Popen(
            self.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def result(self, *, timeout_s: float = 600.0) -> WrkResult:
        output, _ = self._process.communicate(timeout=timeout_s)
        if self._process.returncode != 0:
            raise WrkError(f"wrk exited {self._process.returncode}:\n{output}")
        return parse_wrk(output)

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()


def run_wrk(url: str, **options: object) -> WrkResult:
    return WrkRun(url, **options).result()

"""Markdown for the results files: tables, figures with sensible precision, the machine."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from typing import TypeVar

from harness.processes import REPO_DIR

T = TypeVar("T")


def ms(value: float) -> str:
    """Milliseconds with three significant-ish digits: 0.912, 9.12, 91.2, 912, 9120."""
    if value < 1:
        return f"{value:.3f}"
    if value < 10:
        return f"{value:.2f}"
    if value < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def ratio(value: float, reference: float) -> str:
    return f"{value / reference:.2f}×" if reference else "–"


def verdict(ok: bool) -> str:
    return "✓ met" if ok else "✗ missed"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def median_of(items: Sequence[T], key: Callable[[T], float]) -> float:
    return statistics.median(key(item) for item in items)


def machine() -> str:
    """One line saying where and with what the figures were measured."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    versions = ", ".join(
        f"{name} {_version(name)}" for name in ("uvicorn", "starlette", "databases", "aiosqlite")
    )
    loop = "uvloop" if _version("uvloop") != "absent" else "asyncio"
    http = "httptools" if _version("httptools") != "absent" else "h11"
    return (
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.machine()} · {os.cpu_count()} cores · "
        f"Python {sys.version.split()[0]} · {versions} · loop {loop}, http {http}"
        + (f" · commit {commit} (plus uncommitted work)" if commit else "")
    )


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"

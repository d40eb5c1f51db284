"""``make cluster`` (``scripts/cluster.py``): the whole shape starts, answers, and Ctrl-C
stops all of it, its own PostgreSQL and store included, leaving nothing running."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
import pytest

from tests.cluster.conftest import REPO_DIR, wait_until

pytestmark = [pytest.mark.slow]


def listening(url: str) -> bool:
    host, port = re.match(r"\w+://([^:/@]+@)?([^:/]+):(\d+)", url).group(2, 3)  # type: ignore[union-attr]
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, int(port))) == 0


def test_ctrl_c_stops_the_whole_cluster_and_leaves_nothing_running(tmp_path: Path) -> None:
    root = tmp_path / "cluster"
    output = tmp_path / "cluster.out"
    with output.open("wb") as sink:
        command = subprocess.Popen(
            [sys.executable, str(REPO_DIR / "scripts" / "cluster.py"), "--root", str(root)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches it alone, as the terminal's would
        )
    try:
        wait_until(
            "the cluster to be ready",
            lambda: "Ctrl-C" in output.read_text() or command.poll() is not None,
            timeout_s=180,
        )
        printed = output.read_text()
        assert command.poll() is None, printed
        apis = re.findall(r"API \d:\s+(\S+)", printed)
        s3 = re.search(r"S3:\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
        found = re.search(r"PostgreSQL:\s+(\S+) \(in (\S+)\)", printed)
        assert found is not None, printed
        database, database_folder = found.groups()
        assert len(apis) == 2
        assert all(httpx.get(url + "/healthz").status_code == 200 for url in apis)
        family = psutil.Process(command.pid).children(recursive=True)
        # Two APIs, two workers at least (the store and PostgreSQL detach from it).
        assert sum("podplus" in " ".join(p.cmdline()) for p in family) >= 4
        found_by_folder = [
            p for p in psutil.process_iter() if _names(p, str(root)) or _names(p, database_folder)
        ]
        commands = " ".join(" ".join(p.cmdline()) for p in found_by_folder)
        assert "weed" in commands and "postgres" in commands  # the ones it started detached
        seen = {(p.pid, p.create_time()) for p in [*family, *found_by_folder]}

        command.send_signal(signal.SIGINT)
        assert command.wait(timeout=120) == 0
    finally:
        if command.poll() is None:  # a failed check above: still stop what it started
            command.send_signal(signal.SIGINT)
            try:
                command.wait(timeout=120)
            except subprocess.TimeoutExpired:
                command.kill()
                command.wait()

    printed = output.read_text()
    assert "stopped; nothing left running" in printed, printed
    still = [pid for pid, created in seen if _alive(pid, created)]
    assert still == [], printed
    assert not any(listening(url) for url in [*apis, s3, database])
    assert not root.exists()
    assert not Path(database_folder).exists()


def _names(process: psutil.Process, marker: str) -> bool:
    with contextlib.suppress(psutil.Error):
        return marker in " ".join(process.cmdline())
    return False


def _alive(pid: int, created: float) -> bool:
    try:
        process = psutil.Process(pid)
        return process.create_time() == created and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False

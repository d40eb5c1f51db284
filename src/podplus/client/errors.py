"""What can go wrong in the client, and the exit code each gives a script.

    ClientError              exit code
    ├── UsageError           2   the command can't run as given (not logged in, no such file)
    ├── ApiRefused           1   the server refused: its ``status``, ``code`` and ``message``
    ├── JobFailed            3   the assembly failed or was cancelled; the ``job`` says why
    └── ServerUnreachable    4   no answer from the server (refused, DNS, timeout, TLS)

0 is success; argparse's own usage errors are 2 as well.
"""

from __future__ import annotations

from typing import Any


class ClientError(Exception):
    """Base of the client's errors; ``exit_code`` is what ``podplus`` exits with."""

    exit_code = 1
    code = "client_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # What the command had done when it stopped, for its --json answer.
        self.document: dict[str, Any] = {}


class UsageError(ClientError):
    """The command can't run as given."""

    exit_code = 2
    code = "usage"


class ApiRefused(ClientError):
    """The server answered with an error (``{"error": {"code", "message"}}``)."""

    exit_code = 1

    def __init__(self, *, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class JobFailed(ClientError):
    """The assembly job ended without audio: failed or cancelled."""

    exit_code = 3
    code = "job_failed"

    def __init__(self, job: dict[str, Any]) -> None:
        if job.get("status") == "cancelled":
            message = "The assembly was cancelled."
        else:
            message = f"The assembly failed: {job.get('error') or 'no reason given'}"
        super().__init__(message)
        self.job = job
        self.document = {"job": job}


class ServerUnreachable(ClientError):
    """No HTTP answer from the server."""

    exit_code = 4
    code = "unreachable"

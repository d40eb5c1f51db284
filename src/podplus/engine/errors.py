"""What can go wrong in an assembly, and the exit code each one means.

EngineError
├── ManifestError   exit 2   the manifest is wrong; the message names the field
├── InputError      exit 2   an input can't be read as audio (or image); names the file
├── FFmpegError     exit 3   ffmpeg failed; carries its last error lines
├── OutputError     exit 4   the encoded episode missed its loudness or true-peak target
└── Interrupted     exit 130 (SIGINT) / 143 (SIGTERM); ffmpeg killed, no output left
"""

from __future__ import annotations


class EngineError(Exception):
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ManifestError(EngineError):
    exit_code = 2


class InputError(EngineError):
    exit_code = 2


class FFmpegError(EngineError):
    exit_code = 3

    def __init__(self, message: str, *, stderr_tail: str = "") -> None:
        super().__init__(f"{message}\n{stderr_tail}".strip())
        self.stderr_tail = stderr_tail


class OutputError(EngineError):
    exit_code = 4


class Interrupted(EngineError):
    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by signal {signum}")
        self.exit_code = 128 + signum

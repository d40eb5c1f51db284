"""Serving a benchmark app exactly as ``podplus serve`` serves podplus.

``podplus.cli._serve`` calls ``uvicorn.run(app, host, port, log_config=None,
access_log=False, lifespan="on")`` with uvicorn's default ``loop="auto"`` and
``http="auto"``; with neither uvloop nor httptools installed (as in podplus's
dependencies today) those resolve to asyncio and h11. Keep this call in step with it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import uvicorn
from starlette.applications import Starlette


def serve(create_app: Callable[[Path], Starlette], *, description: str) -> None:
    """Parse ``--port``, ``--host`` and ``--data-dir``, then serve ``create_app(data_dir)``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, default=Path("work"))
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        create_app(args.data_dir.resolve()),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )

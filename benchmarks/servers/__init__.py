"""Minimal Starlette servers the benchmarks measure podplus against.

Each runs as ``python -m servers.<name> --port N`` with ``benchmarks/`` as the working
directory, and is served by ``servers.serving.serve``: the same uvicorn call as
``podplus serve``, so any difference measured is the application's, not the server's.
"""

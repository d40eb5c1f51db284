"""podplus's command-line client: ``podplus login``, ``upload``, ``episodes``,
``assemble``, ``produce`` talk to a podplus server over HTTP (httpx), for people who live
in a terminal and for scripts.

    errors.py     what can go wrong, and the exit code each gives
    config.py     where the token is kept (credentials.json, mode 0600, written atomically)
    api.py        ``PodplusClient``: the API's calls, uploads and downloads with progress
    progress.py   a live bar on a terminal, plain lines when piped, JSON lines with --json
    commands.py   the subcommands, wired into ``podplus`` (``podplus.cli``)

It imports nothing from the server side: it is a client of the HTTP API like any other.
"""

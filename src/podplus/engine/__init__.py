"""The assembly engine: a manifest in, a broadcast-ready audio file out.

A separate program (``podplus-engine`` / ``python -m podplus.engine``) that the web side
only starts and watches; it imports nothing from the rest of podplus.
"""

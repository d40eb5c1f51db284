"""What the benchmark scripts share: server processes, wrk, the login pacer, the sampler.

The scripts run as ``python benchmarks/<name>.py``, which puts ``benchmarks/`` first on
``sys.path``; that is how ``harness`` and ``servers`` are found without installing them.
"""

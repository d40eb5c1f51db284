"""Assembly jobs: the runner that claims them and the supervisor that owns the engine processes.

Data flows one way: a handler writes a row to the job table; the runner claims it and
asks the supervisor to run the engine; the supervisor starts, watches and reaps the
process and hands back an outcome; the runner writes the result.
"""

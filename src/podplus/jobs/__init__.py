"""Assembly jobs: the queue that carries them, the runners that take them, and the
supervisor that owns the engine processes.

Data flows one way: a handler queues a job (``queue.JobQueue``: a row in the job table,
and on PostgreSQL a procrastinate job that carries it); a runner takes it (the embedded
``runner.Runner`` on SQLite, a ``queue_worker.QueueWorker`` on PostgreSQL) and runs one
attempt (``attempt.Attempts``), which asks the supervisor to run the engine; the
supervisor starts, watches and reaps the process and hands back an outcome; the attempt
writes the result to the row.
"""

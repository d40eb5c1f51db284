"""Storage: the SQL schema, its migrations, and one small repository module per table family.

Handlers and the job runner talk to these modules, never to SQL directly, and the SQL
here is SQLAlchemy Core so the same code runs on SQLite and PostgreSQL.
"""

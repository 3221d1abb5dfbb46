"""The database: the embedded or external PostgreSQL server, migrations and named queries."""

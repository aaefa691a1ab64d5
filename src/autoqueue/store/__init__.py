"""The database: the backend seam, SQLite and PostgreSQL, URLs, copying a home."""

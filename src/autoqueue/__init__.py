"""autoqueue: a cron-driven SQLite queue for a YouTube content pipeline."""

__version__ = "0.1.0"

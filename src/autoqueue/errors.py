"""Typed errors. The CLI prints each as one line on stderr and exits with its ``exit_code``."""

from __future__ import annotations

from datetime import datetime


class AutoqueueError(Exception):
    """Base class for every error autoqueue reports to the user."""

    exit_code = 1


class UsageError(AutoqueueError):
    """Bad input on the command line: an unknown value, an unparseable time, a missing file."""

    exit_code = 2


class FieldError(UsageError):
    """A usage error about one field of ``add``'s request (``field``: the AddRequest field's
    name), so that a batch file can name the column it came from."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class SupersededError(UsageError):
    """A failed item of a run that a later run of its task replaced: running it again could
    publish the later run's video a second time, so it never runs again."""


class NoSuchTaskError(AutoqueueError):
    """A well-formed task id that is not in the database."""

    exit_code = 1


class DatabaseError(AutoqueueError):
    """The database file is not SQLite, is corrupt, or is not an autoqueue database."""

    exit_code = 1


class ReadOnlyError(DatabaseError):
    """The database's folder or file cannot be written (a read-only mount, no permission): only
    the commands that read may open it."""


class DatabaseBusyError(DatabaseError):
    """Another process held the database's write lock for longer than autoqueue would wait."""


class DatabaseUnreachableError(DatabaseError):
    """The database server could not be reached for longer than a worker rides out an outage
    (``[worker] outage``)."""


class ConfigError(AutoqueueError):
    """``autoqueue.toml`` cannot be read or does not validate."""

    exit_code = 2


class NotifyError(AutoqueueError):
    """A notification could not be sent (``autoqueue notify test``: the URLs that failed are
    named, their secrets masked)."""

    exit_code = 1


class StageError(Exception):
    """A stage did not produce its outputs. Subclasses say whether retrying can help."""

    permanent = False


class TransientStageError(StageError):
    """Worth retrying: a timeout, a crash, a network error."""


class PermanentStageError(StageError):
    """Retrying cannot help: bad input, missing configuration or credentials."""

    permanent = True


class ParkStageError(StageError):
    """Not a failure: the stage cannot run before ``until`` (a quota resets then). The item waits
    until that time without spending a retry. ``budget``: a budget ran out (the YouTube quota,
    an AI spend cap), which a person is told of (a ``parked`` notification); a wait the stage
    asked for itself (a rate limit's Retry-After, a clip still being made) is not."""

    def __init__(self, message: str, until: datetime, *, budget: bool = False) -> None:
        super().__init__(message)
        self.until = until
        self.budget = budget

"""One base error for the project; subclasses carry what a user needs to act.

Every error the scanner raises on purpose derives from :class:`ScannerError`. The CLI
prints ``str(error)`` as one line on stderr and exits with ``error.exit_code``.
"""

from __future__ import annotations

from classifiers.errors import PolicyError, ScannerError

__all__ = ["PolicyError", "ScannerError"]  # re-exported: the base lives below scanner/


class ConfigError(ScannerError):
    """The configuration file or an environment override is invalid."""

    exit_code = 2

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class StoreError(ScannerError):
    """The database cannot be used (unreachable, wrong schema version, ...)."""

    exit_code = 3


class SchemaVersionError(StoreError):
    """The database's schema version is unknown to this scanner version."""


class EutilsError(ScannerError):
    """E-utilities could not give a usable answer after every retry."""

    exit_code = 4

    def __init__(self, message: str, *, endpoint: str | None = None,
                 attempts: int | None = None) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.attempts = attempts


class QueryError(EutilsError):
    """PubMed reported the query as wrong or partly not found; never ingest it broadened."""


class WindowTooLargeError(EutilsError):
    """One create-date day holds more records than esearch can page through."""


class ParseError(ScannerError):
    """PubMed XML that cannot be parsed (malformed, truncated, not PubMed XML)."""

    exit_code = 5


class ScanInProgressError(ScannerError):
    """Another scan holds the scan lock on this database."""

    exit_code = 6


class ReviewError(ScannerError):
    """A review-app request that cannot be done; carries the HTTP status to answer with."""

    exit_code = 7
    http_status = 400


class NotFoundError(ReviewError):
    """No such draft, paper or user."""

    http_status = 404


class PermissionDeniedError(ReviewError):
    """Signed out, or the account's role does not allow this."""

    http_status = 403


class StaleDraftError(ReviewError):
    """A save or decision based on a version of a draft that is no longer current."""

    http_status = 409

    def __init__(self, message: str, *, current_version: int,
                 changes: dict[str, dict[str, object]]) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.changes = changes


class RunStopped(Exception):
    """A cooperative stop (the daemon got SIGTERM): a run ends ``interrupted`` between
    batches. Not a :class:`ScannerError`: nothing went wrong."""

"""The project's one base error, at the bottom layer so that ``classifiers`` can raise it.

Every error the scanner raises on purpose derives from :class:`ScannerError`
(``scanner.errors`` adds the rest: config, store, E-utilities, ...). The CLI prints
``str(error)`` as one line on stderr and exits with ``error.exit_code``.
"""

from __future__ import annotations


class ScannerError(Exception):
    """Base class of every deliberate scanner error."""

    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PolicyError(ScannerError):
    """A policy file is missing, malformed, or changed after it was used."""

    exit_code = 2



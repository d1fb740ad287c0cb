"""Which SQLite journal mode is safe with the SQLite this process links.

SQLite 3.7.0 to 3.51.2 has a WAL-reset race (fixed in 3.51.3, 3.50.7 and 3.44.6): two
or more connections writing one WAL database, such as the daemon and the web app, can
corrupt it. No registry package ships a fixed SQLite as a drop-in DB-API driver for
this Python (checked: ``pysqlite3-binary`` 0.5.4.post2 links 3.51.1, ``sqlean.py``
3.50.4.5 links 3.50.4), so an affected SQLite runs in rollback-journal mode
(``TRUNCATE``), which the race cannot reach: one writer at a time, as in WAL, but
readers wait for a commit instead of reading beside it. A fixed SQLite keeps WAL.
With a rollback journal ``synchronous = FULL`` (``NORMAL`` can corrupt one on power
loss); WAL is safe with ``NORMAL``.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


def sqlite_has_wal_race(version: tuple[int, int, int] = sqlite3.sqlite_version_info) -> bool:
    """SQLite 3.7.0 to 3.51.2 can corrupt a WAL database written by two processes."""
    fixed = version >= (3, 51, 3) or (3, 50, 7) <= version < (3, 51, 0) or (
        3, 44, 6) <= version < (3, 45, 0)
    return version >= (3, 7, 0) and not fixed


@dataclass(frozen=True)
class JournalChoice:
    journal_mode: str  # what is asked for at connect time
    synchronous: str
    reason: str


def choose_journal(version: tuple[int, int, int] = sqlite3.sqlite_version_info
                   ) -> JournalChoice:
    if sqlite_has_wal_race(version):
        return JournalChoice("truncate", "FULL", "this SQLite has the WAL-reset race "
                             "(fixed in 3.51.3, 3.50.7, 3.44.6): rollback journal")
    return JournalChoice("wal", "NORMAL", "this SQLite has no WAL-reset race")

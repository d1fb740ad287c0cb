"""Engine creation, the SQLite write discipline, and the schema-version check.

SQLite (the embedded default) runs with a busy timeout, in WAL mode where the linked
SQLite is free of the WAL-reset race and with a rollback journal where it is not
(:mod:`scanner.store.journal`; the mode in use is :attr:`Database.journal_mode`). Python's sqlite3
driver would start transactions lazily and as DEFERRED; a deferred transaction that reads
and then writes can fail at once with ``SQLITE_BUSY_SNAPSHOT`` whatever the timeout, so
the driver's own transaction handling is switched off and every transaction is begun
here: ``BEGIN`` for reads and ``BEGIN IMMEDIATE`` for writes (:meth:`Database.write`).
PostgreSQL needs none of this and gets plain transactions.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InternalError,
    OperationalError,
    SQLAlchemyError,
)

from ..errors import SchemaVersionError, StoreError
from ..logs import kv
from .journal import choose_journal, sqlite_has_wal_race

log = logging.getLogger(__name__)


def _alembic_config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    location = resources.files("scanner.store") / "migrations"
    cfg.set_main_option("script_location", str(location))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


#: Connections per process (pooled + overflow); the web app runs at most this many
#: request threads, so a burst waits for a thread rather than timing out on the pool.
POOL_SIZE = 10
POOL_OVERFLOW = 10
POOL_CAPACITY = POOL_SIZE + POOL_OVERFLOW


def _sqlite_setup(engine: Engine, busy_timeout_ms: int, modes: list[str]) -> None:
    choice = choose_journal()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        row = cursor.execute(f"PRAGMA journal_mode = {choice.journal_mode}").fetchone()
        mode = str(row[0]).lower() if row else "unknown"
        if mode != choice.journal_mode and mode != "memory" and not modes:
            # e.g. a WAL file another process still has open: it stays WAL until closed
            log.warning(kv("sqlite_journal_mode", wanted=choice.journal_mode, got=mode,
                           reason=choice.reason))
        modes[:] = [mode]
        cursor.execute(f"PRAGMA synchronous = {choice.synchronous}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


class Database:
    """One database: an engine plus the transaction helpers the stores use."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, create: bool = True) -> None:
        """``create=False``: a SQLite file that does not exist is refused (StoreError)
        instead of being created with its directories; only ``scanner db upgrade`` and
        ``demo`` create a store."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"invalid database URL: {exc}") from None
        self.url = parsed
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        #: The SQLite file and its (device, inode) when opened: a file deleted or replaced
        #: under a running process is refused instead of written into the unlinked inode.
        self.sqlite_path: Path | None = None
        self._identity: tuple[int, int] | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:" \
                and not parsed.database.startswith("file:"):
            path = Path(parsed.database)
            self.sqlite_path = path
            if not path.exists():
                if not create:
                    raise StoreError(
                        f"no database at {path}: check database.url, or create it with "
                        "`scanner db upgrade`")
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the database directory "
                                     f"{path.parent}: {exc.strerror or exc}") from None
        kwargs: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
        if not self.is_sqlite:
            kwargs["pool_pre_ping"] = True
        elif not parsed.database or parsed.database == ":memory:":
            kwargs = {}  # one in-memory database per connection: SQLAlchemy's own pool
        try:
            self.engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise StoreError(f"cannot use database {parsed.render_as_string()}: {exc}") from None
        self._journal: list[str] = []
        #: SQLite has one writer: this process's writers queue here, in order, instead of
        #: polling SQLite's busy handler against each other (found by benchmarks/load.py:
        #: under 50 curators some waited past the busy timeout).
        self._write_lock = threading.RLock() if self.is_sqlite else None
        if self.is_sqlite:
            _sqlite_setup(self.engine, busy_timeout_ms, self._journal)

    @property
    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def engine_info(self) -> dict[str, Any]:
        """The SQLite library and journal mode in use (``scanner status``); for other
        databases only the dialect."""
        if not self.is_sqlite:
            return {"dialect": self.url.get_backend_name()}
        if not self._journal:
            with self.engine.connect():
                pass
        mode = self._journal[0] if self._journal else "unknown"
        race = sqlite_has_wal_race()
        return {"dialect": "sqlite", "sqlite_version": sqlite3.sqlite_version,
                "journal_mode": mode, "wal_reset_race": race,
                "safe_for_two_writers": mode != "wal" or not race}
    def _check_file(self) -> None:
        """Refuse a SQLite file deleted or replaced since it was first used."""
        if self.sqlite_path is None:
            return
        try:
            st = self.sqlite_path.stat()
        except OSError:
            raise StoreError(f"database {self.sqlite_path} is gone (deleted or moved "
                             "while in use); nothing was written") from None
        identity = (st.st_dev, st.st_ino)
        if self._identity is None:
            self._identity = identity
        elif identity != self._identity:
            raise StoreError(f"database {self.sqlite_path} was replaced while in use; "
                             "restart to use the new file (nothing was written)")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction."""
        self._check_file()
        with _store_errors(self), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: ``BEGIN IMMEDIATE`` on SQLite, committed on success; a
        database failure (read-only file, full disk, locked) is a one-line StoreError and
        the transaction is rolled back."""
        self._check_file()
        with self._write_lock or nullcontext(), _store_errors(self), \
                self.engine.connect() as conn:
            if self.is_sqlite:
                conn = conn.execution_options(sqlite_begin="IMMEDIATE")
            with conn.begin():
                yield conn

    def current_revision(self) -> str | None:
        with self.engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def ensure_schema(self, *, migrate: bool = True) -> str:
        """Check the schema version; create or upgrade it when allowed.

        An empty database is created at head. A known older revision is upgraded one
        migration at a time (``migrate=True``) or refused. A revision this code does not
        know (a newer scanner wrote it) is always refused.
        """
        script = ScriptDirectory.from_config(_alembic_config())
        head = script.get_current_head()
        try:
            current = self.current_revision()
            if current == head:
                return head or ""
            if current is None:
                with self.engine.connect() as conn:
                    tables = set(inspect(conn).get_table_names())
                if tables & {"records", "scan_runs"}:
                    raise SchemaVersionError(
                        f"database {self.display_url} has scanner tables but no schema "
                        "version stamp; refusing to touch it"
                    )
            else:
                known = {rev.revision for rev in script.walk_revisions()}
                if current not in known:
                    raise SchemaVersionError(
                        f"database schema version {current} is unknown to this scanner "
                        f"(newest known: {head}); upgrade the scanner"
                    )
                if not migrate:
                    raise SchemaVersionError(
                        f"database schema version {current} is older than {head}; "
                        "run `scanner db upgrade`"
                    )
            log.info(kv("schema_upgrade", database=self.display_url, current=current,
                        target=head))
            with self.engine.begin() as conn:
                command.upgrade(_alembic_config(conn), "head")
            return head or ""
        except OperationalError as exc:
            raise StoreError(
                f"cannot open database {self.display_url}: {exc.orig}") from None
        except SQLAlchemyError as exc:
            if isinstance(exc, SchemaVersionError):
                raise
            raise StoreError(f"database {self.display_url}: {exc}") from None

    def dispose(self) -> None:
        self.engine.dispose()


@contextmanager
def _store_errors(db: Database) -> Iterator[None]:
    """Database failures (OperationalError and the like) as one-line StoreErrors, without
    the statement or its parameters (which may hold a password hash)."""
    try:
        yield
    except DBAPIError as exc:
        if exc.connection_invalidated or isinstance(exc, OperationalError | InternalError):
            reason = " ".join(str(exc.orig).split()) if exc.orig is not None else str(exc)
            raise StoreError(f"database {db.display_url}: {reason}") from None
        raise


def open_database(url: str, *, busy_timeout_ms: int = 30_000, migrate: bool = True,
                  create: bool = True) -> Database:
    """Open a database and make sure its schema is the one this code expects.

    ``create=False`` refuses a SQLite file that does not exist (the CLI's default)."""
    db = Database(url, busy_timeout_ms=busy_timeout_ms, create=create)
    db.ensure_schema(migrate=migrate)
    return db

"""The `Database` handle: a lazy per-process engine, sessions, schema setup and portable upserts."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, create_engine, event, insert
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from pytest_promptopt.errors import DatabaseError
from pytest_promptopt.redaction import redactor
from pytest_promptopt.storage.models import Base
from pytest_promptopt.storage.urls import parse_database_url, scrub, secrets_of

SQLITE_BUSY_TIMEOUT_MS = 30000
_NOT_SQLITE_MARKERS = ("file is not a database", "file is encrypted")


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode, waiting out other processes that hold a lock.

    Switching needs an exclusive lock, and SQLite may answer "database is locked" at once
    instead of calling the busy handler (several xdist workers opening a new file at the same
    moment do that). The mode is stored in the file, so a database already in WAL mode is left
    alone, and a switch that meets a lock is retried until the busy timeout.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _install_sqlite_hooks(engine: Engine) -> None:
    """Set the pragmas on each connection and make every transaction `BEGIN IMMEDIATE`."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, connection_record: Any) -> None:
        # Take over transaction control from pysqlite so we can emit BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # Writers queue on the lock (busy_timeout) instead of failing on upgrade;
        # read_scope() connections only read, so they take no write lock (WAL readers never wait).
        if connection.get_execution_options().get("promptopt_read_only"):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _install_redaction(engine: Engine) -> None:
    """Pass every text value written or compared through `redact`: no secret reaches a table.

    The last door before the file (or the server): whatever a repository stores, an error, an
    answer, a recorded request or a stage summary, its text and JSON values lose any secret.
    """

    @event.listens_for(engine, "before_cursor_execute", retval=True)
    def _scrub(
        conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> tuple[str, Any]:
        clean = redactor()
        if many:
            return statement, [_scrubbed(row, clean) for row in parameters]
        return statement, _scrubbed(parameters, clean)


def _scrubbed(parameters: Any, clean: Callable[[str], str]) -> Any:
    """One statement's parameters (a sequence or a mapping) with their strings redacted."""
    if isinstance(parameters, dict):
        return {
            k: clean(v) if isinstance(v, str) else _value(v, clean) for k, v in parameters.items()
        }
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(
            clean(v) if isinstance(v, str) else _value(v, clean) for v in parameters
        )
    return parameters


def _value(value: Any, clean: Callable[[str], str]) -> Any:
    """A bound value that is not text (SQLite's JSON is text): psycopg's `Json` wrapper gets
    its strings redacted; numbers, bytes and dates stay as they are."""
    if value is None or isinstance(value, (int, float, bytes)):
        return value
    wrapped = getattr(value, "obj", None)
    if wrapped is not None and type(value).__module__.startswith("psycopg"):
        value.obj = _deep(wrapped, clean)
    return value


def _deep(obj: Any, clean: Callable[[str], str]) -> Any:
    """JSON-shaped data with every string redacted."""
    if isinstance(obj, str):
        return clean(obj)
    if isinstance(obj, dict):
        return {k: _deep(v, clean) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_deep(v, clean) for v in obj]
    return obj


class Database:
    """A database given by URL; the engine is created lazily and never shared across a fork.

    The URL is parsed and checked once, here. Every error of SQLAlchemy or the driver that
    leaves this class is one `DatabaseError` naming the URL with its password masked, raised
    with no chain: the driver's own frames hold the password in their arguments.
    """

    def __init__(self, url: str) -> None:
        """Parse and check the URL (a `DatabaseError` when unusable); nothing connects yet."""
        self.url = url
        self._url: URL = parse_database_url(url)
        self._secrets = secrets_of(self._url)
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        self._pid: int | None = None
        self._schema_pid: int | None = None

    @property
    def dialect_name(self) -> str:
        """Return the backend name, e.g. `sqlite` or `postgresql`."""
        return self._url.get_backend_name()

    @property
    def url_for_display(self) -> str:
        """Return the URL with any password hidden."""
        return self._url.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> Path | None:
        """Return the SQLite file path, or None for other backends and in-memory databases."""
        database = self._url.database
        if self.dialect_name != "sqlite" or not database or database == ":memory:":
            return None
        if database.startswith("file:"):
            return None
        return Path(database)

    @property
    def engine(self) -> Engine:
        """Return this process's engine, creating it on first use or after a fork."""
        pid = os.getpid()
        if self._engine is None or self._pid != pid:
            if self._engine is not None:
                # Inherited from the parent: drop the pool without closing its connections.
                self._engine.dispose(close=False)
            self._engine = self._create_engine()
            self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
            self._pid = pid
        return self._engine

    def _create_engine(self) -> Engine:
        path = self.sqlite_path
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the folder for the database {path}: {exc}; "
                    "point --promptopt-db (or PROMPTOPT_DB) at a writable location"
                ) from None
        failure: DatabaseError | None = None
        try:
            engine = create_engine(self._url)
        except ImportError as exc:
            failure = DatabaseError(
                f"the driver for {self.url_for_display} is not installed ({exc.name or exc}): "
                'run `pip install "pytest-promptopt[postgres]"` (psycopg 3) or change the URL'
            )
        except (sa_exc.SQLAlchemyError, TypeError, ValueError) as exc:
            failure = self._translate(exc)
        if failure is not None:
            raise failure
        _install_redaction(engine)
        if self.dialect_name == "sqlite":
            _install_sqlite_hooks(engine)
        return engine

    def _translate(self, exc: BaseException) -> DatabaseError:
        """Turn an error of SQLAlchemy or the driver into a `DatabaseError` with no secret."""
        orig = getattr(exc, "orig", None) or exc
        message = scrub(str(orig).strip(), self._secrets) or type(orig).__name__
        first = message.splitlines()[0]
        where = str(self.sqlite_path or self.url_for_display)
        if self.dialect_name == "sqlite":
            if any(m in message for m in _NOT_SQLITE_MARKERS):
                return DatabaseError(
                    f"{where} is not a pytest-promptopt database (not an SQLite file at all): "
                    "point --promptopt-db (or PROMPTOPT_DB) at another file, or move this one away"
                )
            if "malformed" in message:
                return DatabaseError(
                    f"{where} is damaged ({first}; a truncated or partly overwritten file): "
                    "restore it from a backup, or move it away so a new one is created"
                )
            if "unable to open database file" in message:
                return DatabaseError(
                    f"cannot open the SQLite database {where}: "
                    "check that the path is writable, or point --promptopt-db elsewhere"
                )
            return DatabaseError(f"database error on {where}: {first}")
        if isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError)) or not isinstance(
            exc, sa_exc.DBAPIError
        ):
            flat = " ".join(line.strip() for line in message.splitlines() if line.strip())
            return DatabaseError(
                f"cannot use the database {where}: {flat}; "
                "check that the server runs and the URL in --promptopt-db is right"
            )
        return DatabaseError(f"database error on {where}: {first}")

    @contextmanager
    def session_scope(self) -> Iterator[Session]:
        """Yield a session; commit on success, roll back on error, always close."""
        self.engine  # noqa: B018  (creates engine and sessionmaker for this process)
        assert self._sessions is not None
        session = self._sessions()
        failure: DatabaseError | None = None
        try:
            yield session
            session.commit()
        except sa_exc.SQLAlchemyError as exc:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                session.rollback()
            failure = self._translate(exc)
        except BaseException:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                session.rollback()
            raise
        finally:
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                session.close()
        if failure is not None:
            raise failure  # outside the handler: no chain back to the driver's frames

    @contextmanager
    def read_scope(self) -> Iterator[Connection]:
        """A Core connection for reads only: no ORM session, no write lock on SQLite."""
        failure: DatabaseError | None = None
        try:
            with self.engine.connect() as connection:
                yield connection.execution_options(promptopt_read_only=True)
        except sa_exc.SQLAlchemyError as exc:
            failure = self._translate(exc)
        if failure is not None:
            raise failure

    def ensure_schema(self) -> None:
        """Bring the schema to head (idempotent; cheap after the first call in a process)."""
        from pytest_promptopt.storage import migrate

        pid = os.getpid()
        if self._schema_pid == pid:
            return
        engine = self.engine
        failure: DatabaseError | None = None
        try:
            if not migrate.check_schema(engine):
                migrate.upgrade_to_head(engine)
        except sa_exc.SQLAlchemyError as exc:
            failure = self._translate(exc)
        if failure is not None:
            raise failure
        self._schema_pid = pid

    def current_revision(self) -> str | None:
        """The schema revision the database is stamped with (None: a fresh database)."""
        from pytest_promptopt.storage import migrate

        failure: DatabaseError | None = None
        try:
            return migrate.current_revision(self.engine)
        except sa_exc.SQLAlchemyError as exc:
            failure = self._translate(exc)
        raise failure

    def dispose(self) -> None:
        """Close this process's pooled connections; the next use opens new ones."""
        if self._engine is not None and self._pid == os.getpid():
            with contextlib.suppress(sa_exc.SQLAlchemyError):
                self._engine.dispose()
        self._engine = None
        self._sessions = None
        self._pid = None
        self._schema_pid = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle only the URL: engines and sessions belong to one process."""
        return {"url": self.url}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Rebuild an unconnected handle from a pickled URL."""
        self.__init__(state["url"])  # type: ignore[misc]

    def __repr__(self) -> str:
        """Show the URL without the password."""
        return f"Database({self.url_for_display!r})"


def is_driver_error(exc: BaseException) -> bool:
    """True for an error raised by SQLAlchemy or the database driver under it."""
    return isinstance(exc, sa_exc.SQLAlchemyError)


def insert_ignore(
    session: Session,
    model: type[Base],
    rows: list[dict[str, Any]],
    conflict_columns: list[str],
) -> None:
    """INSERT rows, skipping those that clash on `conflict_columns` (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    dialect = session.get_bind().dialect.name
    # executemany needs one key set per statement; rows may leave optional columns out.
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for group in groups.values():
        if dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            session.execute(
                sqlite_insert(table).on_conflict_do_nothing(index_elements=conflict_columns),
                group,
            )
        elif dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            session.execute(
                pg_insert(table).on_conflict_do_nothing(index_elements=conflict_columns), group
            )
        else:
            for row in group:
                try:
                    with session.begin_nested():
                        session.execute(insert(table), row)
                except sa_exc.IntegrityError:
                    pass

"""The session's database: opened and migrated on first use, a failure to open remembered."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from pytest_promptopt.errors import DatabaseError

if TYPE_CHECKING:
    from pytest_promptopt.storage.database import Database


class SessionDatabase:
    """The database of one pytest process, opened (and migrated) when something first needs it.

    A database that cannot be opened raises the same `DatabaseError` on every later use (tried
    once), with no traceback below this frame: the frames under it hold the URL. `on_open` runs
    once the schema is current (the run row's sweep of abandoned runs).
    """

    def __init__(self, url: str, *, on_open: Callable[[Database], None] | None = None) -> None:
        self._url = url
        self._on_open = on_open
        self._lock = threading.RLock()
        self._db: Database | None = None
        self._error: DatabaseError | None = None
        self._opener: threading.Thread | None = None
        self._disposed = False

    def get(self) -> Database:
        """The database, migrated to the current schema (opened on first use)."""
        with self._lock:
            if self._db is None:
                if self._error is None:
                    self._error = self._open()
                if self._error is not None:
                    raise self._error.with_traceback(None)
            assert self._db is not None
            return self._db

    def _open(self) -> DatabaseError | None:
        """Open and migrate the database into `_db`; the error instead when that fails."""
        from pytest_promptopt.imports import long_lived_imports

        with long_lived_imports():
            from pytest_promptopt.storage.database import Database
        try:
            db = Database(self._url)
        except DatabaseError as exc:
            return exc.with_traceback(None)
        try:
            db.ensure_schema()
        except DatabaseError as exc:
            db.dispose()
            return exc.with_traceback(None)
        except BaseException:
            db.dispose()
            raise
        self._db = db
        if self._on_open is not None:
            self._on_open(db)
        return None

    @property
    def error(self) -> DatabaseError | None:
        """Why the database could not be opened, once a use tried and failed."""
        return self._error

    def if_open(self) -> Database | None:
        """The database when something opened it and it is not disposed, else None."""
        return None if self._disposed else self._db

    def open_in_background(self) -> None:
        """Import SQLAlchemy and open the database on a thread, for an otherwise idle process.

        An xdist controller only waits while its workers judge; this way the reports at the
        end do not start with the imports. A failure here is left for the real use to report.
        """
        if self._opener is not None or self._db is not None:
            return

        def open_db() -> None:
            with contextlib.suppress(Exception):  # opened again, and reported, where it is used
                self.get()

        self._opener = threading.Thread(target=open_db, name="promptopt-db-open", daemon=True)
        self._opener.start()

    def await_background(self) -> None:
        """Wait for `open_in_background` to finish, if it was started."""
        if self._opener is not None:
            self._opener.join()
            self._opener = None

    def dispose(self) -> None:
        """Dispose the connection pool (after a background open finished); idempotent.

        A late user of `get` (a session fixture's teardown) still gets the database:
        SQLAlchemy opens a fresh pool.
        """
        self.await_background()
        with self._lock:
            if self._disposed:
                return
            self._disposed = True
            if self._db is not None:
                self._db.dispose()

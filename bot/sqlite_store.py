"""What every store of Guichet does with its SQLite file, in one place.

One connection shared by threads behind a lock, WAL and a busy timeout so that several
processes can write, foreign keys on, one transaction per write, and a schema versioned by
`PRAGMA user_version` with ordered migration functions. `TicketStore` and `AccountStore`
add their own tables and methods on top.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlite_utils import Database
from typing_extensions import Self

Migration = Callable[[Database], None]


class SQLiteStore:
    """Base of the stores; subclasses say which migrations make their schema."""

    def __init__(self, path: Path | str, *, clock: Callable[[], datetime]) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self._clock = clock
        # One connection may serve several threads (the web app); the lock keeps each
        # transaction whole. Other processes are kept apart by SQLite's own locking.
        self._lock = threading.RLock()
        conn = sqlite3.connect(str(path), check_same_thread=False)
        try:
            # busy_timeout first, so that the WAL switch and the migrations wait for a
            # concurrent opener instead of failing with "database is locked".
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Plugins could change the connection; a store must behave the same everywhere.
            self._db = Database(conn, execute_plugins=False)
            self._migrate()
        except BaseException:
            conn.close()
            raise

    def migrations(self) -> Sequence[Migration]:
        """The schema's migrations, in order (read at open, so tests can add one)."""
        raise NotImplementedError

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[Database]:
        """One write transaction; commits on success, rolls back on any error."""
        with self._lock, self._db.conn:
            # IMMEDIATE takes the write lock up front: a deferred transaction that reads
            # then writes fails at once with SQLITE_BUSY when another writer got in first,
            # whereas BEGIN IMMEDIATE simply waits for busy_timeout.
            self._db.conn.execute("BEGIN IMMEDIATE")
            yield self._db

    @contextmanager
    def _read(self) -> Iterator[Database]:
        """One read transaction, so that several queries see the same snapshot."""
        with self._lock, self._db.conn:
            self._db.conn.execute("BEGIN")
            yield self._db

    def _migrate(self) -> None:
        migrations = self.migrations()
        with self._write() as db:
            # Read inside the write lock: two processes opening a new file at once must not
            # both apply the same migration.
            version = db.execute("PRAGMA user_version").fetchone()[0]
            for number, migration in enumerate(migrations, start=1):
                if number > version:
                    migration(db)
            if version < len(migrations):
                db.execute(f"PRAGMA user_version = {len(migrations)}")

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

"""What every store of Guichet does with its SQLite file, in one place.

One connection shared by threads behind a lock, WAL and a busy timeout so that several
processes can write, foreign keys on, `secure_delete` so that deleted rows leave no bytes
behind, one transaction per write, and a schema versioned by `PRAGMA user_version` with
ordered migration functions. `TicketStore` and `AccountStore` add their own tables and
methods on top.

A store heals itself. Writes that meet a lock held too long, a read-only or unreadable file
or an I/O error are tried again with a growing pause, within `retry_budget` seconds (short
enough for a Rasa action to answer the visitor in time), then raise `StoreUnavailable`.
A connection that met such an error is closed and opened again on the next call, and so is
one whose file was replaced: a process that keeps one store for its whole life (the REST
channel) works again as soon as the file does, without a restart.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from sqlite_utils import Database
from typing_extensions import Self

Migration = Callable[[Database], None]
Connect = Callable[[str], sqlite3.Connection]
T = TypeVar("T")

log = logging.getLogger(__name__)

# Seconds a write may spend waiting and retrying before it gives up. A hand-off's action
# makes one write, and the visitor must get an answer well before the action server call
# times out (about 10 s), failure message included.
RETRY_BUDGET = 5.0
# Longest single wait for another writer's lock; shortened to what is left of the budget.
BUSY_TIMEOUT_MS = 2000
_FIRST_PAUSE = 0.05
_LONGEST_PAUSE = 0.8

# SQLite's messages for failures that a later attempt, or a fresh connection, can cure:
# another connection holds the lock, the file is (or was, when this connection opened it)
# read-only, the disk hiccupped, the file vanished for a moment. Python 3.10's sqlite3 has
# no error codes, so the message is all there is.
_TRANSIENT = (
    "database is locked",
    "database table is locked",
    "readonly database",
    "disk i/o error",
    "unable to open database file",
    "database schema has changed",
    "locking protocol",
)


class StoreUnavailable(sqlite3.OperationalError):
    """A write still failed when the retry budget ran out (locked, read-only, broken)."""


def utcnow() -> datetime:
    """The stores' default clock."""
    return datetime.now(timezone.utc)


def iso_utc(moment: datetime) -> str:
    """How the stores keep a time: ISO, UTC, to the second. A naive datetime is taken as UTC
    so that an injected test clock cannot shift times."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def is_transient(exc: BaseException) -> bool:
    """True for the SQLite errors that waiting or reopening can cure."""
    if isinstance(exc, StoreUnavailable) or not isinstance(exc, sqlite3.OperationalError):
        return False
    message = str(exc).lower()
    return any(marker in message for marker in _TRANSIENT)


def error_summary(exc: BaseException) -> str:
    """A short technical description of a database error, safe for logs and incidents:
    SQLite's messages never quote the data."""
    return f"{type(exc).__name__}: {str(exc)[:120]}"


def connect_file(path: str) -> sqlite3.Connection:
    """Open `path`, creating it owner-only first (SQLite gives -wal and -shm its mode)."""
    if path != ":memory:":
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            _drop_group_and_other(path)
    return sqlite3.connect(path, check_same_thread=False)


def _drop_group_and_other(path: str) -> None:
    # A file made by an older version may be 0644: narrow it, but never widen it (a file
    # made read-only on purpose stays read-only).
    for name in (path, f"{path}-wal", f"{path}-shm"):
        try:
            mode = os.stat(name).st_mode & 0o777
            if mode & 0o077:
                os.chmod(name, mode & 0o700)
        except OSError:
            continue  # missing, a directory we cannot change, or not ours: SQLite will say


class SQLiteStore:
    """Base of the stores; subclasses say which migrations make their schema.

    `connect` opens the file (tests inject one that opens it read-only, for example);
    `retry_budget` is how long a write may keep trying.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        clock: Callable[[], datetime],
        connect: Connect | None = None,
        retry_budget: float | None = None,
    ) -> None:
        self.path = path if str(path) == ":memory:" else Path(path)
        self._clock = clock
        self._connect = connect or connect_file
        # Read at open (not bound at definition) so that tests can shorten it.
        self.retry_budget = RETRY_BUDGET if retry_budget is None else retry_budget
        # One connection may serve several threads (the web app); the lock keeps each
        # transaction whole. Other processes are kept apart by SQLite's own locking.
        self._lock = threading.RLock()
        self._database: Database | None = None
        self._identity: tuple[int, int] | None = None
        self._closed = False
        # Opened now, so that a file that cannot be opened at all is reported at once.
        self._database = self._open()

    def migrations(self) -> Sequence[Migration]:
        """The schema's migrations, in order (read at open, so tests can add one)."""
        raise NotImplementedError

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._discard()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the connection

    def _file_identity(self) -> tuple[int, int] | None:
        if str(self.path) == ":memory:":
            return None
        try:
            found = os.stat(self.path)
        except OSError:
            return None
        return (found.st_dev, found.st_ino)

    def _open(self) -> Database:
        """Open the file, trying again within the budget: switching a new file to WAL
        needs a lock that SQLite's busy timeout does not wait for when several processes
        open the same new file at once."""
        deadline = time.monotonic() + self.retry_budget
        attempt = 0
        while True:
            try:
                return self._open_once()
            except sqlite3.OperationalError as exc:
                if not is_transient(exc) or not self._pause(attempt, deadline):
                    raise
                attempt += 1

    def _open_once(self) -> Database:
        conn = self._connect(str(self.path))
        try:
            # busy_timeout first, so that the WAL switch and the migrations wait for a
            # concurrent opener instead of failing with "database is locked".
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            # Deleted rows are overwritten with zeros, not merely unlinked.
            conn.execute("PRAGMA secure_delete=ON")
            # Plugins could change the connection; a store must behave the same everywhere.
            db = Database(conn, execute_plugins=False)
            self._migrate(db)
        except BaseException:
            conn.close()
            raise
        self._identity = self._file_identity()
        return db

    def _discard(self) -> None:
        """Close the connection; the next call opens a fresh one."""
        if self._database is not None:
            # A broken connection may fail to close; it is dropped all the same.
            with suppress(sqlite3.Error):
                self._database.close()
            self._database = None

    @property
    def _db(self) -> Database:
        """The open connection, reopened when it was discarded or its file replaced."""
        with self._lock:
            if self._closed:
                raise sqlite3.ProgrammingError("Cannot operate on a closed store.")
            if self._database is not None and self._file_identity() != self._identity:
                log.warning("%s was replaced or removed: reopening it", self.path)
                self._discard()
            if self._database is None:
                self._database = self._open()
            return self._database

    # -- transactions

    @staticmethod
    def _pause(attempt: int, deadline: float) -> bool:
        """Sleep before the next attempt; False when the budget is spent."""
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        # Jitter, so that writers that met the same lock do not all come back together.
        pause = min(_FIRST_PAUSE * 2**attempt, _LONGEST_PAUSE) * random.uniform(0.5, 1.0)  # noqa: S311
        time.sleep(min(pause, left))
        return True

    def _begin(self, statement: str, deadline: float) -> Database:
        """Start a transaction, trying again until `deadline`. Returns with the lock held."""
        attempt = 0
        while True:
            self._lock.acquire()
            try:
                db = self._db
                left_ms = int((deadline - time.monotonic()) * 1000)
                db.conn.execute(f"PRAGMA busy_timeout={max(0, min(BUSY_TIMEOUT_MS, left_ms))}")
                db.conn.execute(statement)
                return db
            except sqlite3.OperationalError as exc:
                self._lock.release()
                if not is_transient(exc):
                    raise
                with self._lock:
                    self._discard()
                if not self._pause(attempt, deadline):
                    raise StoreUnavailable(error_summary(exc)) from exc
                attempt += 1
            except BaseException:
                self._lock.release()
                raise

    @contextmanager
    def _transaction(self, statement: str, deadline: float | None = None) -> Iterator[Database]:
        if deadline is None:
            deadline = time.monotonic() + self.retry_budget
        db = self._begin(statement, deadline)
        try:
            yield db
            db.conn.commit()
        except BaseException as exc:
            with suppress(sqlite3.Error):  # a broken connection: discarded below
                db.conn.rollback()
            # Transient errors, and a file that is no longer a database ("file is not a
            # database", "malformed"), call for a fresh connection; a constraint does not.
            if is_transient(exc) or type(exc) is sqlite3.DatabaseError:
                self._discard()
            raise
        finally:
            self._lock.release()

    @contextmanager
    def _write(self, deadline: float | None = None) -> Iterator[Database]:
        """One write transaction; commits on success, rolls back on any error.

        Waiting for the lock is retried within the budget; an error inside the block is
        not (the block may not be safe to run twice): use `_transact` for that."""
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads then
        # writes fails at once with SQLITE_BUSY when another writer got in first, whereas
        # BEGIN IMMEDIATE simply waits for busy_timeout.
        with self._transaction("BEGIN IMMEDIATE", deadline) as db:
            yield db

    @contextmanager
    def _read(self) -> Iterator[Database]:
        """One read transaction, so that several queries see the same snapshot."""
        with self._transaction("BEGIN") as db:
            yield db

    def _transact(self, work: Callable[[Database], T]) -> T:
        """Run `work` in one write transaction, the whole of it again after a transient
        error, until the retry budget is spent; then `StoreUnavailable`."""
        deadline = time.monotonic() + self.retry_budget
        attempt = 0
        while True:
            try:
                with self._write(deadline) as db:
                    return work(db)
            except StoreUnavailable:
                raise
            except sqlite3.OperationalError as exc:
                if not is_transient(exc):
                    raise
                log.warning("write to %s failed (%s): trying again", self.path, exc)
                if not self._pause(attempt, deadline):
                    raise StoreUnavailable(error_summary(exc)) from exc
                attempt += 1

    def _checkpoint(self) -> None:
        """Copy the WAL into the database and empty it, so that what was just deleted is
        not left in the -wal file. Best effort: a failure is logged, never raised (the
        delete itself is done, and the next checkpoint finishes the job)."""
        try:
            with self._lock:
                busy, _, _ = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy:
                log.warning("checkpoint of %s blocked by a reader; retried later", self.path)
        except sqlite3.Error as exc:
            # The connection is kept: it may still write (a file made read-only after it
            # opened); the next call that really fails reopens it.
            log.warning("checkpoint of %s failed: %s", self.path, error_summary(exc))

    def _migrate(self, db: Database) -> None:
        migrations = self.migrations()
        # Read first, without the write lock: an up-to-date file (the usual case) opens even
        # while another process holds the lock for a long time.
        if db.execute("PRAGMA user_version").fetchone()[0] >= len(migrations):
            return
        with db.conn:
            db.conn.execute("BEGIN IMMEDIATE")
            # Read again inside the write lock: two processes opening a new file at once
            # must not both apply the same migration.
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

    @property
    def secure_delete_on(self) -> bool:
        with self._lock:
            return bool(self._db.execute("PRAGMA secure_delete").fetchone()[0])

"""The stores' base under faults. SQLite: a lock held too long, a read-only file, a file
replaced or turned into a directory. PostgreSQL: the server stopped then started again,
errors that must not quote the data. Each fault is real (another connection, SQLite's own
read-only mode, the file system, a real server stopped); nothing is mocked. No timing is
asserted: only that a write fails cleanly within its budget, and that the same store
object works again.

The SQLite tests stay on SQLite: they are about its files."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import threading
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bot.sqlite_store import StoreUnavailable, connect_file, is_transient
from bot.tickets import TicketStore
from tests.faults import write_locked

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)
PHONE, EMAIL, SENDER = "0612345678", "prenom.nom@exemple.fr", "kiosk-7f3a9c2e5b"


def make(store: TicketStore, sender: str = "conv-1") -> int:
    ticket = store.create(
        sender_id=sender,
        channel="kiosk",
        reason="asked",
        contact_preference="desk",
        summary="Demande d'aide.",
        transcript=[],
    )
    return ticket.id


class Switch:
    """A connection factory that opens the file read-only (SQLite's `mode=ro`) while
    `read_only` is set: what a file made read-only does to a connection opened then."""

    def __init__(self) -> None:
        self.read_only = False
        self.opened = 0

    def __call__(self, path: str) -> sqlite3.Connection:
        self.opened += 1
        if self.read_only:
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return connect_file(path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tickets.db"


def test_a_lock_held_past_the_budget_fails_cleanly_then_the_same_store_writes(db_path: Path):
    with TicketStore(db_path, clock=lambda: NOW, retry_budget=0.5) as store:
        make(store)
        with write_locked(db_path):
            with pytest.raises(StoreUnavailable) as raised:
                make(store, "conv-2")
            # Reading still works while another process writes (WAL).
            assert [t.sender_id for t in store.list()] == ["conv-1"]
        assert "locked" in str(raised.value) and isinstance(raised.value, sqlite3.Error)
        make(store, "conv-2")
        assert {t.sender_id for t in store.list()} == {"conv-1", "conv-2"}


def test_a_lock_released_within_the_budget_lets_the_write_through(db_path: Path):
    with TicketStore(db_path, clock=lambda: NOW, retry_budget=30) as store:
        held = threading.Event()
        release = threading.Event()

        def hold() -> None:
            with write_locked(db_path):
                held.set()
                release.wait(30)

        locker = threading.Thread(target=hold)
        locker.start()
        held.wait(30)
        # Released from another thread once this write is known to be waiting: the write
        # must then go through, whether by the busy wait or by a later attempt.
        threading.Timer(0.3, release.set).start()
        make(store)
        locker.join()
        assert len(store.list()) == 1


def test_a_store_opened_while_the_file_was_read_only_heals(db_path: Path):
    """The REST channel's case: one store for the whole process, opened during a fault."""
    TicketStore(db_path).close()
    switch = Switch()
    switch.read_only = True
    with TicketStore(db_path, clock=lambda: NOW, connect=switch, retry_budget=0.3) as store:
        with pytest.raises(StoreUnavailable) as raised:
            store.hold_contact(SENDER, "phone", PHONE)
        assert "readonly" in str(raised.value)
        assert switch.opened > 1  # the broken connection was dropped and reopened
        switch.read_only = False
        store.hold_contact(SENDER, "phone", PHONE)
        assert store.peek_contact(SENDER) == ("phone", PHONE)


def test_a_write_retried_after_a_broken_connection_succeeds_within_the_budget(db_path: Path):
    TicketStore(db_path).close()
    opened: list[str] = []

    def flaky(path: str) -> sqlite3.Connection:
        # The first two connections are read-only, the third is fine.
        opened.append(path)
        if len(opened) <= 2:
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        return connect_file(path)

    with TicketStore(db_path, clock=lambda: NOW, connect=flaky, retry_budget=30) as store:
        ticket_id = make(store)
        assert len(opened) == 3
        assert store.get(ticket_id) is not None


def make_read_only(path: Path) -> bool:
    """Really refuse writes to `path`: chmod for a normal user; root ignores modes, so the
    immutable attribute (chattr +i) then. False when neither is possible here."""
    if os.geteuid() != 0:
        path.chmod(0o444)
        return True
    if shutil.which("chattr") is None:
        return False
    return subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0


def make_writable(path: Path) -> None:
    if os.geteuid() != 0:
        path.chmod(0o600)
    else:
        subprocess.run(["chattr", "-i", str(path)], capture_output=True)


def test_a_file_made_read_only_by_the_system_then_writable_again(db_path: Path):
    with TicketStore(db_path, clock=lambda: NOW) as first:
        make(first)
    # Only the main file: -wal and -shm stay writable, as a wrong chmod on the file alone
    # would leave them (an immutable -shm would kill the process with SIGBUS).
    if not make_read_only(db_path):
        pytest.skip("this system cannot make a file read-only for root (no chattr)")
    try:
        store = TicketStore(db_path, clock=lambda: NOW, retry_budget=0.3)
        with pytest.raises(StoreUnavailable):
            make(store, "conv-2")
    finally:
        make_writable(db_path)
    with store:
        make(store, "conv-2")
        assert {t.sender_id for t in store.list()} == {"conv-1", "conv-2"}


def test_a_file_replaced_under_the_store_is_reopened(db_path: Path, tmp_path: Path):
    with TicketStore(db_path, clock=lambda: NOW) as store:
        make(store, "old")
        restored = tmp_path / "backup.db"
        with TicketStore(restored, clock=lambda: NOW) as other:
            make(other, "restored-1")
            make(other, "restored-2")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        os.replace(restored, db_path)
        assert {t.sender_id for t in store.list()} == {"restored-1", "restored-2"}
        make(store, "new")
        assert len(store.list()) == 3


def test_a_directory_in_place_of_the_file_fails_then_heals(db_path: Path):
    with TicketStore(db_path, clock=lambda: NOW, retry_budget=0.3) as store:
        make(store)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db_path}{suffix}").unlink(missing_ok=True)
        db_path.mkdir()
        with pytest.raises(StoreUnavailable) as raised:
            make(store, "conv-2")
        assert "unable to open" in str(raised.value)
        db_path.rmdir()
        make(store, "conv-2")  # a new, empty database: the old one is gone
        assert [t.sender_id for t in store.list()] == ["conv-2"]


def test_only_transient_errors_are_retried():
    assert is_transient(sqlite3.OperationalError("database is locked"))
    assert is_transient(sqlite3.OperationalError("attempt to write a readonly database"))
    assert is_transient(sqlite3.OperationalError("disk I/O error"))
    assert not is_transient(sqlite3.OperationalError("no such column: x"))
    assert not is_transient(sqlite3.IntegrityError("CHECK constraint failed"))
    assert not is_transient(StoreUnavailable("database is locked"))


def test_a_constraint_error_is_raised_at_once_and_keeps_the_connection(db_path: Path):
    switch = Switch()
    with TicketStore(db_path, connect=switch) as store:
        with pytest.raises(sqlite3.IntegrityError):
            store._transact(lambda db: db.execute("INSERT INTO tickets (status) VALUES ('ferme')"))
        make(store)
        assert switch.opened == 1


# --- files and bytes ------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_the_store_creates_are_owner_only(tmp_path: Path):
    old_umask = os.umask(0o022)
    try:
        path = tmp_path / "tickets.db"
        with TicketStore(path) as store:
            store.hold_contact(SENDER, "phone", PHONE)
            files = [Path(f"{path}{s}") for s in ("", "-wal", "-shm")]
            assert all(f.exists() for f in files)
            assert [mode(f) for f in files] == [0o600, 0o600, 0o600]
    finally:
        os.umask(old_umask)


def test_an_older_world_readable_file_is_narrowed_never_widened(tmp_path: Path):
    path = tmp_path / "tickets.db"
    TicketStore(path).close()
    path.chmod(0o644)
    TicketStore(path).close()
    assert mode(path) == 0o600
    path.chmod(0o440)
    TicketStore(path).close()
    assert mode(path) == 0o400


def every_byte(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file())


def test_a_dropped_contact_leaves_no_byte_in_the_database_wal_or_shm(db_path: Path):
    with TicketStore(db_path, clock=lambda: NOW) as store:
        make(store, "someone-else")
        store.hold_contact(SENDER, "email", EMAIL)
        store.hold_contact(SENDER, "phone", PHONE)  # replaces the e-mail
        assert PHONE.encode() in every_byte(db_path)
        store.drop_contact(SENDER)
        content = every_byte(db_path)
        assert store.secure_delete_on
    for secret in (PHONE, EMAIL, SENDER):
        assert secret.encode() not in content, secret
    assert b"someone-else" in content  # the search itself can find what is there


def test_erased_and_forgotten_contacts_leave_no_byte_behind(db_path: Path):
    with TicketStore(db_path, clock=lambda: NOW) as store:
        ticket = store.create(
            sender_id="conv-erase",
            channel="kiosk",
            reason="asked",
            contact_preference="email",
            contact_detail=EMAIL,
            summary="Demande d'aide.",
            transcript=[],
        )
        store.hold_contact(SENDER, "phone", PHONE)
        store.erase_contact(ticket.id, actor="marie")
        store.purge_pending_contacts(older_than=datetime(2027, 1, 1, tzinfo=timezone.utc))
        content = every_byte(db_path)
    for secret in (PHONE, EMAIL, SENDER):
        assert secret.encode() not in content, secret


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture
def own_pg(tmp_path_factory):
    """A PostgreSQL server of this test alone, so that stopping it disturbs no other test."""
    import tempfile

    from bot import pg
    from bot.services import Postgres

    root = Path(tempfile.mkdtemp(prefix="guichet-own-pg-"))
    os.chmod(root, 0o755)  # the postgres user must reach its folder
    server = Postgres(root / "postgresql", options={"fsync": "off"}).start()
    try:
        yield server
    finally:
        pg.dispose(server.url)
        server.remove()
        shutil.rmtree(root, ignore_errors=True)


def test_a_stopped_server_is_store_unavailable_then_the_same_store_reconnects(own_pg):
    with TicketStore(own_pg.url, clock=lambda: NOW, retry_budget=0.5) as store:
        make(store, "before")
        own_pg.stop()
        with pytest.raises(StoreUnavailable) as raised:
            make(store, "during")
        # The stores' vocabulary: callers that catch sqlite3.Error catch this too.
        assert isinstance(raised.value, sqlite3.Error)
        assert own_pg.password not in str(raised.value)
        with pytest.raises(StoreUnavailable):
            store.list()
        own_pg.start()
        # The pool's dead connections are noticed and replaced: no restart needed.
        make(store, "after")
        assert {t.sender_id for t in store.list()} == {"before", "after"}


def test_a_postgresql_error_never_quotes_the_data(fresh_pg_url):
    with TicketStore(fresh_pg_url, clock=lambda: NOW) as store:
        insert = (
            "INSERT INTO pending_contacts (sender_id, kind, value, held_at) VALUES (?, ?, ?, ?)"
        )
        row = [SENDER, "phone", PHONE, "2026-03-02T09:30:00+00:00"]
        store._transact(lambda db: db.execute(insert, row))
        with pytest.raises(sqlite3.IntegrityError) as raised:
            store._transact(lambda db: db.execute(insert, row))
        # PostgreSQL's own message names the duplicated key; the store's names the SQLSTATE.
        assert "23505" in str(raised.value)
        for secret in (SENDER, PHONE):
            assert secret not in str(raised.value), secret
        with pytest.raises(sqlite3.IntegrityError) as raised:
            store._transact(lambda db: db.execute(insert, [SENDER + "-2", "fax", EMAIL, ""]))
        assert EMAIL not in str(raised.value) and "fax" not in str(raised.value)
        # The failed transactions left nothing behind, and the store goes on.
        assert store.peek_contact(SENDER) == ("phone", PHONE)
        assert store.peek_contact(SENDER + "-2") is None


def test_question_marks_and_percents_inside_quoted_text_are_left_alone(fresh_pg_url):
    with TicketStore(fresh_pg_url, clock=lambda: NOW) as store:
        row = store._transact(
            lambda db: db.execute(
                "SELECT 'où ? quand ?', ?, '100 %', ? || '%', \"tickets\".id IS NULL"
                " FROM (SELECT 1) AS one LEFT JOIN tickets ON false",
                ["réponse ?", "50 "],
            ).fetchone()
        )
        assert tuple(row) == ("où ? quand ?", "réponse ?", "100 %", "50 %", True)
        # A search for a literal « ? » goes through the placeholders, not around them.
        ticket_id = store.create(
            sender_id="conv-q",
            channel="widget",
            reason="asked",
            contact_preference="later",
            visitor_sentence="Où est mon avis ? 100 % perdu",
            summary="Question.",
            transcript=[],
        ).id
        assert [t.id for t in store.list(query="avis ?")] == [ticket_id]
        assert [t.id for t in store.list(query="100 %")] == [ticket_id]
        assert store.list(query="avis ?!") == []

"""Faults the tests put a database through, shared by the store, action and end-to-end tests."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path


@contextmanager
def write_locked(path: Path) -> Iterator[None]:
    """Another connection (as another process would) holds the database's write lock until
    the block ends; a test that waits for the bot's answer inside the block holds it for
    longer than the store's retry budget."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")

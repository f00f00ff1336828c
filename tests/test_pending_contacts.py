"""Contact details waiting for consent, in Redis (bot/pending_contacts.py)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
import redis

from bot.pending_contacts import PREFIX, RedisPendingContacts
from bot.services import free_port


def test_hold_peek_drop_with_an_expiry(redis_url):
    pending = RedisPendingContacts(redis_url, hours=2)
    try:
        pending.hold("conv-1", "phone", "0612345678")
        pending.hold("conv-1", "email", "marie@exemple.fr")  # the latest one wins
        assert pending.peek("conv-1") == ("email", "marie@exemple.fr")
        assert pending.peek("conv-2") is None
        ttl = redis.Redis.from_url(redis_url).ttl(PREFIX + "conv-1")
        assert 0 < ttl <= 2 * 3600
        with pytest.raises(ValueError, match="kind"):
            pending.hold("conv-1", "fax", "x")
        pending.drop("conv-1")
        assert pending.peek("conv-1") is None
        assert redis.Redis.from_url(redis_url).exists(PREFIX + "conv-1") == 0
        assert pending.purge(older_than=datetime.now(timezone.utc)) == 0
    finally:
        pending.close()


def test_a_redis_that_is_down_is_a_store_error():
    pending = RedisPendingContacts(f"redis://127.0.0.1:{free_port()}/0", hours=2)
    # Callers catch sqlite3.Error from every store: the message goes on without the detail.
    with pytest.raises(sqlite3.OperationalError):
        pending.hold("conv-1", "phone", "0612345678")


def test_a_scaled_ticket_store_keeps_waiting_details_in_redis_only(database, redis_url, tmp_path):
    """With REDIS_URL, nothing of a detail waiting for consent reaches the database (on
    PostgreSQL a deleted row would stay in its files and WAL)."""
    from bot.settings import Settings
    from bot.tickets import TicketStore

    location = database("tickets")
    values = {"DATA_DIR": str(tmp_path), "REDIS_URL": redis_url}
    if str(location).startswith("postgresql"):
        values["DATABASE_URL"] = str(location)
    with TicketStore.open(Settings.from_env(values)) as store:
        store.hold_contact("conv-scaled", "phone", "0612345678")
        assert store.peek_contact("conv-scaled") == ("phone", "0612345678")
        with store._read() as db:
            rows = list(db.query("SELECT COUNT(*) AS n FROM pending_contacts"))
        assert rows == [{"n": 0}]
        assert redis.Redis.from_url(redis_url).exists(PREFIX + "conv-scaled") == 1
        store.drop_contact("conv-scaled")
        assert store.peek_contact("conv-scaled") is None

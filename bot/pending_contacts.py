"""Contact details waiting for the visitor's consent, in Redis (when `REDIS_URL` is set).

Between the moment a visitor types a phone number or an e-mail address and the moment the
hand-off (or booking) form stores it in a ticket, or drops it at « Non », the detail waits
out of the conversation. On the embedded default it waits in tickets.db, whose deleted rows
are zeroed (`secure_delete`). PostgreSQL cannot promise that (a deleted row stays in its
files and WAL until they are recycled), so a scaled deployment keeps these details in Redis,
which runs without persistence: memory only, each key with an expiry, and a detail declined
at « Non » leaves no byte on any disk.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot.sqlite_store import TransientError

if TYPE_CHECKING:
    import redis

PREFIX = "guichet:contact:"
KINDS = ("phone", "email")


class RedisPendingContacts:
    """hold / peek / drop / purge, like `TicketStore`'s, on one Redis server."""

    def __init__(self, url: str, *, hours: int) -> None:
        self.url = url
        self.seconds = max(60, hours * 3600)
        self._client: redis.Redis | None = None

    def client(self) -> redis.Redis:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(
                self.url, socket_timeout=3, socket_connect_timeout=3
            )
        return self._client

    def _run(self, work: Any) -> Any:
        import redis

        try:
            return work(self.client())
        except redis.RedisError as exc:
            # The callers already treat the stores' sqlite3.Error as « could not keep it ».
            raise TransientError(f"redis {type(exc).__name__}") from exc

    def hold(self, sender_id: str, kind: str, value: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
        record = json.dumps({"kind": kind, "value": value})
        self._run(lambda c: c.set(PREFIX + sender_id, record, ex=self.seconds))

    def peek(self, sender_id: str) -> tuple[str, str] | None:
        raw = self._run(lambda c: c.get(PREFIX + sender_id))
        if raw is None:
            return None
        data = json.loads(raw)
        return (str(data["kind"]), str(data["value"]))

    def drop(self, sender_id: str) -> None:
        self._run(lambda c: c.delete(PREFIX + sender_id))

    def purge(self, *, older_than: datetime) -> int:
        """Nothing to do: every detail has its expiry (`hours`)."""
        del older_than
        return 0

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

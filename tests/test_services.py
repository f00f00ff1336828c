"""The local PostgreSQL and Redis servers of `make run-scaled` and the tests (bot/services.py)."""

from __future__ import annotations

import psycopg2
import pytest
import redis

from bot.services import Postgres, Redis, ServiceError, pg_bin


def test_postgres_cluster_starts_again_with_its_own_password(_service_root):
    folder = _service_root / "restart-pg"
    server = Postgres(folder, options={"fsync": "off"}).start()
    try:
        first_url = server.url
        conn = psycopg2.connect(first_url)
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE kept (x INTEGER)")
            cur.execute("INSERT INTO kept VALUES (42)")
        conn.close()
        server.stop()
        # A second start on the same folder finds the cluster and its password.
        again = Postgres(folder, port=server.port).start()
        assert again.password == server.password
        conn = psycopg2.connect(again.url)
        with conn, conn.cursor() as cur:
            cur.execute("SELECT x FROM kept")
            assert cur.fetchone() == (42,)
        conn.close()
        # Password authentication is on: a wrong password is refused.
        with pytest.raises(psycopg2.OperationalError):
            psycopg2.connect(again.url.replace(again.password, "wrong"))
    finally:
        server.remove()
    assert not folder.exists()


def test_redis_keeps_nothing_on_disk(_service_root):
    folder = _service_root / "disk-redis"
    server = Redis(folder).start()
    try:
        client = redis.Redis.from_url(server.url)
        client.set("guichet:test", "Je m'appelle Zoé Lambert")
        assert client.config_get("save") == {"save": ""}
        assert client.config_get("appendonly") == {"appendonly": "no"}
        # Without a password the server refuses commands.
        anonymous = redis.Redis(host=server.host, port=server.port)
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("guichet:test")
        client.close()
        anonymous.close()
    finally:
        server.stop()
    written = [p for p in folder.rglob("*") if p.suffix in (".rdb", ".aof") or p.is_dir()]
    assert written == []
    for path in folder.rglob("*"):
        assert b"Zo\xc3\xa9 Lambert" not in path.read_bytes()


def test_a_missing_binary_is_reported(monkeypatch):
    monkeypatch.setattr("bot.services.shutil.which", lambda name: None)
    monkeypatch.setattr("bot.services.glob.glob", lambda pattern: [])
    with pytest.raises(ServiceError, match="postgresql"):
        pg_bin("pg_ctl")

"""Local PostgreSQL and Redis servers from the Debian packages, for `make run-scaled` and tests.

Nothing here is a cluster manager: each function starts one ordinary server on loopback, the
way an operator would by hand, and returns how to reach it and how to stop it. PostgreSQL
refuses to run as root, so when this process is root the cluster belongs to the `postgres`
user of the Debian package and lives in a folder that user owns. Redis runs without any
persistence (`save ""`, `appendonly no`): what it holds never reaches a disk.
"""

from __future__ import annotations

import contextlib
import glob
import os
import secrets
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

PG_USER = "guichet"
PG_DATABASE = "guichet"


class ServiceError(RuntimeError):
    """A server could not be started: its binary is missing or it did not answer."""


def free_port(host: str = "127.0.0.1") -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_port(
    host: str, port: int, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ServiceError(
                f"the server on port {port} stopped at start (code {process.returncode})"
            )
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing answers on {host}:{port} after {timeout:.0f} s")


def pg_bin(name: str) -> str:
    """A PostgreSQL server binary (Debian keeps them out of PATH, per major version)."""
    found = shutil.which(name)
    if found and name != "initdb":  # PATH's initdb may be Debian's wrapper script
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    if candidates:
        return candidates[0]
    if found:
        return found
    raise ServiceError(f"{name} not found: install the Debian package postgresql")


def _as_postgres() -> list[str]:
    """Run as the postgres user when root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _chown_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, "postgres", "postgres")


@dataclass
class Postgres:
    """One PostgreSQL cluster: `start()` makes it (first time) and starts it."""

    folder: Path
    port: int = 0
    host: str = "127.0.0.1"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Extra server settings, such as {"fsync": "off"} for throwaway test clusters.
    options: dict[str, str] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return (
            f"postgresql://{PG_USER}:{quote(self.password, safe='')}@{self.host}:{self.port}"
            f"/{PG_DATABASE}"
        )

    def _run(self, *args: str) -> None:
        done = subprocess.run(  # noqa: S603 (our own arguments)
            [*_as_postgres(), *args], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise ServiceError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-600:]}")

    def start(self, timeout: float = 30.0) -> Postgres:
        self.port = self.port or free_port(self.host)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        _chown_postgres(self.folder)
        secret = self.folder / "password"
        if not (self.data / "PG_VERSION").exists():
            secret.write_text(self.password + "\n", encoding="utf-8")
            secret.chmod(0o600)
            _chown_postgres(secret)
            self._run(pg_bin("initdb"), "-D", str(self.data), "-U", PG_USER,
                      f"--pwfile={secret}", "--auth=scram-sha-256", "-E", "UTF8",
                      "--locale=C.UTF-8")  # fmt: skip
        else:
            self.password = secret.read_text(encoding="utf-8").strip()
        settings = {"listen_addresses": self.host, "port": str(self.port),
                    "unix_socket_directories": "", **self.options}  # fmt: skip
        server_options = " ".join(f"-c {k}={v}" for k, v in settings.items())
        self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "server.log"),
                  "-o", server_options, "-w", "-t", str(int(timeout)), "start")  # fmt: skip
        self._ensure_database()
        return self

    def _ensure_database(self) -> None:
        import psycopg2

        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        conn = psycopg2.connect(admin)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (PG_DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f"CREATE DATABASE {PG_DATABASE}")
        finally:
            conn.close()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(pg_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Redis:
    """One Redis server, in memory only: no RDB snapshot, no append-only file."""

    folder: Path
    port: int = 0
    host: str = "127.0.0.1"
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@{self.host}:{self.port}/0"

    def start(self, timeout: float = 15.0) -> Redis:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceError("redis-server not found: install the Debian package redis-server")
        self.port = self.port or free_port(self.host)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The password goes through a config file read from stdin, never the command line.
        config = (
            f"port {self.port}\nbind {self.host}\nprotected-mode yes\n"
            f'save ""\nappendonly no\ndir {self.folder}\nrequirepass {self.password}\n'
            "daemonize no\nloglevel warning\n"
            f"logfile {self.folder / 'server.log'}\n"
        )
        self.process = subprocess.Popen(  # noqa: S603
            [binary, "-"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        assert self.process.stdin is not None
        self.process.stdin.write(config.encode())
        self.process.stdin.close()
        wait_port(self.host, self.port, timeout, self.process)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

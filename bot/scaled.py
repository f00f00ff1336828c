"""`python -m bot.scaled run` (`make run-scaled`): Guichet on several Rasa processes.

One machine, the pieces an operator would deploy over several: PostgreSQL (tickets, accounts,
workshops, the activity log) and Redis (conversations, Rasa's lock store) from the Debian
packages (bot/services.py), N Rasa processes each with its own action server, M copies of
the web app, and HAProxy in front of both:

- BOT_PORT → the Rasa processes, `balance hash` on the conversation id: the REST webhook's
  JSON `sender`, or `/conversations/<id>/...` of Rasa's HTTP API. A conversation always
  meets the same process while it is alive, because Rasa Open Source's RedisLockStore does
  not keep two processes from handling one conversation at once (turns were lost when two
  messages of one conversation met two processes); the lock stays as a second guard.
  Consistent hashing moves only the dead process's conversations elsewhere. Health checks
  every second take a dead process out after 2 failures; a request that meets it meanwhile
  (refused connection, connection closed without an answer) is retried on another process,
  so the visitor sees no error.
- WEB_PORT → the web app copies (stateless: sessions are signed cookies, data in PostgreSQL).

Everything listens on loopback; HAProxy's own page of statistics too. The configuration is
rendered into DATA_DIR/scaled/haproxy.cfg, logs go to DATA_DIR/scaled/logs (0600). Tests and
the benchmarks start the same thing through `ScaledStack`. Nothing starts at import time.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from bot.settings import Settings, get_settings
from bot.stack import (
    PRIVATE_UMASK,
    Stack,
    _get,
    free_port,
    make_private,
    purge_at_start,
    rasa_token,
)

# Seconds a dead process's lock ticket on a conversation outlives it (see ScaledStack).
LOCK_LIFETIME = 6
# One process per core: each Rasa process computes on one thread, so that N processes do not
# start N thread pools of TensorFlow, OpenMP and BLAS that fight over the same cores.
ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TF_NUM_INTRAOP_THREADS": "1",
    "TF_NUM_INTEROP_THREADS": "1",
}

HAPROXY = "/usr/sbin/haproxy"
# Rasa's REST channel answers here once the model is loaded (README: health endpoints).
RASA_HEALTH = "/webhooks/rest/"
WEB_HEALTH = "/healthz"

log = logging.getLogger(__name__)


# --- HAProxy configuration -----------------------------------------------------------------


def haproxy_config(
    *,
    bot_bind: str,
    web_bind: str,
    stats_bind: str,
    rasa: Sequence[tuple[str, str]],
    web: Sequence[tuple[str, str]],
    log_target: str = "stdout",
    docker_dns: bool = False,
) -> str:
    """HAProxy's configuration: `bind` addresses and (name, address) of each server.

    The same function writes deploy/haproxy.cfg (tests/test_scaled_config.py keeps the two
    equal), so that the compose deployment routes exactly as `make run-scaled` does."""
    rasa_servers = "\n".join(f"    server {name} {addr} check" for name, addr in rasa)
    web_servers = "\n".join(f"    server {name} {addr} check" for name, addr in web)
    # In compose, a container that restarts may come back on another address: ask Docker's
    # DNS again rather than keep the address found at start.
    dns = "resolvers docker " if docker_dns else ""
    resolvers = (
        "\nresolvers docker\n    nameserver dns 127.0.0.11:53\n    hold valid 10s\n"
        if docker_dns
        else ""
    )
    return f"""\
# Guichet: HAProxy in front of the Rasa processes and the web app copies.
# Rendered by bot/scaled.py (make run-scaled); deploy/haproxy.cfg is the same for compose.
global
    log {log_target} format raw local0 notice
    maxconn 4096
{resolvers}
defaults
    mode http
    log global
    # Only what goes wrong: server up/down, retries, errors. Never a body.
    option dontlog-normal
    timeout connect 2s
    timeout client 65s
    timeout server 60s
    timeout http-request 10s
    timeout queue 30s
    timeout check 2s
    # A process that died mid-request (connection refused, closed without an answer) or
    # hangs: the request is sent again, to another process at the last try, before the
    # health checks have taken it out. The visitor sees no error.
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout

frontend rasa_front
    bind {bot_bind}
    # The body is read before routing: the conversation id is in the JSON.
    option http-buffer-request
    acl webhook path_end /webhook
    http-request set-var(txn.sender) req.body,json_query('$.sender') if METH_POST webhook
    http-request set-var(txn.sender) path,field(3,/),url_dec if {{ path_beg /conversations/ }}
    default_backend rasa

backend rasa
    # One conversation, one process: Rasa Open Source's Redis lock does not hold across
    # processes. Consistent hashing moves only a dead process's conversations.
    # A request without a conversation id (GET /status...) goes round robin.
    balance hash var(txn.sender)
    hash-type consistent
    option httpchk GET {RASA_HEALTH}
    http-check expect status 200
    # At most 8 requests inside a Rasa process, the rest queued here on the process the
    # hash chose (hash balancing keeps the choice when a server is full): a Rasa process
    # serves one turn at a time, and a health check stuck behind 50 queued turns timed out
    # and took a busy but living process out (503 for every visitor, make bench).
    default-server inter 1s fall 2 rise 2 {dns}init-addr last,libc,none maxconn 8
{rasa_servers}

frontend web_front
    bind {web_bind}
    default_backend web

backend web
    balance roundrobin
    # The visitor's address for the web app (login throttling counts per address).
    option forwardfor
    option httpchk GET {WEB_HEALTH}
    http-check expect status 200
    default-server inter 1s fall 2 rise 2 {dns}init-addr last,libc,none
{web_servers}

listen stats
    bind {stats_bind}
    stats enable
    stats uri /
    stats refresh 5s
"""


# deploy/compose.yaml's services: two Rasa processes, two web copies (add more the same way).
# The web copies share HAProxy's network namespace: they listen on its loopback.
COMPOSE_RASA = ("rasa-1", "rasa-2")
COMPOSE_WEB = (("web-1", 8001), ("web-2", 8002))


def compose_haproxy_config() -> str:
    """deploy/haproxy.cfg: the same routing for the compose services, by container name.
    `python -m bot.scaled example-config > deploy/haproxy.cfg` after a change here."""
    return haproxy_config(
        bot_bind=":5005",
        web_bind=":8000",
        # Published on the host's loopback only (compose.yaml).
        stats_bind=":8404",
        rasa=[(name, f"{name}:5005") for name in COMPOSE_RASA],
        web=[(name, f"127.0.0.1:{port}") for name, port in COMPOSE_WEB],
        docker_dns=True,
    )


def check_config(path: Path) -> str:
    """`haproxy -c -f path`: raises ValueError with HAProxy's message when it refuses."""
    done = subprocess.run(  # noqa: S603 (our own arguments)
        [haproxy_binary(), "-c", "-f", str(path)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise ValueError(f"haproxy refuses {path}: {(done.stdout + done.stderr).strip()[-800:]}")
    return done.stdout + done.stderr


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (HAPROXY if Path(HAPROXY).exists() else None)
    if found is None:
        raise FileNotFoundError("haproxy not found: install the Debian package haproxy")
    return found


def backend_states(stats_url: str) -> dict[str, dict[str, str]]:
    """{backend: {server: status}} from HAProxy's CSV statistics ("UP", "DOWN"...)."""
    code, body = _get(f"{stats_url};csv", timeout=2.0)
    if code != 200:
        return {}
    text = body.decode("utf-8", "replace").lstrip("# ")
    states: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        server = row.get("svname", "")
        if server not in ("FRONTEND", "BACKEND", ""):
            states.setdefault(row["pxname"], {})[server] = row.get("status", "")
    return states


def redact(url: str) -> str:
    """A service URL without its password, for the terminal."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}:{parts.port}{parts.path}"


# --- the stack -------------------------------------------------------------------------------


@dataclass
class Server:
    """One process of the scaled stack: its name, its address, its Popen (`.process`)."""

    name: str
    url: str
    _owner: Stack | None = None
    _key: str = ""
    _process: subprocess.Popen[bytes] | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        if self._owner is not None:
            return self._owner.processes.get(self._key)
        return self._process


@dataclass
class ScaledStack:
    """PostgreSQL, Redis, N Rasa + action server pairs, M web copies, HAProxy in front.

    database_url / redis_url None: start our own servers (data under DATA_DIR/scaled; the
    PostgreSQL cluster in a folder of the `postgres` user when root, which PostgreSQL
    needs). `throwaway`: services without fsync, their data removed at stop (tests, bench).
    """

    settings: Settings = field(default_factory=get_settings)
    rasa_processes: int | None = None
    web_processes: int | None = None
    quiet: bool = True
    database_url: str | None = None
    redis_url: str | None = None
    bot_port: int | None = None
    web_port: int | None = None
    stats_port: int | None = None
    throwaway: bool = False
    rasa: list[Server] = field(default_factory=list)
    actions: list[Server] = field(default_factory=list)
    web: list[Server] = field(default_factory=list)
    haproxy: Server | None = None

    def __post_init__(self) -> None:
        self.rasa_processes = self.rasa_processes or self.settings.rasa_processes
        self.web_processes = self.web_processes or self.settings.web_processes
        self.bot_port = self.bot_port or self.settings.bot_port
        self.web_port = self.web_port or self.settings.web_port
        self._pairs: list[Stack] = []
        self._webs: list[Stack] = []
        self._postgres: object | None = None
        self._redis: object | None = None
        self._haproxy_log: IO[bytes] | None = None
        self.scaled_settings: Settings | None = None

    # -- addresses

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def folder(self) -> Path:
        return self.settings.data_dir / "scaled"

    @property
    def log_dir(self) -> Path:
        return self.folder / "logs"

    @property
    def config_path(self) -> Path:
        return self.folder / "haproxy.cfg"

    @property
    def bot_url(self) -> str:
        return f"http://{self.host}:{self.bot_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def stats_url(self) -> str:
        return f"http://127.0.0.1:{self.stats_port}/"

    @property
    def token(self) -> str:
        return rasa_token(self.settings)

    @property
    def postgres(self) -> object | None:
        """The PostgreSQL server we started (bot.services.Postgres), None when given a URL."""
        return self._postgres

    @property
    def redis(self) -> object | None:
        return self._redis

    def postgres_folder(self) -> Path:
        if os.geteuid() != 0:
            return self.folder / "postgres"
        # PostgreSQL refuses root and runs as `postgres`, who cannot enter a 0700 DATA_DIR
        # owned by root: the cluster lives with the Debian package's own, one per DATA_DIR.
        if self.throwaway:
            parent = Path(tempfile.mkdtemp(prefix="guichet-pg-"))
            parent.chmod(0o755)
            return parent / "postgres"
        key = hashlib.sha256(str(self.settings.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/lib/postgresql") / f"guichet-{key}"

    # -- start

    def start_services(self) -> ScaledStack:
        """PostgreSQL and Redis (unless given), and the settings every process gets."""
        from bot.services import Postgres, Redis

        data = self.settings.data_dir
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(data)
        if self.database_url is None:
            options = {"fsync": "off", "full_page_writes": "off"} if self.throwaway else {}
            pg = Postgres(self.postgres_folder(), options=options)
            self._postgres = pg.start()
            self.database_url = pg.url
        if self.redis_url is None:
            redis = Redis(self.folder / "redis")
            self._redis = redis.start()
            self.redis_url = redis.url
        values = {
            **self.settings.values,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "BOT_PORT": str(self.bot_port),
            "WEB_PORT": str(self.web_port),
        }
        self.scaled_settings = Settings(values)
        return self

    def start(self, timeout: float = 240.0) -> ScaledStack:
        """Everything; returns once HAProxy sees every Rasa process and web copy healthy."""
        deadline = time.monotonic() + timeout
        try:
            if self.scaled_settings is None:
                self.start_services()
            self._start_processes(deadline)
            self._start_haproxy(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_processes(self, deadline: float) -> None:
        settings = self.scaled_settings
        assert settings is not None and self.rasa_processes and self.web_processes
        model = self.settings.model_dir / "guichet.tar.gz"
        if not model.exists():
            raise FileNotFoundError(f"no trained model at {model}: run `make train`")
        for i in range(self.rasa_processes):
            pair = Stack(
                settings,
                bot_port=free_port(self.host),
                actions_port=free_port(self.host),
                with_web=False,
                quiet=self.quiet,
                log_dir=self.log_dir,
                log_suffix=f"-{i}",
                # One Sanic worker: HAProxy spreads the load over processes, and a worker
                # that dies inside a process would not be restarted.
                # A process killed mid-turn leaves its Redis lock ticket behind: the other
                # process waits for it to expire before serving that conversation (Rasa's
                # default is 60 s). 6 s: the retried turn still answers within the web
                # app's 8 s timeout, so the visitor sees no error; no turn under load takes
                # that long (p99 at 50 visitors: make bench).
                extra_env={
                    "SANIC_WORKERS": "1",
                    "TICKET_LOCK_LIFETIME": str(LOCK_LIFETIME),
                    **ONE_THREAD,
                },
            )
            pair.launch({name: pair.command(name) for name in ("actions", "rasa")})
            self._pairs.append(pair)
            self.rasa.append(Server(f"rasa-{i}", pair.bot_url, pair, "rasa"))
            self.actions.append(Server(f"actions-{i}", pair.actions_url, pair, "actions"))
        for i in range(self.web_processes):
            # The web app talks to Rasa through HAProxy (BOT_PORT), like a visitor would.
            copy = Stack(
                settings,
                bot_port=self.bot_port,
                web_port=free_port(self.host),
                quiet=self.quiet,
                log_dir=self.log_dir,
                log_suffix=f"-{i}",
            )
            copy.launch({"web": copy.command("web")})
            self._webs.append(copy)
            self.web.append(Server(f"web-{i}", copy.web_url, copy, "web"))
        for stack in [*self._pairs, *self._webs]:
            stack.wait_ready(max(1.0, deadline - time.monotonic()))

    def render_config(self) -> str:
        self.stats_port = self.stats_port or free_port("127.0.0.1")
        return haproxy_config(
            bot_bind=f"{self.host}:{self.bot_port}",
            web_bind=f"{self.host}:{self.web_port}",
            stats_bind=f"127.0.0.1:{self.stats_port}",
            rasa=[(s.name, s.url.removeprefix("http://")) for s in self.rasa],
            web=[(s.name, s.url.removeprefix("http://")) for s in self.web],
        )

    def _start_haproxy(self, deadline: float) -> None:
        self.config_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(self.render_config())
        check_config(self.config_path)
        self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        out_fd = os.open(
            self.log_dir / "haproxy.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600
        )
        self._haproxy_log = os.fdopen(out_fd, "ab")
        process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [haproxy_binary(), "-db", "-f", str(self.config_path)],
            stdout=self._haproxy_log,
            stderr=subprocess.STDOUT,
            umask=PRIVATE_UMASK,
            start_new_session=True,  # Ctrl-C reaches `run` only, which stops everything
        )
        self.haproxy = Server("haproxy", self.bot_url, _process=process)
        self.wait_routed(max(1.0, deadline - time.monotonic()))

    def wait_routed(self, timeout: float) -> None:
        """Until HAProxy reports every server UP (its checks passed `rise` times)."""
        wanted = {
            "rasa": {s.name for s in self.rasa},
            "web": {s.name for s in self.web},
        }
        end = time.monotonic() + timeout
        states: dict[str, dict[str, str]] = {}
        while time.monotonic() < end:
            process = self.haproxy.process if self.haproxy else None
            if process is None or process.poll() is not None:
                raise RuntimeError(f"haproxy stopped: see {self.log_dir / 'haproxy.log'}")
            states = backend_states(self.stats_url)
            if all(
                set(states.get(backend, {})) == names
                and all(states[backend][n] == "UP" for n in names)
                for backend, names in wanted.items()
            ):
                return
            time.sleep(0.3)
        raise TimeoutError(f"HAProxy does not see every server up: {states}")

    # -- faults and stop

    def kill_rasa(self, i: int) -> None:
        """SIGKILL Rasa process i (what a crash looks like); it is not restarted."""
        process = self.rasa[i].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait()

    def supervise(self) -> ScaledStack:
        """Restart a Rasa process, action server or web copy that dies (`make run-scaled`)."""
        for stack in [*self._pairs, *self._webs]:
            stack.supervise()
        return self

    def stop(self) -> None:
        if self.haproxy is not None:
            process = self.haproxy.process
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if self._haproxy_log is not None:
            self._haproxy_log.close()
            self._haproxy_log = None
        stacks = [*self._pairs, *self._webs]
        if stacks:
            # In parallel: each waits for its processes to end.
            with ThreadPoolExecutor(max_workers=len(stacks)) as pool:
                list(pool.map(lambda s: s.stop(), stacks))
        for service in (self._redis, self._postgres):
            if service is None:
                continue
            with contextlib.suppress(Exception):  # stop what can be stopped
                if self.throwaway:
                    service.remove()  # type: ignore[attr-defined]
                else:
                    service.stop()  # type: ignore[attr-defined]
        if self.throwaway and self._postgres is not None and os.geteuid() == 0:
            folder = self._postgres.folder  # type: ignore[attr-defined]
            shutil.rmtree(folder.parent, ignore_errors=True)  # our mkdtemp

    def __enter__(self) -> ScaledStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- make run-scaled ------------------------------------------------------------------------


def run_forever() -> int:
    """`make run-scaled`: start everything, keep the processes up, stop all on Ctrl-C."""
    os.umask(PRIVATE_UMASK)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s guichet: %(message)s")
    settings = get_settings()
    stack = ScaledStack(
        settings,
        database_url=settings.database_url or None,
        redis_url=settings.redis_url or None,
    )
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        print("Guichet (plusieurs processus) démarre : PostgreSQL et Redis...", flush=True)
        stack.start_services()
        assert stack.scaled_settings is not None
        purge_at_start(stack.scaled_settings)
        print(
            f"{stack.rasa_processes} processus Rasa et {stack.web_processes} copie(s) de "
            "l'appli web démarrent (environ une minute)...",
            flush=True,
        )
        stack.start()
        stack.supervise()
        rasa = ", ".join(s.url for s in stack.rasa)
        actions = ", ".join(s.url for s in stack.actions)
        webs = ", ".join(s.url for s in stack.web)
        print(
            f"\nGuichet est prêt (HAProxy devant {len(stack.rasa)} processus Rasa).\n"
            f"  Console des médiateurs : {stack.web_url}/mediation/\n"
            f"  Rasa (canal REST)      : {stack.bot_url}/webhooks/rest/webhook\n"
            f"  Processus Rasa         : {rasa}\n"
            f"  Serveurs d'actions     : {actions}\n"
            f"  Copies de l'appli web  : {webs}\n"
            f"  État de HAProxy        : {stack.stats_url}\n"
            f"  PostgreSQL             : {redact(stack.database_url or '')}\n"
            f"  Redis                  : {redact(stack.redis_url or '')}\n"
            f"  Données                : {settings.data_dir}\n"
            f"  Journaux               : {stack.log_dir}\n"
            f"Ctrl-C pour tout arrêter.",
            flush=True,
        )
        while not stopping.wait(0.5):
            process = stack.haproxy.process if stack.haproxy else None
            if process is None or process.poll() is not None:
                log.error("haproxy stopped: Guichet stops (see %s)", stack.log_dir)
                return 1
    except KeyboardInterrupt:
        pass
    finally:
        print("\nArrêt de Guichet...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        raise SystemExit(run_forever())
    if sys.argv[1:] == ["example-config"]:
        print(compose_haproxy_config(), end="")
        raise SystemExit(0)
    print("usage: python -m bot.scaled run | example-config", file=sys.stderr)
    raise SystemExit(2)

"""Start, watch and stop the Guichet processes: the Rasa server, the action server, the web app.

`python -m bot.stack run` is what `make run` calls: it starts the three servers and keeps
them up, restarting one that dies with a growing delay (1 s, 2 s, 4 s... at most 30 s),
at most RESTART_LIMIT times in 10 minutes, while the others keep serving. Tests,
`make eval` and the benchmarks use `Stack` to start the same processes on free ports, with
or without that supervision (`Stack.supervise()`). Nothing starts at import time.

Every process runs with umask 077: what it writes under DATA_DIR (databases and their
-wal/-shm, logs, secrets, incidents) is readable by its owner only. Secrets never go on a
command line, where any local user can read them (`ps`): the Rasa token and the action
server's shared secret travel in the environment of the process that needs them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bot.settings import ROOT, Settings, get_settings

VENV_BIN = Path(sys.executable).parent
MODEL_NAME = "guichet.tar.gz"
# Rasa sends it on every action call (endpoints.yml); the action server refuses calls
# without it (bot/action_server.py).
SECRET_HEADER = "X-Guichet-Actions-Secret"
PRIVATE_UMASK = 0o077
RESTART_WINDOW_SECONDS = 600.0
FIRST_RESTART_DELAY_SECONDS = 1.0
MAX_RESTART_DELAY_SECONDS = 30.0
WATCH_PERIOD_SECONDS = 0.2

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_private_file(path: Path, make: Callable[[], str] = lambda: secrets.token_hex(32)) -> str:
    """Read a secret from `path`, creating it once with owner-only permissions.

    Several processes may ask at once (the Rasa server and the action server each read the
    shared secret when systemd starts them together): the secret is written to a file of
    its own, then linked into place, so that a reader never sees a half-written file and
    every process ends up with the first one linked."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink()
    return path.read_text().strip()


def rasa_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The token of the Rasa HTTP API: RASA_TOKEN, or generated once into DATA_DIR."""
    env = os.environ if environ is None else environ
    return env.get("RASA_TOKEN") or ensure_private_file(settings.data_dir / "rasa_token")


def actions_secret(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The secret Rasa shows the action server: ACTIONS_SECRET, or generated once into
    DATA_DIR (where the Rasa server and the action server both find it)."""
    env = os.environ if environ is None else environ
    return env.get("ACTIONS_SECRET") or ensure_private_file(settings.data_dir / "actions_secret")


def make_private(folder: Path) -> None:
    """Take group and other permissions off `folder` and everything under it: data written
    before umask 077 was the rule (a DATA_DIR from an older version) is tightened too."""
    if not folder.exists():
        return
    for path in [folder, *folder.rglob("*")]:
        with contextlib.suppress(OSError):  # a file removed meanwhile (a -wal at checkpoint)
            st = path.lstat()
            if not stat.S_ISLNK(st.st_mode) and st.st_mode & 0o077:
                path.chmod(stat.S_IMODE(st.st_mode) & 0o700)


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback)
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""


@dataclass(frozen=True)
class RestartPolicy:
    """How often and how soon a server that died is started again."""

    limit: int
    window_s: float = RESTART_WINDOW_SECONDS
    first_delay_s: float = FIRST_RESTART_DELAY_SECONDS
    max_delay_s: float = MAX_RESTART_DELAY_SECONDS

    def delay(self, recent_restarts: int) -> float | None:
        """Seconds to wait before the next restart, given the restarts of that server in
        the last `window_s`; None once `limit` is reached: the server is left stopped."""
        if recent_restarts >= self.limit:
            return None
        return min(self.max_delay_s, self.first_delay_s * 2**recent_restarts)


@dataclass
class Restart:
    """One restart, for the operator's log and for tests."""

    name: str
    exit_code: int | None
    delay_s: float
    at: float  # time.monotonic() of the restart
    back_after_s: float | None = None  # health endpoint answering again, after the restart


@dataclass
class Stack:
    """The Rasa server, the action server and the web app, as child processes.

    `start()` and `stop()` start and stop them; `supervise()` (what `make run` does) also
    restarts one that dies, under `restart_policy`."""

    settings: Settings = field(default_factory=get_settings)
    bot_port: int | None = None
    actions_port: int | None = None
    web_port: int | None = None
    with_web: bool = True
    model: Path | None = None
    quiet: bool = False
    restart_policy: RestartPolicy | None = None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    commands: dict[str, list[str]] = field(default_factory=dict)
    restarts: list[Restart] = field(default_factory=list)
    given_up: set[str] = field(default_factory=set)
    # Several stacks side by side (bot/scaled.py): their own log folder, a suffix naming
    # each process's log files ("-0" → rasa-0.log), and environment they add (SANIC_WORKERS).
    log_dir: Path | None = None
    log_suffix: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bot_port = self.bot_port or self.settings.bot_port
        self.actions_port = self.actions_port or self.settings.actions_port
        self.web_port = self.web_port or self.settings.web_port
        self.model = self.model or self.settings.model_dir / MODEL_NAME
        self.restart_policy = self.restart_policy or RestartPolicy(self.settings.restart_limit)
        self.log_dir = self.log_dir or self.settings.data_dir / "logs"
        self._logs: dict[str, IO[bytes]] = {}
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def host(self) -> str:
        return self.settings.host

    @property
    def bot_url(self) -> str:
        return f"http://{self.host}:{self.bot_port}"

    @property
    def actions_url(self) -> str:
        return f"http://{self.host}:{self.actions_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.host}:{self.web_port}"

    @property
    def token(self) -> str:
        return rasa_token(self.settings)

    @property
    def actions_secret(self) -> str:
        return actions_secret(self.settings)

    def env(self, name: str = "") -> dict[str, str]:
        """The environment of the server `name`: the same settings as this process, and
        only the secrets that server needs."""
        data = self.settings.data_dir
        env = {k: v for k, v in os.environ.items() if k not in ("RASA_TOKEN", "ACTIONS_SECRET")}
        # Every server reads the same settings as this process (tickets, organisation...).
        env.update(self.settings.values)
        env.update(
            {
                "DATA_DIR": str(data),
                "WEB_PORT": str(self.web_port),
                "BOT_PORT": str(self.bot_port),
                "ACTIONS_PORT": str(self.actions_port),
                "ACTION_ENDPOINT_URL": f"{self.actions_url}/webhook",
                "TRACKER_DB": str(data / "tracker.db"),
                "SANIC_HOST": self.host,
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
                "TF_CPP_MIN_LOG_LEVEL": "2",
            }
        )
        env.update(self.extra_env)
        if name == "rasa":
            env["RASA_TOKEN"] = self.token
        if name in ("rasa", "actions"):
            env["ACTIONS_SECRET"] = self.actions_secret
        return env

    def command(self, name: str) -> list[str]:
        python = str(VENV_BIN / "python")
        quiet = ["--quiet"] if self.settings.log_level.upper() == "WARNING" else []
        if name == "actions":
            return [python, "-m", "bot.action_server", "--actions", "actions",
                    "--port", str(self.actions_port)] + quiet  # fmt: skip
        if name == "rasa":
            # No --auth-token here: bot.rasa_server adds it from RASA_TOKEN, in-process.
            assert self.log_dir is not None
            rasa_log = self.log_dir / f"rasa{self.log_suffix}.log"
            return [python, "-m", "bot.rasa_server", "run",
                    "--interface", self.host, "--port", str(self.bot_port),
                    "--model", str(self.model), "--endpoints", "endpoints.yml",
                    "--credentials", "credentials.yml", "--enable-api",
                    "--log-file", str(rasa_log)] + quiet  # fmt: skip
        if name == "web":
            return [python, "-m", "bot.web"]
        raise ValueError(f"no server named {name!r}")

    def _spawn(self, name: str, args: list[str]) -> None:
        logs = self.log_dir
        assert logs is not None
        logs.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._close_log(name)
        out: IO[bytes] | None = None
        if self.quiet:
            path = logs / f"{name}{self.log_suffix}.log"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            out = self._logs[name] = os.fdopen(fd, "ab")
        self.processes[name] = subprocess.Popen(  # noqa: S603 (our own commands)
            args,
            cwd=ROOT,
            env=self.env(name),
            stdout=out,
            stderr=subprocess.STDOUT if out else None,
            umask=PRIVATE_UMASK,
            # Its own session: a Ctrl-C in the terminal reaches this process only, which
            # stops the servers itself, rather than each of them dying on its own and
            # looking like a crash to the supervisor.
            start_new_session=True,
        )

    def _close_log(self, name: str) -> None:
        handle = self._logs.pop(name, None)
        if handle is not None:
            handle.close()

    def start(self, timeout: float = 180.0) -> Stack:
        if not self.model or not self.model.exists():
            raise FileNotFoundError(f"no trained model at {self.model}: run `make train`")
        data = self.settings.data_dir
        data.mkdir(mode=0o700, parents=True, exist_ok=True)
        make_private(data)
        names = ["actions", "rasa"] + (["web"] if self.with_web else [])
        self.launch({name: self.command(name) for name in names})
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def launch(self, commands: dict[str, list[str]]) -> None:
        """Start each command as the server of its name (what `start()` does with the real
        ones; tests of the supervision give stand-ins)."""
        self._stopping.clear()
        for name, args in commands.items():
            self.commands[name] = args
            self._spawn(name, args)

    def healthy(self, name: str, timeout: float = 2.0) -> bool:
        """Whether the server `name` answers its health endpoint (Rasa: with its model)."""
        if name == "actions":
            return _get(f"{self.actions_url}/health", timeout)[0] == 200
        if name == "web":
            return _get(f"{self.web_url}/healthz", timeout)[0] == 200
        status, body = _get(f"{self.bot_url}/status?token={self.token}", timeout)
        with contextlib.suppress(ValueError):
            return status == 200 and bool(json.loads(body).get("model_file"))
        return False

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ready = {name: False for name in self.processes}
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"the {name} server stopped (exit {proc.returncode})")
            for name in ready:
                ready[name] = ready[name] or self.healthy(name)
            if all(ready.values()):
                return
            time.sleep(0.5)
        raise TimeoutError(f"servers not ready after {timeout:.0f} s: {ready}")

    # --- supervision ---------------------------------------------------------------------

    def supervise(self) -> Stack:
        """Watch the started servers from a thread and restart one that dies, until stop()."""
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, name="guichet-supervisor")
            self._watcher.daemon = True
            self._watcher.start()
        return self

    def _watch(self) -> None:
        policy = self.restart_policy
        assert policy is not None
        pending: dict[str, tuple[float, int | None, float]] = {}  # when, exit code, delay
        recovering: list[Restart] = []
        polled = 0.0
        while not self._stopping.wait(WATCH_PERIOD_SECONDS):
            now = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                for name, proc in self.processes.items():
                    code = proc.poll()
                    if code is None or name in pending or name in self.given_up:
                        continue
                    self._close_log(name)
                    recent = sum(
                        1 for r in self.restarts if r.name == name and now - r.at < policy.window_s
                    )
                    delay = policy.delay(recent)
                    if delay is None:
                        self.given_up.add(name)
                        log.error(
                            "the %s server stopped (exit %s) after %d restarts in %.0f minutes: "
                            "left stopped, the other servers keep serving; "
                            "see %s, fix the cause and restart Guichet",
                            name, code, recent, policy.window_s / 60,
                            self.settings.data_dir / "logs",
                        )  # fmt: skip
                        continue
                    log.warning(
                        "the %s server stopped (exit %s): restart %d of %d in %.0f s",
                        name, code, recent + 1, policy.limit, delay,
                    )  # fmt: skip
                    pending[name] = (now + delay, code, delay)
                for name, (when, code, delay) in list(pending.items()):
                    if now < when:
                        continue
                    del pending[name]
                    self._spawn(name, self.commands[name])
                    restart = Restart(name, code, delay, time.monotonic())
                    self.restarts.append(restart)
                    recovering.append(restart)
                    self._record_incident(f"{name} exit {code}")
            if not recovering or now - polled < 1.0:
                continue
            polled = now
            for restart in list(recovering):
                if self._stopping.is_set():
                    return
                if self.healthy(restart.name, timeout=1.0):
                    restart.back_after_s = time.monotonic() - restart.at
                    recovering.remove(restart)
                    log.warning(
                        "the %s server answers again, %.1f s after its restart",
                        restart.name, restart.back_after_s,
                    )  # fmt: skip

    def _record_incident(self, detail: str) -> None:
        from bot import incidents

        incidents.record("server_restarted", detail, settings=self.settings)

    def stop(self) -> None:
        self._stopping.set()
        watcher = self._watcher
        if watcher is not None and watcher is not threading.current_thread():
            watcher.join(timeout=10)
        with self._lock:
            for proc in self.processes.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in self.processes.values():
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            self.processes.clear()
            for name in list(self._logs):
                self._close_log(name)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def purge_at_start(settings: Settings) -> None:
    """The retention purge `make run` and `make run-scaled` do before starting, said in French."""
    import sqlite3

    from bot.tickets import TicketStore, purge_all

    try:
        with TicketStore.open(settings) as store:
            counts = purge_all(store, settings)
    except (sqlite3.Error, OSError) as exc:
        # A database or Redis that is not there yet must not keep the servers from starting:
        # the next start (or `python -m bot.tickets purge`) does the purge.
        print(
            f"Nettoyage reporté : base de données injoignable ({type(exc).__name__}).", flush=True
        )
        return
    print(
        f"Nettoyage : {counts['tickets']} ticket(s) clos expiré(s), "
        f"{counts['conversations']} conversation(s) sans ticket, "
        f"{counts['contacts']} coordonnée(s) en attente supprimés.",
        flush=True,
    )


def run_forever() -> int:
    """`make run`: start everything on the configured ports, keep it up, stop it on Ctrl-C."""
    os.umask(PRIVATE_UMASK)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s guichet: %(message)s")
    settings = get_settings()
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    make_private(settings.data_dir)
    purge_at_start(settings)
    stack = Stack(settings)
    print("Guichet démarre (le premier démarrage prend environ 30 secondes)...", flush=True)
    stopping = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stopping.set()

    # Explicit handlers: a shell may start `make run` with SIGINT ignored (in the background),
    # and Ctrl-C must still stop every process.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stack.start()
        stack.supervise()
        print(
            f"\nGuichet est prêt.\n"
            f"  Console des médiateurs : {stack.web_url}/mediation/\n"
            f"  Rasa (canal REST) : {stack.bot_url}/webhooks/rest/webhook\n"
            f"  Serveur d'actions : {stack.actions_url}\n"
            f"  Données           : {settings.data_dir}\n"
            f"Ctrl-C pour tout arrêter.",
            flush=True,
        )
        while not stopping.wait(0.5):
            if stack.given_up and stack.given_up >= set(stack.commands):
                log.error("every server is left stopped: Guichet stops")
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
    print("usage: python -m bot.stack run", file=sys.stderr)
    raise SystemExit(2)

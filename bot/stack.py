"""Start and stop the Guichet processes: the Rasa server and the action server.

`python -m bot.stack run` is what `make run` calls; tests, `make eval` and the benchmarks use
`Stack` to start the same processes on free ports. Nothing starts at import time.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.settings import ROOT, Settings, get_settings

VENV_BIN = Path(sys.executable).parent
MODEL_NAME = "guichet.tar.gz"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def ensure_private_file(path: Path, make: Callable[[], str] = lambda: secrets.token_hex(32)) -> str:
    """Read a secret from `path`, creating it once with owner-only permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
    return path.read_text().strip()


def rasa_token(settings: Settings) -> str:
    """The token of the Rasa HTTP API: RASA_TOKEN, or generated once into DATA_DIR."""
    return os.environ.get("RASA_TOKEN") or ensure_private_file(settings.data_dir / "rasa_token")


def _get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (loopback)
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""
    except (urllib.error.URLError, OSError):
        return 0, b""


@dataclass
class Stack:
    """The Rasa server and the action server, as child processes."""

    settings: Settings = field(default_factory=get_settings)
    bot_port: int | None = None
    actions_port: int | None = None
    web_port: int | None = None
    with_web: bool = True
    model: Path | None = None
    quiet: bool = False
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.bot_port = self.bot_port or self.settings.bot_port
        self.actions_port = self.actions_port or self.settings.actions_port
        self.web_port = self.web_port or self.settings.web_port
        self.model = self.model or self.settings.model_dir / MODEL_NAME

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

    def env(self) -> dict[str, str]:
        data = self.settings.data_dir
        env = dict(os.environ)
        # Both servers read the same settings as this process (tickets, organisation...).
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
        return env

    def _spawn(self, name: str, args: list[str]) -> None:
        logs = self.settings.data_dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log = (logs / f"{name}.log").open("ab")
        out = log if self.quiet else None
        self.processes[name] = subprocess.Popen(  # noqa: S603 (our own commands)
            args, cwd=ROOT, env=self.env(), stdout=out, stderr=subprocess.STDOUT if out else None
        )

    def start(self, timeout: float = 180.0) -> Stack:
        if not self.model or not self.model.exists():
            raise FileNotFoundError(f"no trained model at {self.model}: run `make train`")
        data = self.settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        level = self.settings.log_level.upper()
        self._spawn(
            "actions",
            [str(VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions",
             "--port", str(self.actions_port)] + (["--quiet"] if level == "WARNING" else []),
        )  # fmt: skip
        self._spawn(
            "rasa",
            [str(VENV_BIN / "python"), "-m", "bot.rasa_server", "run",
             "--interface", self.host, "--port", str(self.bot_port),
             "--model", str(self.model), "--endpoints", "endpoints.yml",
             "--credentials", "credentials.yml", "--enable-api", f"--auth-token={self.token}",
             "--log-file", str(data / "logs" / "rasa.log")]
            + (["--quiet"] if level == "WARNING" else []),
        )  # fmt: skip
        if self.with_web:
            self._spawn("web", [str(VENV_BIN / "python"), "-m", "bot.web"])
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        ready = {"actions": False, "rasa": False}
        if self.with_web:
            ready["web"] = False
        while time.monotonic() < deadline:
            for name, proc in self.processes.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"the {name} server stopped (exit {proc.returncode})")
            if not ready["actions"]:
                ready["actions"] = _get(f"{self.actions_url}/health")[0] == 200
            if not ready.get("web", True):
                ready["web"] = _get(f"{self.web_url}/healthz")[0] == 200
            if not ready["rasa"]:
                status, body = _get(f"{self.bot_url}/status?token={self.token}")
                with contextlib.suppress(ValueError):
                    ready["rasa"] = status == 200 and bool(json.loads(body).get("model_file"))
            if all(ready.values()):
                return
            time.sleep(0.5)
        raise TimeoutError(f"servers not ready after {timeout:.0f} s: {ready}")

    def stop(self) -> None:
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

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_forever() -> int:
    """`make run`: start everything on the configured ports, stop it all on Ctrl-C."""
    from bot.tickets import TicketStore, purge_all

    settings = get_settings()
    with TicketStore.open(settings) as store:
        counts = purge_all(store, settings)
    print(
        f"Nettoyage : {counts['tickets']} ticket(s) clos expiré(s), "
        f"{counts['conversations']} conversation(s) sans ticket, "
        f"{counts['contacts']} coordonnée(s) en attente supprimés.",
        flush=True,
    )
    stack = Stack(settings)
    print("Guichet démarre (le premier démarrage prend environ 30 secondes)...", flush=True)
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    # Explicit handlers: a shell may start `make run` with SIGINT ignored (in the background),
    # and Ctrl-C must still stop every process.
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        stack.start()
        print(
            f"\nGuichet est prêt.\n"
            f"  Console des médiateurs : {stack.web_url}/mediation/\n"
            f"  Rasa (canal REST) : {stack.bot_url}/webhooks/rest/webhook\n"
            f"  Serveur d'actions : {stack.actions_url}\n"
            f"  Données           : {settings.data_dir}\n"
            f"Ctrl-C pour tout arrêter.",
            flush=True,
        )
        while not stopping:
            for name, proc in stack.processes.items():
                if proc.poll() is not None:
                    print(f"Le serveur {name} s'est arrêté (code {proc.returncode}).", flush=True)
                    return 1
            time.sleep(0.5)
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

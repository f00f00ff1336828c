"""`python -m bot.rasa_server run ...`: Rasa's own command line, with one start-up fix.

The model's classifier is stored with skops, whose first import looks up several hundred
scikit-learn and SciPy names in every module already loaded. Inside the Rasa server
(TensorFlow loaded: about 5,700 modules) that costs 10 s or more of the time before the
first answer; imported first, before Rasa, it costs what importing scikit-learn costs
(make bench measures the time from `make run` to the first answer).

The secrets stay off the command line, where any local user reads them (`ps`,
/proc/<pid>/cmdline): `--auth-token` is added here, in-process, from RASA_TOKEN (or the
token generated into DATA_DIR), and the action server's shared secret reaches endpoints.yml
through ACTIONS_SECRET. The kernel keeps the arguments the process was started with, not
this process's `sys.argv`. The same defaults let a service manager (deploy/systemd) start
Rasa with the settings alone.

When REDIS_URL is set, Rasa's lock store is its `RedisLockStore` (a second guard behind
HAProxy's routing by sender, and what lets SANIC_WORKERS run several workers). Its host,
port, password and database come from the URL into a copy of the endpoints file written
owner-only into DATA_DIR (`endpoints.redis.yml`), and `--endpoints` names that copy: the
password never reaches a command line. The tracker store reads REDIS_URL itself
(bot/tracker_store.py).
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.logs import install as install_log_scrubber

REDIS_ENDPOINTS = "endpoints.redis.yml"


def redis_lock_store(url: str) -> dict[str, Any]:
    """The `lock_store` section of endpoints.yml for Rasa's RedisLockStore at `url`."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError("Rasa's Redis lock store needs a redis:// or rediss:// URL")
    section: dict[str, Any] = {
        "type": "redis",
        "url": parts.hostname or "localhost",
        "port": parts.port or 6379,
        "db": int(parts.path.strip("/") or 0),
    }
    if parts.username:
        section["username"] = unquote(parts.username)
    if parts.password:
        section["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        section["use_ssl"] = True
    return section


def _endpoints_argument(argv: list[str]) -> tuple[int | None, str]:
    """Where `--endpoints` is in argv (None: absent) and the file it names."""
    for i, arg in enumerate(argv):
        if arg == "--endpoints" and i + 1 < len(argv):
            return i + 1, argv[i + 1]
        if arg.startswith("--endpoints="):
            return i, arg.split("=", 1)[1]
    return None, "endpoints.yml"


def use_redis_lock_store(argv: list[str], redis_url: str, data_dir: Path) -> Path:
    """Write the endpoints file plus a Redis lock store into `data_dir` (0600, replaced
    atomically: several Rasa processes may start together) and point `--endpoints` at it."""
    import yaml

    index, given = _endpoints_argument(argv)
    endpoints = yaml.safe_load(Path(given).read_text(encoding="utf-8")) or {}
    # ${VAR} values stay as they are: Rasa fills them from the environment when it reads.
    endpoints["lock_store"] = redis_lock_store(redis_url)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = data_dir / REDIS_ENDPOINTS
    temporary = data_dir / f".{REDIS_ENDPOINTS}.{os.getpid()}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        yaml.safe_dump(endpoints, file, allow_unicode=True, sort_keys=False)
    os.replace(temporary, target)
    if index is None:
        argv.extend(["--endpoints", str(target)])
    elif argv[index].startswith("--endpoints="):
        argv[index] = f"--endpoints={target}"
    else:
        argv[index] = str(target)
    return target


def prepare(argv: list[str], environ: MutableMapping[str, str]) -> None:
    """Fill in what the command line and endpoints.yml need but must not carry."""
    from bot.settings import Settings
    from bot.stack import actions_secret, rasa_token

    settings = Settings.from_env(dict(environ))
    environ["ACTIONS_SECRET"] = actions_secret(settings, environ)
    environ.setdefault(
        "ACTION_ENDPOINT_URL", f"http://{settings.host}:{settings.actions_port}/webhook"
    )
    environ.setdefault("TRACKER_DB", str(settings.tracker_db))
    if settings.redis_url:
        use_redis_lock_store(argv, settings.redis_url, settings.data_dir)
    given = any(a == "--auth-token" or a.startswith("--auth-token=") for a in argv)
    if "--enable-api" in argv and not given:
        argv.append(
            f"--auth-token={rasa_token(settings, environ)}"
        )  # "=": a token may start with "-"
    # Nothing Rasa runs or logs later needs it in the environment.
    environ.pop("RASA_TOKEN", None)
    if "--log-file" in argv[:-1]:
        Path(argv[argv.index("--log-file") + 1]).parent.mkdir(
            mode=0o700, parents=True, exist_ok=True
        )


def main() -> None:
    # Owner-only files: the tracker store, its -wal/-shm, the log (whoever starts us).
    os.umask(0o077)
    prepare(sys.argv, os.environ)
    install_log_scrubber()  # before Rasa: its log handlers must never see visitor text
    import skops.io  # noqa: F401  (see the module docstring)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()

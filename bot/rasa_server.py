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
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
from pathlib import Path

from bot.logs import install as install_log_scrubber


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

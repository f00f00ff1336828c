"""`python -m bot.action_server`: the Rasa action server, answering Rasa only.

rasa_sdk's server runs any action for any local process that posts to `/webhook`: a forged
call skips the privacy guard of the REST channel and can create tickets. Here the same
server refuses every request but `/health` unless it carries the shared secret
(`SECRET_HEADER`), which Rasa sends on each action call (endpoints.yml). The secret is
ACTIONS_SECRET, or the one generated once into DATA_DIR (`bot.stack.actions_secret`).
The command line is rasa_sdk's own (`--actions`, `--port`, `--quiet`...).
"""

from __future__ import annotations

import hmac
import logging
import os
from typing import TYPE_CHECKING, Any

from bot.logs import install as install_log_scrubber
from bot.stack import PRIVATE_UMASK, SECRET_HEADER, actions_secret

if TYPE_CHECKING:
    from sanic import Sanic

OPEN_PATHS = frozenset({"/health"})
REFUSED = {"error": "This server answers the Rasa server only."}


def create_app(secret: str, actions: str = "actions", **options: Any) -> Sanic:
    """rasa_sdk's app for the `actions` package, closed to callers without `secret`."""
    from rasa_sdk.endpoint import create_app as create_sdk_app
    from sanic import response
    from sanic.request import Request

    if not secret:
        raise ValueError("the action server needs a non-empty shared secret")
    expected = secret.encode()
    app = create_sdk_app(actions, **options)

    @app.middleware("request")
    async def require_secret(request: Request) -> Any:
        if request.path in OPEN_PATHS:
            return None
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        if hmac.compare_digest(given, expected):
            return None
        return response.json(REFUSED, status=401)

    return app


def main(argv: list[str] | None = None) -> None:
    # Owner-only files: the tickets database, its -wal/-shm, incidents.
    os.umask(PRIVATE_UMASK)
    install_log_scrubber()  # before rasa_sdk sets up its logs: no visitor text in them
    from rasa_sdk import utils
    from rasa_sdk.constants import APPLICATION_ROOT_LOGGER_NAME
    from rasa_sdk.endpoint import create_argument_parser, create_ssl_context
    from rasa_sdk.plugin import plugin_manager

    from bot.settings import get_settings

    settings = get_settings()
    parser = create_argument_parser()
    # Without arguments, what the settings say (a service manager starts it that way).
    parser.set_defaults(actions="actions", port=settings.actions_port)
    args = parser.parse_args(argv)
    # As rasa_sdk's own `python -m rasa_sdk` sets up its logs.
    logging.getLogger("matplotlib").setLevel(logging.WARN)
    utils.configure_colored_logging(args.loglevel)
    utils.configure_file_logging(
        logging.getLogger(APPLICATION_ROOT_LOGGER_NAME),
        args.log_file,
        args.loglevel,
        args.logging_config_file,
    )
    utils.update_sanic_log_level()

    app = create_app(
        actions_secret(settings), args.actions, cors_origins=args.cors, auto_reload=args.auto_reload
    )
    plugin_manager().hook.attach_sanic_app_extensions(app=app)
    ssl_context = create_ssl_context(args.ssl_certificate, args.ssl_keyfile, args.ssl_password)
    host = os.environ.get("SANIC_HOST", settings.host)
    app.run(host, args.port, ssl=ssl_context, workers=utils.number_of_sanic_workers())


if __name__ == "__main__":
    main()

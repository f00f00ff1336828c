"""`python -m bot.web`: serve the web app on HOST:WEB_PORT (what `make run` starts)."""

from __future__ import annotations

import os

import uvicorn

from bot.logs import install as install_log_scrubber
from bot.settings import get_settings
from bot.web.app import create_app


def main() -> None:
    os.umask(0o077)  # owner-only files under DATA_DIR: accounts, session key, logs
    install_log_scrubber()  # no visitor text in the web app's logs either
    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.web_port,
        log_level=settings.log_level.lower(),
        access_log=False,
        # websockets is pinned old by Rasa; the web app needs no websocket anyway.
        ws="none",
    )


if __name__ == "__main__":
    main()

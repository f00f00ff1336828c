"""`python -m bot.web`: serve the web app on HOST:WEB_PORT (what `make run` starts)."""

from __future__ import annotations

import uvicorn

from bot.settings import get_settings
from bot.web.app import create_app


def main() -> None:
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

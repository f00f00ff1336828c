"""Shared fixtures: the real catalogue and domain, and tracker factories for actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.guides import Catalogue, load_catalogue
from bot.settings import ROOT

TESTS = Path(__file__).parent

# Figures a test measures (rates, counts) to show at the end of the run, one line each:
# `request.config.stash.setdefault(SUMMARY, []).append("...")`.
SUMMARY = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    lines = config.stash.get(SUMMARY, [])
    if lines:
        terminalreporter.section("measured")
        for line in lines:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return load_catalogue(ROOT / "knowledge")


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def initial_slots(domain: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("initial_value") for name, spec in domain["slots"].items()}


def user_event(intent: str, text: str | None = None) -> dict[str, Any]:
    return {
        "event": "user",
        "text": text or f"/{intent}",
        "parse_data": {"intent": {"name": intent, "confidence": 1.0}, "entities": []},
    }


@pytest.fixture
def make_tracker(domain: dict[str, Any]):
    """Build a rasa-sdk Tracker whose latest message has `intent`, with `slots` set."""
    from rasa_sdk import Tracker

    def _make(
        intent: str,
        slots: dict[str, Any] | None = None,
        previous_intents: tuple[str, ...] = (),
        text: str | None = None,
    ) -> Tracker:
        all_slots = initial_slots(domain)
        all_slots.update(slots or {})
        events = [user_event(i) for i in previous_intents] + [user_event(intent, text)]
        return Tracker(
            sender_id="test",
            slots=all_slots,
            latest_message=events[-1]["parse_data"] | {"text": events[-1]["text"]},
            events=events,
            paused=False,
            followup_action=None,
            active_loop={},
            latest_action_name="action_listen",
        )

    return _make


@pytest.fixture
def tracker_from_json(domain: dict[str, Any]):
    """Load a tracker fixture from tests/data/<name>.json."""
    from rasa_sdk import Tracker

    def _load(name: str) -> Tracker:
        data = json.loads((TESTS / "data" / f"{name}.json").read_text(encoding="utf-8"))
        slots = initial_slots(domain) | data.get("slots", {})
        return Tracker(
            data["sender_id"],
            slots,
            data["latest_message"],
            data["events"],
            False,
            None,
            {},
            "action_listen",
        )

    return _load


@pytest.fixture(scope="session")
def running_stack(tmp_path_factory):
    """The real Rasa server and action server on free ports, with a fresh DATA_DIR.

    Needs the trained model (`make test` trains it first).
    """
    from bot.settings import Settings
    from bot.stack import MODEL_NAME, Stack, free_port

    settings = Settings.from_env()
    model = settings.model_dir / MODEL_NAME
    assert model.exists(), f"no trained model at {model}: run `make train` first"
    data_dir = tmp_path_factory.mktemp("var")
    # The suite creates far more tickets a minute than a real desk gets (50 visitors at
    # once): the flood limit is tested on a stack of its own (tests/test_e2e_limits.py).
    values = {**settings.values, "DATA_DIR": str(data_dir), "HANDOFFS_PER_MINUTE": "10000"}
    stack = Stack(
        Settings(values),
        bot_port=free_port(),
        actions_port=free_port(),
        web_port=free_port(),
        quiet=True,
    )
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def bot_url(running_stack) -> str:
    return str(running_stack.bot_url)


# --- PostgreSQL and Redis (issue 16) -----------------------------------------------------------


@pytest.fixture(scope="session")
def _service_root(tmp_path_factory):
    """A folder the postgres user can reach (PostgreSQL refuses to run as root)."""
    import os
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="guichet-services-"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(_service_root):
    """One throwaway PostgreSQL server (Debian package) for the whole run."""
    from bot.services import Postgres

    server = Postgres(_service_root / "postgresql", options={"fsync": "off"}).start()
    yield server
    from bot import pg

    pg.dispose()
    server.remove()


@pytest.fixture(scope="session")
def pg_url(pg_server) -> str:
    return pg_server.url


@pytest.fixture
def fresh_pg_url(pg_server):
    """The URL of a new, empty database on the test server, dropped afterwards."""
    import secrets

    import psycopg2

    from bot import pg

    name = f"t_{secrets.token_hex(6)}"
    admin = pg_server.url.rsplit("/", 1)[0] + "/postgres"

    def run(sql: str) -> None:
        conn = psycopg2.connect(admin)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    run(f"CREATE DATABASE {name}")
    url = pg_server.url.rsplit("/", 1)[0] + f"/{name}"
    yield url
    pg.dispose(url)
    run(f"DROP DATABASE {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def redis_url(_service_root) -> Any:
    """One throwaway Redis server (Debian package, no persistence) for the whole run."""
    from bot.services import Redis

    server = Redis(_service_root / "redis").start()
    yield server.url
    server.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    """Where a store test puts its store, once per engine: `database(name)` is a new SQLite
    file in tmp_path, or the URL of a new PostgreSQL database (each test its own)."""
    if request.param == "sqlite":
        return lambda name: tmp_path / f"{name}.db"
    url = request.getfixturevalue("fresh_pg_url")
    return lambda name: url

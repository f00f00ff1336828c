"""Logs never hold visitor text: the scrubber on Rasa's real log lines, Rasa's real logging
set-up in a child process (file handler, structlog, a failing action's tracker dump), and
the retention of log files."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import logs
from bot.logs import MASK, scrub_text
from bot.settings import ROOT, Settings

VISITOR = "ma voisine Zoé Quintard habite 12 rue des Lilas, mon mdp est Azerty123!"
TELLTALES = ("Quintard", "Lilas", "Azerty123", "voisine")


def leaks(text: str) -> list[str]:
    return [word for word in TELLTALES if word.lower() in text.lower()]


# Lines as Rasa 3.6, rasa_sdk, Sanic and uvicorn write them (their source, grepped), with
# what must survive the scrubber.
REALISTIC = [
    (
        '{"parse_data_text": "' + VISITOR + '", "parse_data_intent": {"name": "greet", '
        '"confidence": 0.98}, "parse_data_entities": [], "event": "processor.message.parse", '
        '"log_level": "debug"}',
        ["processor.message.parse", '"name": "greet"', "0.98"],
    ),
    (
        '{"rasa_events": [{"event": "user", "timestamp": 1.5, "text": "' + VISITOR + '", '
        '"parse_data": {"intent": {"name": "greet", "confidence": 1.0}}}, {"event": "slot", '
        '"name": "visitor_sentence", "value": "' + VISITOR + '"}], "action_name": '
        '"action_extract_slots", "event": "processor.actions.log", "log_level": "debug"}',
        ["action_extract_slots", "visitor_sentence", '"event": "slot"'],
    ),
    (
        "[debug    ] processor.message.parse        parse_data_entities=[] "
        "parse_data_intent={'name': 'greet', 'confidence': 0.98} parse_data_text=" + VISITOR,
        ["processor.message.parse", "'name': 'greet'"],
    ),
    (
        "[debug    ] processor.slots.log            slot_values=\tvisitor_sentence: "
        + VISITOR
        + "\n\tguide_id: impots.declarer\n\tcontact_detail: "
        + VISITOR,
        ["processor.slots.log"],
    ),
    (
        "[error    ] rest.message.received.failure  text=" + VISITOR + "\n"
        "Traceback (most recent call last):\n"
        '  File "/x/rasa/core/channels/rest.py", line 163, in receive\n'
        "    await on_new_message(\n"
        f"ValueError: invalid literal for int() with base 10: '{VISITOR}'",
        ["rest.message.received.failure", "ValueError", 'rest.py", line 163, in receive'],
    ),
    (
        "rasa.utils.endpoints.ClientResponseError: 500, Internal Server Error, body='b'"
        '{"error":"boom","request_body":{"next_action":"action_create_ticket","tracker":'
        '{"sender_id":"4f1c","latest_message":{"text":"' + VISITOR + "\"}}}}''",
        ["ClientResponseError: 500, Internal Server Error"],
    ),
    (
        "Contents of ignored event: '{'event': 'user', 'text': '" + VISITOR + "'}'",
        ["Contents of ignored event", "'event': 'user'"],
    ),
    (
        f"Received user message '{VISITOR}' with intent "
        "'{'name': 'greet', 'confidence': 0.98}' and entities '[]'",
        ["Received user message", "'name': 'greet'"],
    ),
    (
        f"UserUttered(text: {VISITOR}, intent: greet, use_text_for_featurization: False)",
        ["UserUttered(", "intent: greet"],
    ),
    (f"SlotSet(key: visitor_sentence, value: {VISITOR})", ["key: visitor_sentence"]),
    (
        f"BotUttered(text: Vous avez écrit « {VISITOR} », data: {{}}, metadata: {{}})",
        ["BotUttered("],
    ),
    (
        f'Exception occurred while handling uri: "http://127.0.0.1/webhook?q={VISITOR}"',
        ["Exception occurred while handling uri"],
    ),
]


TECHNICAL = [
    "Received request to run 'action_start_guide'",
    "Predicted next action 'action_listen' with confidence 1.00.",
    "Tracker with sender_id '4f1c9a2b-77' stored to database",
    "Started server process [1234]",
    "Failed to run custom action 'action_create_ticket'. Couldn't connect to the server at "
    "'http://127.0.0.1:5055/webhook'. Is the server running? Error: Cannot connect to host",
    "Encountered an exception while running action 'action_create_ticket'.Bot will continue, "
    "but the actions events are lost.",
]


@pytest.mark.parametrize("line", TECHNICAL)
def test_technical_lines_are_left_alone(line):
    assert scrub_text(line) == line


@pytest.mark.parametrize(("line", "kept"), REALISTIC, ids=range(len(REALISTIC)))
def test_realistic_lines_lose_the_visitor_text_and_keep_the_technical_part(line, kept):
    assert leaks(line)  # the line does carry the visitor's sentence
    scrubbed = scrub_text(line)
    assert leaks(scrubbed) == [], scrubbed
    assert MASK in scrubbed
    for part in kept:
        assert part in scrubbed, (part, scrubbed)


def test_french_apostrophes_do_not_open_a_quote():
    scrubbed = scrub_text("Received user message 'je n'ai pas reçu l'e-mail de Quintard' ok")
    assert "Quintard" not in scrubbed and "reçu" not in scrubbed
    assert scrubbed.endswith(" ok")


def test_secrets_left_in_plain_prose_are_caught_by_the_privacy_guard():
    scrubbed = scrub_text("appel du 06 12 34 56 78, carte 4970 1012 3456 7893 refusée")
    assert "06 12 34 56 78" not in scrubbed and "4970" not in scrubbed
    assert "refusée" in scrubbed  # ordinary prose stays readable


def test_the_console_renderer_of_rasa_is_scrubbed_too():
    from rasa.utils.log_utils import HumanConsoleRenderer

    rendered = HumanConsoleRenderer(colors=False)(
        None,
        "debug",
        {
            "event": "processor.message.parse",
            "parse_data_text": VISITOR,
            "parse_data_intent": {"name": "greet", "confidence": 0.98},
            "parse_data_entities": [],
            "level": "debug",
        },
    )
    assert leaks(rendered)
    scrubbed = scrub_text(rendered)
    assert leaks(scrubbed) == [] and "processor.message.parse" in scrubbed
    assert "'name': 'greet'" in scrubbed


@pytest.fixture
def scrubber():
    """bot.logs.install() in this process, undone afterwards."""
    factory = logging.getLogRecordFactory()
    logs.install()
    logs.install()  # idempotent: one scrubber, not two
    try:
        yield
    finally:
        logging.setLogRecordFactory(factory)
        logs._installed = None
        logging.captureWarnings(False)


def test_install_scrubs_every_record_whatever_the_handler(scrubber, tmp_path):
    assert logs.installed()
    handler = logging.FileHandler(tmp_path / "x.log", encoding="utf-8")
    logger = logging.getLogger("guichet.test.logs")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("Received user message '%s' for %s", VISITOR, "abcd1234")
        try:
            raise KeyError(VISITOR)
        except KeyError:
            logger.exception("action failed in 'action_create_ticket'")
    finally:
        logger.removeHandler(handler)
        handler.close()
    written = (tmp_path / "x.log").read_text(encoding="utf-8")
    assert leaks(written) == []
    assert "abcd1234" in written and "KeyError" in written and "action_create_ticket" in written


# Rasa's own logging set-up (what `rasa run --log-file` does), then the lines Rasa and
# rasa_sdk write on a debug turn and on a failing action, including the action server's
# answer that holds the whole tracker.
CHILD = r"""
import json, logging, sys, warnings
if sys.argv[3] == "scrub":
    from bot.logs import install
    install()
import structlog
import rasa.core.utils
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.exceptions import RasaException
from rasa.utils.endpoints import ClientResponseError

log_file, text = sys.argv[1], sys.argv[2]
configure_logging_and_warnings(logging.DEBUG)
configure_structlog(logging.DEBUG)
logging.getLogger().setLevel(logging.DEBUG)
rasa.core.utils.configure_file_logging(logging.getLogger(), log_file, False)
slog = structlog.get_logger()
slog.debug("processor.message.parse", parse_data_text=text,
           parse_data_intent={"name": "greet", "confidence": 0.9}, parse_data_entities=[])
slog.debug("processor.slots.log", slot_values=f"\tvisitor_sentence: {text}")
slog.debug("processor.actions.log", action_name="action_handoff",
           rasa_events=[UserUttered(text, {"name": "greet"}), SlotSet("visitor_sentence", text)])
try:
    raise RuntimeError(text)
except RuntimeError:
    slog.exception("rest.message.received.failure", text=text)
tracker = {"sender_id": "4f1c9a2b", "slots": {"visitor_sentence": text},
           "latest_message": {"text": text}, "events": [{"event": "user", "text": text}]}
body = json.dumps({"error": "boom", "request_body": {"next_action": "action_create_ticket",
                                                     "tracker": tracker}}).encode()
try:
    try:
        raise ClientResponseError(500, "Internal Server Error", body)
    except ClientResponseError as exc:
        raise RasaException("Failed to execute custom action 'action_create_ticket'") from exc
except RasaException:
    logging.getLogger("rasa.core.processor").exception(
        "Encountered an exception while running action 'action_create_ticket'.")
try:
    raise ValueError(f"bad contact {text!r}")
except ValueError as exc:
    logging.getLogger("rasa_sdk.endpoint").error(
        msg="Exception occurred during execution of request <Request: POST /webhook>",
        exc_info=exc)
logging.getLogger("rasa_sdk.executor").debug(
    f"Contents of ignored event: '{ {'event': 'user', 'text': text} }'")
warnings.warn(f"could not featurize {text}")
print("done")
"""


def run_child(tmp_path: Path, mode: str) -> str:
    log_file = tmp_path / f"{mode}.log"
    env = dict(os.environ, PYTHONPATH=str(ROOT), LOG_LEVEL="DEBUG")
    done = subprocess.run(  # noqa: S603 (our own interpreter)
        [sys.executable, "-c", CHILD, str(log_file), VISITOR, mode],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return log_file.read_text(encoding="utf-8") + done.stdout + done.stderr


def test_rasa_logging_set_up_writes_no_visitor_text(tmp_path):
    raw = run_child(tmp_path, "raw")
    assert leaks(raw) == list(TELLTALES)  # without the scrubber, all of it is there
    scrubbed = run_child(tmp_path, "scrub")
    assert leaks(scrubbed) == [], scrubbed[-3000:]
    for technical in ("processor.message.parse", "action_create_ticket", "ClientResponseError",
                      "RuntimeError", "ValueError", "greet"):  # fmt: skip
        assert technical in scrubbed, technical


def test_old_log_files_go_and_kept_logs_lose_old_lines(tmp_path):
    folder = tmp_path / "logs"
    folder.mkdir()
    now = time.time()
    old, recent, mixed = folder / "old.log", folder / "recent.log", folder / "rasa.log"
    old.write_text("2020-01-01 10:00:00 [INFO ]  ancien\n")
    os.utime(old, (now - 30 * 86400, now - 30 * 86400))
    recent.write_text("récent, sans date\n")
    stamp = datetime.fromtimestamp(now - 20 * 86400).strftime("%Y-%m-%d %H:%M:%S")
    today = datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S")
    mixed.write_text(f"{stamp},001 [INFO ]  vieille ligne\nsuite\n{today},002 [INFO ]  du jour\n")
    assert logs.purge_logs(folder, retention_days=14, now=now) == 1
    assert not old.exists() and recent.exists()
    assert mixed.read_text() == f"{today},002 [INFO ]  du jour\n"


def test_purge_all_covers_logs_incidents_and_erase_marks(tmp_path):
    from bot import incidents
    from bot.conversations import SQLiteConversations
    from bot.tickets import TicketStore, purge_all

    settings = Settings(Settings.from_env().values | {"DATA_DIR": str(tmp_path)})
    (tmp_path / "logs").mkdir()
    stale = tmp_path / "logs" / "actions.log"
    stale.write_text("2020-01-01 10:00:00 [INFO ]  ancien\n")
    os.utime(stale, (time.time() - 40 * 86400,) * 2)
    incidents.record("server_restarted", "rasa", settings=settings)
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(settings.tracker_db)) as conn:
        conn.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT,"
                     " type_name TEXT, timestamp REAL, data TEXT)")  # fmt: skip
    SQLiteConversations(settings.tracker_db).delete("gone-visitor")
    later = datetime.now(timezone.utc) + timedelta(days=settings.conversation_retention_days + 1)
    with TicketStore.open(settings) as store:
        counts = purge_all(store, settings, now=later)
    assert counts["logs"] == 1 and counts["incidents"] == 1
    assert not stale.exists()
    assert incidents.recent(since=datetime(2000, 1, 1, tzinfo=timezone.utc),
                            settings=settings) == []  # fmt: skip
    assert not SQLiteConversations(settings.tracker_db).is_erased("gone-visitor")

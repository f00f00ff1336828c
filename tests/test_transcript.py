"""Reading a conversation back from Rasa's tracker store, summing it up for the mediator, and
forgetting old conversations that no ticket holds."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bot.conversations import SQLiteConversations
from bot.transcript import (
    MAX_SUMMARY_CHARS,
    REASON_LABELS,
    build_summary,
    payload_label,
    readable,
    turns_from_events,
)

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=timezone.utc).timestamp()

# The table Rasa's SQLTrackerStore creates.
EVENTS_TABLE = """CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    sender_id TEXT NOT NULL,
    type_name TEXT NOT NULL,
    timestamp REAL,
    intent_name TEXT,
    action_name TEXT,
    data TEXT
)"""


class Tracker:
    """A tracker.db file the test fills with Rasa-shaped events."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = sqlite3.connect(path)
        self.conn.execute(EVENTS_TABLE)

    def add(self, sender: str, type_name: str, at: float, **data: Any) -> None:
        event = {"event": type_name, "timestamp": at, **data}
        intent = (data.get("parse_data") or {}).get("intent", {}).get("name")
        with self.conn:
            self.conn.execute(
                "INSERT INTO events (sender_id, type_name, timestamp, intent_name, action_name,"
                " data) VALUES (?, ?, ?, ?, ?, ?)",
                (sender, type_name, at, intent, data.get("name"), json.dumps(event)),
            )

    def user(self, sender: str, at: float, text: str, intent: str | None = None) -> None:
        parse = {"intent": {"name": intent, "confidence": 0.9}, "entities": []}
        self.add(sender, "user", at, text=text, parse_data=parse, metadata={})

    def bot(
        self,
        sender: str,
        at: float,
        text: str | None,
        buttons: Sequence[str] = (),
        custom: dict | None = None,
    ) -> None:
        payload = {
            "elements": None,
            "quick_replies": None,
            "buttons": [{"title": b, "payload": f"/{b}"} for b in buttons] or None,
            "attachment": None,
            "image": None,
            "custom": custom,
        }
        self.add(sender, "bot", at, text=text, data=payload, metadata={})

    def senders(self) -> set[str]:
        return {s for (s,) in self.conn.execute("SELECT DISTINCT sender_id FROM events")}


@pytest.fixture
def tracker(tmp_path: Path) -> Iterator[Tracker]:
    store = Tracker(tmp_path / "tracker.db")
    with closing(store.conn):
        yield store


def read_transcript(path: Path, sender: str) -> list[dict[str, Any]]:
    return turns_from_events(SQLiteConversations(path).read(sender))


def purge_conversations(path: Path, *, keep: set[str], older_than: datetime) -> int:
    return SQLiteConversations(path).purge(keep=keep, older_than=older_than)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).isoformat(timespec="seconds")


# --- read_transcript ------------------------------------------------------------------------


def test_a_conversation_reads_back_as_visitor_and_bot_turns(tracker: Tracker):
    marker = {"guide": "impots.paiement", "step": 1, "steps": 4}
    tracker.add("moi", "action", T0, name="action_session_start")
    tracker.user("moi", T0 + 1, "je dois payer mes impots", "impots_paiement")
    tracker.add("autre", "user", T0 + 2, text="pas moi", parse_data={})
    tracker.add("moi", "slot", T0 + 3, name="guide_id", value="impots.paiement")
    tracker.bot("moi", T0 + 4, "Étape 1 sur 4", buttons=["Étape suivante", "Je bloque"])
    tracker.bot("moi", T0 + 4, None, custom=marker)
    tracker.user("moi", T0 + 5, "   ", "nlu_fallback")
    tracker.user("moi", T0 + 60, "/je_bloque", "je_bloque")
    tracker.bot("moi", T0 + 61, "Je vous propose un médiateur.")

    assert read_transcript(tracker.path, "moi") == [
        {
            "at": iso(T0 + 1),
            "who": "visitor",
            "text": "je dois payer mes impots",
            "intent": "impots_paiement",
        },
        {
            "at": iso(T0 + 4),
            "who": "bot",
            "text": "Étape 1 sur 4",
            "buttons": ["Étape suivante", "Je bloque"],
            "marker": None,
            "payloads": ["/Étape suivante", "/Je bloque"],
        },
        {"at": iso(T0 + 4), "who": "bot", "text": "", "buttons": [], "marker": marker},
        {"at": iso(T0 + 60), "who": "visitor", "text": "/je_bloque", "intent": "je_bloque"},
        {
            "at": iso(T0 + 61),
            "who": "bot",
            "text": "Je vous propose un médiateur.",
            "buttons": [],
            "marker": None,
        },
    ]
    assert iso(T0 + 1) == "2024-03-04T09:00:01+00:00"


def test_unknown_conversation_or_missing_store_reads_as_empty(tracker: Tracker, tmp_path: Path):
    tracker.user("moi", T0, "bonjour")
    assert read_transcript(tracker.path, "personne") == []
    missing = tmp_path / "absent" / "tracker.db"
    assert read_transcript(missing, "moi") == []
    assert not missing.exists()


def test_a_store_without_events_table_reads_as_empty(tmp_path: Path):
    path = tmp_path / "empty.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE other (x)")
    assert read_transcript(path, "moi") == []


# --- build_summary --------------------------------------------------------------------------


def visitor(text: str) -> dict[str, Any]:
    return {"at": iso(T0), "who": "visitor", "text": text, "intent": None}


def bot(text: str) -> dict[str, Any]:
    return {"at": iso(T0), "who": "bot", "text": text, "buttons": [], "marker": None}


def test_summary_tells_the_guide_step_reason_and_the_visitor_words():
    transcript = [
        visitor("bonjour"),
        bot("Bonjour !"),
        visitor("je veux payer mon impot"),
        visitor("/etape_suivante"),
        visitor("ca marche pas le code"),
        bot("Étape 3 sur 5"),
        visitor("jai pas recu le code par sms"),
    ]
    summary = build_summary(
        reason="stuck",
        guide_title="Payer ses impôts en ligne",
        step=3,
        steps=5,
        visitor_sentence="Je ne reçois pas le code.",
        transcript=transcript,
    )
    assert "Payer ses impôts en ligne" in summary
    assert "étape 3 sur 5" in summary
    assert "bloqué(e) sur une étape" in summary
    assert "« Je ne reçois pas le code. »" in summary
    # The last three things typed, oldest first; clicks and earlier messages left out.
    assert (
        "« je veux payer mon impot » ; « ca marche pas le code » ;"
        " « jai pas recu le code par sms »" in summary
    )
    assert "bonjour" not in summary and "/etape_suivante" not in summary
    assert "\n" not in summary and len(summary) <= MAX_SUMMARY_CHARS


@pytest.mark.parametrize("reason", list(REASON_LABELS))
def test_summary_says_why_the_bot_stopped(reason: str):
    summary = build_summary(reason=reason, transcript=[visitor("carte vitale perdue")])
    assert REASON_LABELS[reason] in summary
    assert "aucun guide" in summary and "« carte vitale perdue »" in summary


def test_reasons_read_in_plain_french():
    assert REASON_LABELS == {
        "asked": "a demandé à parler à une personne",
        "stuck": "bloqué(e) sur une étape",
        "not_understood": "le robot n'a pas compris la demande",
        "not_covered": "démarche sans guide",
    }


def test_long_messages_are_shortened_and_the_summary_stays_short():
    long = "je narrive pas " * 40
    summary = build_summary(
        reason="asked",
        guide_title="Créer son compte France Travail",
        step=2,
        steps=6,
        visitor_sentence="mon identifiant " * 30,
        transcript=[visitor(long + str(n)) for n in range(5)],
    )
    assert len(summary) <= MAX_SUMMARY_CHARS
    quotes = [q.split(" »")[0] for q in summary.split("« ")[1:]]
    assert quotes and all(len(q) <= 200 for q in quotes)
    assert any(q.endswith("…") for q in quotes)
    assert "Créer son compte France Travail" in summary and "étape 2 sur 6" in summary


def test_each_typed_message_is_cut_to_120_characters():
    summary = build_summary(reason="not_understood", transcript=[visitor("a" * 300)])
    quote = summary.split("« ")[1].split(" »")[0]
    assert len(quote) == 120 and quote.endswith("…")


def test_summary_refuses_an_unknown_reason():
    with pytest.raises(ValueError, match="reason"):
        build_summary(reason="tired", transcript=[])


# --- purge_conversations --------------------------------------------------------------------


def test_purge_forgets_old_conversations_that_no_ticket_holds(tracker: Tracker):
    cutoff = datetime.fromtimestamp(T0, tz=timezone.utc)
    old, recent = T0 - 86400 * 40, T0 + 60
    tracker.user("old-no-ticket", old, "bonjour")
    tracker.bot("old-no-ticket", old + 1, "Bonjour !")
    tracker.user("old-with-ticket", old, "je bloque")
    tracker.user("came-back", old, "bonjour")
    tracker.user("came-back", recent, "me revoila")
    tracker.user("recent", recent, "bonjour")

    deleted = purge_conversations(tracker.path, keep={"old-with-ticket"}, older_than=cutoff)

    assert deleted == 1
    assert tracker.senders() == {"old-with-ticket", "came-back", "recent"}
    assert len(read_transcript(tracker.path, "came-back")) == 2
    # Nothing left to do the second time.
    assert purge_conversations(tracker.path, keep={"old-with-ticket"}, older_than=cutoff) == 0
    later = cutoff + timedelta(days=1)
    assert purge_conversations(tracker.path, keep={"old-with-ticket"}, older_than=later) == 2
    assert tracker.senders() == {"old-with-ticket"}


def test_purge_without_a_store_does_nothing(tmp_path: Path):
    now = datetime.now(timezone.utc)
    missing = tmp_path / "tracker.db"
    assert purge_conversations(missing, keep=set(), older_than=now) == 0
    assert not missing.exists()
    bare = tmp_path / "bare.db"
    with closing(sqlite3.connect(bare)) as conn:
        conn.execute("CREATE TABLE other (x)")
    assert purge_conversations(bare, keep=set(), older_than=now) == 0


# --- readable -------------------------------------------------------------------------------


DESK_PAYLOAD = '/choose_contact{"contact_preference": "desk"}'


def test_button_presses_read_as_the_labels_the_visitor_saw(tracker: Tracker):
    tracker.add(
        "moi",
        "bot",
        T0,
        text="Comment voulez-vous que le médiateur vous aide ?",
        data={"buttons": [
            {"title": "À l'accueil, maintenant", "payload": DESK_PAYLOAD},
            {"title": "Annuler", "payload": "/stop_guide"},
        ]},
    )  # fmt: skip
    # Rasa may hand the payload back with other spacing inside its JSON.
    tracker.user("moi", T0 + 1, '/choose_contact{"contact_preference":"desk"}', "choose_contact")
    tracker.user("moi", T0 + 2, "je tape /next_step dans le texte", "next_step")
    turns = readable(read_transcript(tracker.path, "moi"))
    assert turns[0]["payloads"][0].startswith("/choose_contact")
    assert turns[1]["text"] == "À l'accueil, maintenant" and turns[1]["pressed"] is True
    # Typed text that merely contains a slash is the visitor's own.
    assert turns[2]["text"] == "je tape /next_step dans le texte" and "pressed" not in turns[2]


def test_tickets_stored_before_payloads_were_kept_read_well_too():
    old: list[dict[str, Any]] = [
        {"at": None, "who": "visitor", "text": "/impots.paiement"},
        {"at": None, "who": "bot", "text": "Étape 1", "buttons": ["Étape suivante"]},
        {"at": None, "who": "visitor", "text": "/next_step"},
        {"at": None, "who": "visitor", "text": '/choose_contact{"contact_preference": "phone"}'},
        {"at": None, "who": "visitor", "text": "/menu_impots"},
        {"at": None, "who": "visitor", "text": "/retired.guide_name"},
        {"at": None, "who": "visitor", "text": "/something_new"},
        {"at": None, "who": "visitor", "text": "/affirm"},
    ]
    titles = {"impots.paiement": "Payer ses impôts", "impots": "Impôts"}
    shown = [t["text"] for t in readable(old, titles)]
    assert shown == [
        "Payer ses impôts",
        "Étape 1",
        "Étape suivante",
        "Être rappelé par téléphone",
        "Autre : Impôts",
        "Démarche : guide name",
        "Un bouton",
        "Oui",
    ]
    assert not any(text.startswith("/") for text in shown)
    assert old[2]["text"] == "/next_step"  # the stored turns are left as they were


@pytest.mark.parametrize(
    "payload, label",
    [
        ("/ask_human", "Parler à un médiateur"),
        ("/help", "Voir les démarches"),
        ("/deny", "Non"),
        ("/stop_guide", "Arrêter"),
        ("/choose_contact", "Choix du contact"),
        ('/choose_contact{"contact_preference": "email"}', "Recevoir une réponse par e-mail"),
        ("bonjour", None),
    ],
)
def test_known_payloads_have_french_labels(payload: str, label: str | None):
    assert payload_label(payload) == label

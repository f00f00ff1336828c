"""One settings object read from the environment.

Every setting is declared once in `SETTINGS` with its default and a line of help;
README documents each of them (a test fails when one is missing there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("DATA_DIR", "var", "Folder for all runtime data (tracker store, tickets, logs)."),
    Setting("HOST", "127.0.0.1", "Address the servers listen on."),
    Setting("BOT_PORT", "5005", "Port of the Rasa server (REST and socket.io channels)."),
    Setting("ACTIONS_PORT", "5055", "Port of the Rasa action server."),
    Setting("WEB_PORT", "8000", "Port of the web app (kiosk, widget, mediators' console)."),
    Setting("KNOWLEDGE_DIR", "knowledge", "Folder of the guide files."),
    Setting("SHARED_DIR", "../shared", "Shared material: contract, domain facts, eval sets."),
    Setting("MAX_MESSAGE_CHARS", "1000", "Longer visitor messages are cut to this length."),
    Setting("MODEL_DIR", "models", "Folder of trained Rasa models."),
    Setting("LOG_LEVEL", "INFO", "Log level of the servers started by `make run`."),
    Setting("TICKET_RETENTION_DAYS", "90", "Closed tickets are deleted after this many days."),
    Setting(
        "CONVERSATION_RETENTION_DAYS",
        "30",
        "Conversations without a ticket are deleted after this many days.",
    ),
    Setting("ORG_NAME", "Espace numérique de la médiathèque", "Name of the organisation."),
    Setting("ORG_ADDRESS", "1 place de la Mairie", "Postal address of the organisation."),
    Setting(
        "ORG_HOURS",
        "du mardi au samedi, de 10 h à 12 h et de 14 h à 18 h",
        "Opening hours of the help desk, as visitors read them.",
    ),
    Setting(
        "ORG_OPENING",
        "mar-sam 10:00-12:00 14:00-18:00",
        "The same hours for the bot to know when the desk is open (days, then time ranges).",
    ),
    Setting("ORG_PHONE", "01 23 45 67 89", "Phone number of the help desk."),
    Setting("ORG_DESK", "l'accueil, au rez-de-chaussée", "Where the mediator's desk is."),
    Setting(
        "WIDGET_ORIGINS",
        "http://127.0.0.1:8000,http://localhost:8000",
        "Web origins allowed to embed the widget (comma-separated).",
    ),
    Setting("IDLE_SECONDS", "180", "Kiosk: seconds without interaction before the idle warning."),
    Setting("IDLE_COUNTDOWN_SECONDS", "30", "Kiosk: seconds of countdown before the wipe."),
    Setting(
        "WIPE_AFTER_TICKET_SECONDS",
        "60",
        "Kiosk: seconds without interaction before the wipe once a ticket was created.",
    ),
    Setting(
        "HANDOFFS_PER_CONVERSATION",
        "3",
        "Most tickets one conversation may create; more get a French answer instead.",
    ),
    Setting(
        "HANDOFFS_PER_MINUTE",
        "20",
        "Most tickets created in one minute across all visitors (flood limit).",
    ),
    Setting(
        "SECURE_COOKIES",
        "false",
        "Send the console's session cookie only over HTTPS (true behind an HTTPS proxy).",
    ),
    Setting(
        "RESTART_LIMIT",
        "5",
        "`make run`: restarts of one server within 10 minutes before it is left stopped.",
    ),
    Setting("LOG_RETENTION_DAYS", "14", "Log files older than this many days are deleted."),
    Setting(
        "KIOSK_NAME",
        "Borne",
        "Kiosk: its name on tickets and console alerts, unless the page says `?kiosk=`.",
    ),
    Setting("TTS_VOICE", "fr", "espeak-ng voice for « Lire à voix haute » (no browser voice)."),
    Setting("TTS_SPEED", "140", "espeak-ng reading speed, in words per minute."),
    Setting(
        "WORKSHOP_RETENTION_DAYS",
        "30",
        "Workshop bookings (names, contacts) are deleted this many days after the session.",
    ),
    Setting(
        "PUBLIC_BASE_URL",
        "auto",
        "Address visitors' phones reach the web app at (QR codes, agenda); auto: the page's.",
    ),
    Setting(
        "CONSOLE_ALERT_SECONDS",
        "3",
        "Console: how often the open console checks for new tickets (seconds).",
    ),
    Setting(
        "DATABASE_URL",
        "sqlite",
        "Where the stores live: sqlite (one file each in DATA_DIR) or a postgresql:// URL.",
    ),
    Setting(
        "REDIS_URL",
        "none",
        "none, or a redis:// URL: Rasa's lock store and the conversations then live in Redis.",
    ),
    Setting(
        "CONVERSATION_EXPIRY_MINUTES",
        "1440",
        "With Redis: a conversation is forgotten this many minutes after its last turn.",
    ),
    Setting(
        "RASA_PROCESSES",
        "auto",
        "make run-scaled: Rasa processes (each with its action server); auto: one per core.",
    ),
    Setting(
        "WEB_PROCESSES",
        "2",
        "make run-scaled: copies of the web app behind HAProxy.",
    ),
)

_DEFAULTS = {s.name: s.default for s in SETTINGS}


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else (ROOT / p).resolve()


@dataclass(frozen=True)
class Settings:
    """Values of `SETTINGS`, typed. Build with `Settings.from_env()`."""

    values: dict[str, str] = field(default_factory=lambda: dict(_DEFAULTS))

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls({s.name: env.get(s.name, s.default) for s in SETTINGS})

    def raw(self, name: str) -> str:
        return self.values[name]

    def _int(self, name: str) -> int:
        try:
            return int(self.values[name])
        except ValueError as exc:
            raise ValueError(f"{name} must be a whole number, got {self.values[name]!r}") from exc

    @property
    def data_dir(self) -> Path:
        return _resolve(self.values["DATA_DIR"])

    @property
    def knowledge_dir(self) -> Path:
        return _resolve(self.values["KNOWLEDGE_DIR"])

    @property
    def shared_dir(self) -> Path:
        return _resolve(self.values["SHARED_DIR"])

    @property
    def model_dir(self) -> Path:
        return _resolve(self.values["MODEL_DIR"])

    @property
    def host(self) -> str:
        return self.values["HOST"]

    @property
    def bot_port(self) -> int:
        return self._int("BOT_PORT")

    @property
    def actions_port(self) -> int:
        return self._int("ACTIONS_PORT")

    @property
    def web_port(self) -> int:
        return self._int("WEB_PORT")

    @property
    def max_message_chars(self) -> int:
        return self._int("MAX_MESSAGE_CHARS")

    @property
    def log_level(self) -> str:
        return self.values["LOG_LEVEL"]

    @property
    def ticket_retention_days(self) -> int:
        return self._int("TICKET_RETENTION_DAYS")

    @property
    def conversation_retention_days(self) -> int:
        return self._int("CONVERSATION_RETENTION_DAYS")

    @property
    def widget_origins(self) -> list[str]:
        return [
            o.strip().rstrip("/") for o in self.values["WIDGET_ORIGINS"].split(",") if o.strip()
        ]

    @property
    def idle_seconds(self) -> int:
        return self._int("IDLE_SECONDS")

    @property
    def idle_countdown_seconds(self) -> int:
        return self._int("IDLE_COUNTDOWN_SECONDS")

    @property
    def wipe_after_ticket_seconds(self) -> int:
        return self._int("WIPE_AFTER_TICKET_SECONDS")

    @property
    def handoffs_per_conversation(self) -> int:
        return self._int("HANDOFFS_PER_CONVERSATION")

    @property
    def handoffs_per_minute(self) -> int:
        return self._int("HANDOFFS_PER_MINUTE")

    @property
    def secure_cookies(self) -> bool:
        return self.values["SECURE_COOKIES"].strip().lower() in ("1", "true", "yes", "oui", "on")

    @property
    def restart_limit(self) -> int:
        return self._int("RESTART_LIMIT")

    @property
    def log_retention_days(self) -> int:
        return self._int("LOG_RETENTION_DAYS")

    @property
    def org_opening(self) -> str:
        return self.values["ORG_OPENING"]

    @property
    def kiosk_name(self) -> str:
        return self.values["KIOSK_NAME"].strip() or "Borne"

    @property
    def tts_voice(self) -> str:
        return self.values["TTS_VOICE"].strip() or "fr"

    @property
    def tts_speed(self) -> int:
        return self._int("TTS_SPEED")

    @property
    def console_alert_seconds(self) -> int:
        return self._int("CONSOLE_ALERT_SECONDS")

    @property
    def workshop_retention_days(self) -> int:
        return self._int("WORKSHOP_RETENTION_DAYS")

    @property
    def public_base_url(self) -> str:
        """ "" when `auto`: use the address the page was opened with."""
        value = self.values["PUBLIC_BASE_URL"].strip().rstrip("/")
        return "" if value.lower() in ("", "auto") else value

    @property
    def database_url(self) -> str:
        """ "" for the embedded default (one SQLite file per store), else a postgresql:// URL."""
        value = self.values["DATABASE_URL"].strip()
        if value.lower() in ("", "sqlite"):
            return ""
        if not value.startswith(("postgresql://", "postgresql+psycopg2://", "postgres://")):
            raise ValueError(f"DATABASE_URL must be sqlite or a postgresql:// URL, got {value!r}")
        return value

    @property
    def redis_url(self) -> str:
        """ "" when no Redis is used (in-memory lock store, conversations in SQLite)."""
        value = self.values["REDIS_URL"].strip()
        if value.lower() in ("", "none"):
            return ""
        if not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(f"REDIS_URL must be none or a redis:// URL, got {value!r}")
        return value

    @property
    def conversation_expiry_minutes(self) -> int:
        return self._int("CONVERSATION_EXPIRY_MINUTES")

    @property
    def rasa_processes(self) -> int:
        value = self.values["RASA_PROCESSES"].strip().lower()
        return (
            max(1, os.cpu_count() or 1)
            if value in ("", "auto")
            else max(1, self._int("RASA_PROCESSES"))
        )

    @property
    def web_processes(self) -> int:
        return max(1, self._int("WEB_PROCESSES"))

    @property
    def workshops_db(self) -> Path:
        return self.data_dir / "workshops.db"

    @property
    def tickets_db(self) -> Path:
        return self.data_dir / "tickets.db"

    @property
    def tracker_db(self) -> Path:
        return self.data_dir / "tracker.db"


def get_settings() -> Settings:
    """Settings as the environment gives them now (cheap; read on each call)."""
    return Settings.from_env()

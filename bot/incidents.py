"""What went wrong, for the mediators: a small append-only log of incidents.

When a ticket cannot be written (database locked, read-only, disk error) or a hand-off is
refused by a limit, the visitor is told in French; this log is how the mediators' console
learns that it happened. It lives in its own file (`DATA_DIR/incidents.jsonl`), apart
from `tickets.db`, so that a broken ticket database can still be reported. An incident
never holds what a visitor typed: only a kind, a time and a short technical detail.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bot.settings import Settings, get_settings

FILE_NAME = "incidents.jsonl"
MAX_DETAIL_CHARS = 200
# The console reads at most this much of the file's end: enough for weeks of incidents.
_TAIL_BYTES = 256 * 1024

KINDS: dict[str, str] = {
    "ticket_write_failed": "Un ticket n'a pas pu être enregistré",
    "handoff_limit_conversation": "Demande refusée : trop de demandes dans une conversation",
    "handoff_flood": "Demande refusée : trop de demandes en une minute",
    "server_restarted": "Un serveur s'est arrêté et a été redémarré",
}

_lock = threading.Lock()
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Incident:
    at: datetime  # aware, UTC
    kind: str
    detail: str

    @property
    def label(self) -> str:
        return KINDS.get(self.kind, self.kind)


def _path(settings: Settings) -> Path:
    return settings.data_dir / FILE_NAME


def record(kind: str, detail: str = "", *, settings: Settings | None = None) -> None:
    """Append one incident. Never raises: reporting a failure must not cause another."""
    settings = settings or get_settings()
    line = json.dumps(
        {
            "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "kind": kind,
            "detail": detail[:MAX_DETAIL_CHARS],
        },
        ensure_ascii=False,
    )
    log.warning("incident %s: %s", kind, detail[:MAX_DETAIL_CHARS])
    try:
        path = _path(settings)
        path.parent.mkdir(parents=True, exist_ok=True)
        with _lock:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
    except OSError:
        log.exception("could not record the incident %s", kind)


def recent(
    *, since: datetime | None = None, limit: int = 50, settings: Settings | None = None
) -> list[Incident]:
    """The latest incidents, newest first; those before `since` are left out."""
    settings = settings or get_settings()
    path = _path(settings)
    try:
        with path.open("rb") as fh:
            fh.seek(max(0, path.stat().st_size - _TAIL_BYTES))
            raw = fh.read().decode("utf-8", errors="replace")
    except OSError:  # no incident yet, or DATA_DIR unreadable: nothing to show
        return []
    found: list[Incident] = []
    for line in reversed(raw.splitlines()):
        try:
            data = json.loads(line)
            at = datetime.fromisoformat(data["at"])
        except (ValueError, KeyError, TypeError):
            continue  # a line cut by the tail read, or damaged
        if since is not None and at < since:
            break
        found.append(Incident(at, str(data.get("kind", "")), str(data.get("detail", ""))))
        if len(found) >= limit:
            break
    return found


def count(kind: str, *, within: timedelta, settings: Settings | None = None) -> int:
    """How many incidents of `kind` happened in the last `within`."""
    since = datetime.now(timezone.utc) - within
    return sum(1 for i in recent(since=since, limit=10_000, settings=settings) if i.kind == kind)


def purge(*, older_than: datetime, settings: Settings | None = None) -> int:
    """Drop incidents older than `older_than`; returns how many were dropped."""
    settings = settings or get_settings()
    path = _path(settings)
    with _lock:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return 0
        kept = []
        for line in lines:
            try:
                if datetime.fromisoformat(json.loads(line)["at"]) >= older_than:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                continue
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(line + "\n" for line in kept))
        os.replace(tmp, path)
    return len(lines) - len(kept)

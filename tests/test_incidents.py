"""The incident log: appended, read newest first, counted, purged, private."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone

from bot import incidents
from bot.settings import Settings


def settings_in(tmp_path) -> Settings:
    return Settings({**Settings.from_env({}).values, "DATA_DIR": str(tmp_path)})


def test_recorded_incidents_are_read_newest_first(tmp_path):
    settings = settings_in(tmp_path)
    assert incidents.recent(settings=settings) == []
    incidents.record("ticket_write_failed", "database is locked", settings=settings)
    incidents.record("handoff_flood", "21 in one minute", settings=settings)
    found = incidents.recent(settings=settings)
    assert [i.kind for i in found] == ["handoff_flood", "ticket_write_failed"]
    assert found[1].detail == "database is locked"
    assert found[1].label == "Un ticket n'a pas pu être enregistré"
    assert incidents.count("handoff_flood", within=timedelta(minutes=5), settings=settings) == 1
    mode = stat.S_IMODE((tmp_path / incidents.FILE_NAME).stat().st_mode)
    assert mode == 0o600


def test_details_are_cut_and_damaged_lines_skipped(tmp_path):
    settings = settings_in(tmp_path)
    incidents.record("ticket_write_failed", "x" * 1000, settings=settings)
    with (tmp_path / incidents.FILE_NAME).open("a") as fh:
        fh.write("{not json\n")
    found = incidents.recent(settings=settings)
    assert len(found) == 1 and len(found[0].detail) == incidents.MAX_DETAIL_CHARS


def test_purge_keeps_only_recent_incidents(tmp_path):
    settings = settings_in(tmp_path)
    path = tmp_path / incidents.FILE_NAME
    old = (datetime.now(timezone.utc) - timedelta(days=40)).isoformat(timespec="seconds")
    path.write_text(f'{{"at": "{old}", "kind": "handoff_flood", "detail": ""}}\n')
    incidents.record("ticket_write_failed", "", settings=settings)
    dropped = incidents.purge(
        older_than=datetime.now(timezone.utc) - timedelta(days=30), settings=settings
    )
    assert dropped == 1
    assert [i.kind for i in incidents.recent(settings=settings)] == ["ticket_write_failed"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_record_that_cannot_be_written_does_not_raise(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    settings = Settings({**Settings.from_env({}).values, "DATA_DIR": str(blocked)})
    incidents.record("ticket_write_failed", "disk error", settings=settings)
    assert incidents.recent(settings=settings) == []

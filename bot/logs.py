"""Logs never hold what a visitor typed.

Rasa, rasa_sdk, Sanic and uvicorn write what they see: Rasa's debug lines carry each
message's text and slot values, a failing action makes Rasa log the action server's answer,
which holds the whole tracker, and an exception's message may quote a visitor's sentence.
`install()` puts a scrubber on every log record the process creates, whatever handler
writes it (Rasa adds its own after start-up): the record's message is rendered once, and
the parts that can carry visitor text are replaced by `[masqué]`, keeping what an operator
needs to understand an incident: ids, action and intent names, error types, file and line.

What is replaced:
- in structured lines (Rasa's structlog, rendered as JSON or as `key=value`): every string
  value under a key that is not a known technical one (`text`, `parse_data_text`,
  `slot_values`, `rasa_events`, `value`…), at any depth;
- in free text: `{…}` and `[…]` blocks that are not small technical structures, quoted
  strings that are not single identifiers, `body='…'` of an HTTP error, the fields of
  Rasa's event representations (`UserUttered(text: …)`, `SlotSet(key: x, value: …)`);
- tracebacks: exception messages, as free text; file, line and function lines are kept;
- then, as a last resort, every secret and contact detail the privacy guard finds.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.settings import Settings

MASK = "[masqué]"

# Keys whose value is technical (names, ids, numbers), kept when it has that shape.
SAFE_KEYS = frozenset(
    {
        "event", "event_key", "log_level", "level", "logger", "timestamp", "name", "intent",
        "intent_name", "action", "action_name", "action_extract_slot", "policy",
        "policy_name", "confidence", "sender_id", "conversation_id", "model_id", "model",
        "exc_type", "filename", "lineno", "line", "frames", "exception", "status",
        "status_code", "len_extraction_events", "is_end_to_end_prediction",
        "is_no_user_prediction", "key", "slot_name", "type", "input_channel", "channel",
        "method", "url", "path", "host", "port", "duration", "elapsed", "count",
        "parse_data_intent", "intent_ranking", "active_loop", "predicted_action",
        "action_name_predicted", "code", "error_type", "entity_type", "func_name",
    }
)  # fmt: skip
# Keys whose value is a sentence written by a program (event_info, an exception's value):
# scrubbed as free text rather than dropped.
PROSE_KEYS = frozenset({"event_info"})
# Keys holding Rasa events rendered by their repr (`UserUttered(text: …, intent: …)`).
EVENT_KEYS = frozenset({"rasa_events", "prediction_events", "events"})
# Keys holding an exception's message.
EXCEPTION_KEYS = frozenset({"exc_value", "error"})
# One identifier, number or path: what a technical value looks like (no spaces).
_TECHNICAL = re.compile(r"^[\w.:/@\-+<>]{0,120}$")

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BODY = re.compile(r"\b(body|request_body|text|message|user_message|json)=(?:b?'.*|b?\".*)$",
                   re.IGNORECASE | re.MULTILINE)  # fmt: skip
# A quote opens after a non-word character and a single one closes before one, so that
# French apostrophes (« l'accueil », « je n'ai pas ») neither open nor close a quote.
_QUOTED = re.compile(r"""(?<!\w)(b?)('(?:\\.|[^\\\n])*?'(?!\w)|"(?:\\.|[^"\\\n])*"|«[^»\n]*»)""")
# Rasa's own event reprs: keep the event type and the technical fields only.
# (a field runs to the next technical field, or to the end of the line when none follows).
_EVENT_FIELD = re.compile(
    r"\b(text|value|data|metadata|entities|action_text|message|user_message):\s"
    r".*?(?=,\s(?:intent|policy|confidence|key|name|action|trigger_date):|\)?$)"
)
_CONSOLE_LINE = re.compile(
    r"^(?P<level>(?:\S+ \S+ )?\[\s*\w+\s*\] )(?P<head>[^=]*?)(?P<rest>\s+[a-z_][a-z0-9_]*=.*)$"
)
_PAIR_SPLIT = re.compile(r"\s+(?=[a-z_][a-z0-9_]{0,40}=)")
_FRAME_LINE = re.compile(r'^\s+File "[^"\n]*", line \d+, in [\w<>.]+$')
_TRACEBACK_MARKERS = (
    "Traceback (most recent call last):",
    "The above exception was the direct cause of the following exception:",
    "During handling of the above exception, another exception occurred:",
)
_EXCEPTION_LINE = re.compile(
    r"^(?P<type>(?:\S+:\d+: )?[A-Za-z_][\w.]*(?:Error|Exception|Rejection|Exit|Interrupt|Warning"
    r"|Failure|Timeout|Cancelled\w*)):\s?(?P<msg>.*)$"
)
# An exception's message is free text that code may have built from what a visitor typed
# (`ValueError(f"bad contact {text}")`): it is kept only when it is one of these known
# technical messages, once quoted non-identifiers and bodies are masked.
KNOWN_ERRORS = re.compile(
    r"^(?:"
    r"database is locked|database table is locked|attempt to write a readonly database"
    r"|disk I/O error|unable to open database file|database or disk is full"
    r"|database disk image is malformed|no such (?:table|column): [\w.]+"
    r"|\[Errno -?\d+\] [A-Za-z ,.'/:-]*(?:: '[^']*')?"
    r"|\d{3}, [A-Za-z ]+(?:, body=\[masqué\])?"
    r"|Failed to (?:execute|run) custom action '[\w.]+'[^«»\"]*"
    r"|Custom action '[\w.]+' rejected to run"
    r"|Cannot connect to host [\w.:\[\]-]+ ssl:\w+ \[[A-Za-z ]+\]"
    r"|Connection refused|Connection reset by peer|Server disconnected|timed out|"
    r"|[\w.]+ object has no attribute '[\w.]+'|'[\w.]+' object has no attribute '[\w.]+'"
    r"|No module named '[\w.]+'|name '\w+' is not defined"
    r")\.?$"
)
MAX_STRUCTURE_CHARS = 20_000


# ---------------------------------------------------------------- structured values


def _scrub_value(key: str | None, value: Any) -> Any:
    """A JSON-like value with every string that may be a visitor's replaced."""
    if isinstance(value, dict):
        return {k: _scrub_value(str(k), v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        inner = key if key in SAFE_KEYS or key in EVENT_KEYS else None
        return [_scrub_value(inner, v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    if key in SAFE_KEYS and _TECHNICAL.match(text):
        return text
    if key in PROSE_KEYS or key in EVENT_KEYS or (key in SAFE_KEYS and key in ("event", "line")):
        return scrub_text(text, structured=False)
    if key in EXCEPTION_KEYS:
        return _exception_message(text)
    return MASK


def _scrub_json(text: str) -> str | None:
    """A JSON object or list rendered again with visitor text masked, or None if not JSON."""
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, (dict, list)):
        return None
    return json.dumps(_scrub_value(None, data), ensure_ascii=False)


def _scrub_literal(text: str) -> str | None:
    """The same for a Python literal ({'name': 'greet', …}), or None if it is not one."""
    if len(text) > MAX_STRUCTURE_CHARS:
        return None
    try:
        data = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    if not isinstance(data, (dict, list, tuple)):
        return None
    return repr(_scrub_value(None, data))


def _console_pair(pair: str) -> str:
    key, _, value = pair.partition("=")
    if key in SAFE_KEYS and _TECHNICAL.match(value):
        return pair
    if value[:1] in "{[(":
        rendered = _scrub_literal(value) or _scrub_json(value)
        if rendered is not None:
            return f"{key}={rendered}"
    if key in PROSE_KEYS or key == "event":
        return f"{key}={scrub_text(value, structured=False)}"
    return f"{key}={MASK}"


def _scrub_console(line: str) -> str | None:
    """structlog's console rendering: `2024-01-01 00:00:00 [debug] event  key=value …`."""
    match = _CONSOLE_LINE.match(line)
    if match is None:
        return None
    pairs = [p for p in _PAIR_SPLIT.split(match.group("rest").strip()) if p]
    head = match.group("level") + _scrub_free(match.group("head"))
    return head + " " + " ".join(_console_pair(p) for p in pairs)


# ---------------------------------------------------------------- free text


def _blocks(text: str) -> list[tuple[int, int]]:
    """Outermost `{…}` and `[…]` blocks; an unclosed one runs to the end of the text."""
    found, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "{[":
            if depth == 0:
                start = index
            depth += 1
        elif char in "}]" and depth:
            depth -= 1
            if depth == 0:
                found.append((start, index + 1))
    if depth:
        found.append((start, len(text)))
    return found


def _scrub_block(block: str) -> str:
    if block in ("[]", "{}", MASK):
        return block
    rendered = _scrub_json(block) or _scrub_literal(block)
    if rendered is not None:
        return rendered
    return block[0] + MASK + ("]" if block[0] == "[" else "}")


def _quoted(match: re.Match[str]) -> str:
    prefix, quoted = match.group(1), match.group(2)
    inner = quoted[1:-1].strip()
    if _TECHNICAL.match(inner) and not prefix:
        return match.group(0)
    opening, closing = ("« ", " »") if quoted.startswith("«") else (quoted[0], quoted[-1])
    return f"{opening}{MASK}{closing}"


def scrub_text(text: str, *, structured: bool = True) -> str:
    """One log message or traceback with every part that may hold visitor text replaced."""
    text = _ANSI.sub("", text)
    stripped = text.strip()
    if structured and stripped[:1] in "{[":
        rendered = _scrub_json(stripped)
        if rendered is not None:
            return rendered
    out: list[str] = []
    # After a `key=value` line, a line that does not start a traceback is the rest of a
    # multi-line value, which may be anything a visitor typed.
    # After an exception's line, the lines up to the next blank one or frame are the rest
    # of its message.
    continuation = traceback = message = False
    for line in text.split("\n"):
        if line.strip() in _TRACEBACK_MARKERS:
            traceback, continuation, message = True, False, False
            out.append(line)
            continue
        if not line.strip() or _FRAME_LINE.match(line):
            message = False
        elif message:
            out.append(MASK)
            continue
        if _EXCEPTION_LINE.match(line):
            message = True
        if structured and not traceback:
            console = _scrub_console(line)
            if console is not None:
                continuation = True
                out.append(console)
                continue
            if continuation:
                out.append(MASK)
                continue
        out.append(_scrub_line(line))
    return _last_resort("\n".join(out))


def _scrub_line(line: str) -> str:
    if not line.strip() or _FRAME_LINE.match(line):
        return line
    exception = _EXCEPTION_LINE.match(line)
    if exception:
        return f"{exception.group('type')}: {_exception_message(exception.group('msg'))}".rstrip()
    return _scrub_free(line)


def _exception_message(message: str) -> str:
    scrubbed = _scrub_free(message)
    return scrubbed if KNOWN_ERRORS.match(scrubbed.strip()) else MASK


def _scrub_free(line: str) -> str:
    line = _BODY.sub(lambda m: f"{m.group(1)}={MASK}", line)
    line = _EVENT_FIELD.sub(lambda m: f"{m.group(1)}: {MASK}", line)
    pieces, last = [], 0
    for start, end in _blocks(line):
        pieces.append(_QUOTED.sub(_quoted, line[last:start]))
        pieces.append(_scrub_block(line[start:end]))
        last = end
    pieces.append(_QUOTED.sub(_quoted, line[last:]))
    return "".join(pieces)


# Technical tokens the privacy guard must not take for secrets (it catches passwords by
# their shape): code names (`action_listen`, `processor.message.parse`), ids, URLs, error
# types, confidences, the masks already in place, whole traceback frame lines.
_PROTECTED = re.compile(
    r"""^\s+File "[^"\n]*", line \d+, in [\w<>.]+$"""
    r"|\[[^\[\]\n]{0,40}masqué\]"
    r"|\[\s*(?:debug|info|warning|error|critical|exception)\s*\]"
    r"|https?://[^\s'\"<>]+|(?<![\w/])(?:/[\w.\-]+){2,}(?::\d+:?)?"
    r"|(?<![\w@])(?:[a-z][a-z0-9]*_[a-z0-9_]*|body|text|message|json)="
    r"|'[a-z][a-z0-9_]*':|\"[a-z][a-z0-9_]*\":"
    r"|(?<![@\w.\-])(?:[a-z][a-z0-9]*(?:[._][A-Za-z0-9]+)+|[A-Za-z]*(?:Error|Exception)"
    r"|[A-Z][A-Za-z0-9]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+"
    r"|[0-9a-f]{8,}(?:-[0-9a-f]+)*|0\.\d+|1\.0+)(?![@\w\-])",
    re.MULTILINE,
)
_SLOT = "qqguichetslot{}qq"
_SLOT_RE = re.compile(r"qqguichetslot([a-j]+)qq")


def _last_resort(text: str) -> str:
    """Whatever the rules above let through: secrets and contact details, masked."""
    from bot.contacts import find_contacts
    from bot.privacy import redact

    kept: list[str] = []

    def slot(original: str) -> str:
        kept.append(original)
        # Letters only: a word the privacy guard reads as ordinary text.
        return _SLOT.format("".join("abcdefghij"[int(d)] for d in str(len(kept) - 1)))

    def show(match: re.Match[str]) -> str:
        index = int("".join(str("abcdefghij".index(c)) for c in match.group(1)))
        return kept[index] if index < len(kept) else MASK

    def restore(part: str) -> str:
        return _SLOT_RE.sub(show, part)

    def hide_token(match: re.Match[str]) -> str:
        # A token made only of protected parts and punctuation (`key='action_listen',`):
        # hidden whole, so that the guard does not read the punctuation as a secret's.
        token = match.group(0)
        if _SLOT_RE.search(token) and not re.search(r"[^\W_]", _SLOT_RE.sub("", token)):
            return slot(restore(token))
        return token

    hidden = _PROTECTED.sub(lambda m: slot(m.group(0)), text)
    hidden = re.sub(r"\S+", hide_token, hidden)
    return restore(find_contacts(redact(hidden).text)[0])


# ---------------------------------------------------------------- records


def scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    """Render the record's message and traceback once, scrubbed; never raises."""
    try:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # Its formatter unpacks the arguments (client, method, path, version, status).
            record.args = tuple(scrub_text(a) if isinstance(a, str) else a for a in record.args)
            return record
        record.msg = scrub_text(record.getMessage())
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = scrub_text(text, structured=False)
            # Handlers that read the exception itself (not exc_text) get nothing to dump.
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub_text(record.exc_text, structured=False)
    except Exception:  # noqa: BLE001 (a log line must never break the server)
        record.msg = f"[message de journal masqué : {type(record.msg).__name__}]"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return record


_install_lock = threading.Lock()
_installed: Callable[..., logging.LogRecord] | None = None


def install() -> None:
    """Scrub every log record this process creates from now on. Idempotent; call it first
    thing in a server's entry point, before the framework configures its handlers."""
    global _installed
    with _install_lock:
        if _installed is not None and logging.getLogRecordFactory() is _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return scrub_record(previous(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _installed = factory
    # Warnings become records too, instead of raw text on stderr.
    logging.captureWarnings(True)


def installed() -> bool:
    return _installed is not None and logging.getLogRecordFactory() is _installed


# ---------------------------------------------------------------- retention


def purge_logs(logs_dir: Path, *, retention_days: int, now: float | None = None) -> int:
    """Delete log files not written to for `retention_days`, and empty those that are still
    in use but hold older lines (a server's log is one file appended to for as long as it
    runs): a kept log never reaches back further than the retention. Returns files deleted."""
    logs_dir = Path(logs_dir)
    if not logs_dir.is_dir():
        return 0
    now = time.time() if now is None else now
    limit = now - retention_days * 86400
    deleted = 0
    for path in sorted(logs_dir.rglob("*")):
        if not path.is_file():
            continue
        stat = path.stat()
        if stat.st_mtime < limit:
            path.unlink(missing_ok=True)
            deleted += 1
        elif _oldest_line_before(path, limit):
            _trim(path, limit)
    return deleted


_STAMP = re.compile(rb"^(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})")


def _stamp(line: bytes) -> float | None:
    match = _STAMP.match(line)
    if match is None:
        return None
    try:
        moment = datetime.fromisoformat(match.group(1).decode().replace("T", " "))
    except ValueError:
        return None
    return moment.replace(tzinfo=timezone.utc).timestamp() if moment.tzinfo is None else (
        moment.timestamp())  # fmt: skip


def _oldest_line_before(path: Path, limit: float) -> bool:
    with path.open("rb") as fh:
        for line in fh:
            stamp = _stamp(line)
            if stamp is not None:
                # Log times are local; a day's margin covers any time zone.
                return stamp < limit - timedelta(days=1).total_seconds()
    return False


def _trim(path: Path, limit: float) -> None:
    """Keep only the lines from the first one dated within the retention, in place (the
    server keeps appending to the same open file)."""
    cutoff = limit - timedelta(days=1).total_seconds()
    with path.open("r+b") as fh:
        content = fh.read()
        offset, keep_from = 0, len(content)
        for line in content.splitlines(keepends=True):
            stamp = _stamp(line)
            if stamp is not None and stamp >= cutoff:
                keep_from = offset
                break
            offset += len(line)
        kept = content[keep_from:]
        fh.seek(0)
        fh.write(kept)
        fh.truncate()


def purge_files(settings: Settings, now: datetime | None = None) -> dict[str, int]:
    """The retention rules for what lives under DATA_DIR beside the databases: log files
    (LOG_RETENTION_DAYS) and the incident log (CONVERSATION_RETENTION_DAYS). The tracker
    store (conversations, erase marks) and tickets.db have their own purge."""
    from bot import incidents

    now = now or datetime.now(timezone.utc)
    logs = purge_logs(
        settings.data_dir / "logs",
        retention_days=settings.log_retention_days,
        now=now.timestamp(),
    )
    dropped = incidents.purge(
        older_than=now - timedelta(days=settings.conversation_retention_days), settings=settings
    )
    return {"logs": logs, "incidents": dropped}

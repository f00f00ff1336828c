"""Mediator accounts for the console, kept in `DATA_DIR/accounts.db` (or, with
`DATABASE_URL`, in the `accounts` schema of that PostgreSQL database, shared by every copy
of the web app: a session opened on one copy is seen, and ended, on all of them).

`AccountStore` is the only code that writes to that database: it creates accounts with a
scrypt password hash, checks logins, slows down repeated failures, and keeps the console's
sessions (server-side, so that logout, a new password or a removed account ends them at
once). `python -m bot.accounts`
adds, lists and removes accounts and changes passwords from the command line; a password is
never given on the command line (asked twice, or read from standard input for scripts).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import getpass
import hashlib
import hmac
import math
import re
import secrets
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal, NoReturn

from bot.settings import Settings, get_settings
from bot.sqlite_store import Database, SQLiteStore, location, utcnow

DB_NAME = "accounts.db"

# scrypt cost: about 50 ms and 16 MiB per hash. Stored with each hash, so raising them later
# only changes new hashes; an old hash is rewritten at its owner's next successful login.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SCRYPT_DKLEN = 32
SCRYPT_MAXMEM = 64 * 1024 * 1024
SALT_BYTES = 16
# Bounds on what a stored hash may ask for, so that a damaged row cannot stall a login.
_MAX_N = 2**20
_MAX_RP = 64

NAME_MIN, NAME_MAX = 2, 40
NAME_PATTERN = re.compile(r"[a-z0-9._-]+")
PASSWORD_MIN = 10
# The login form keeps the first 200 characters of what is typed: a longer password could
# never be entered there.
PASSWORD_MAX = 200

# Throttling. Only checked failures count (an attempt refused unchecked does not). Nothing
# here can lock a mediator out from their own address: a third party's failures weigh on
# the third party's address, and on the name only as a short delay.
# - per address: after IP_FREE_FAILURES failures in a day, each further attempt from that
#   address waits IP_BASE_DELAY, doubled at each failure, at most MAX_BACKOFF;
# - per (name, address): after PAIR_FREE_FAILURES failures, PAIR_BASE_DELAY doubled the same
#   way; a success of that name from that address ends the run;
# - per name, from every address: past NAME_SLOW_AFTER failures in NAME_WINDOW, each
#   attempt is answered NAME_DELAY_STEP seconds later per NAME_SLOW_STEP further failures,
#   at most NAME_MAX_DELAY. Never refused: a distributed attack slows, it does not lock.
IP_FREE_FAILURES = 10
IP_BASE_DELAY = timedelta(seconds=30)
PAIR_FREE_FAILURES = 5
PAIR_BASE_DELAY = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
NAME_WINDOW = timedelta(hours=1)
NAME_SLOW_AFTER = 20
NAME_SLOW_STEP = 10
NAME_DELAY_STEP = 1.0
NAME_MAX_DELAY = 5.0
ATTEMPTS_KEPT = timedelta(days=1)
# What is recorded of an attempt is cut to these lengths (the form already limits them).
_RECORDED_NAME_MAX = 100
_RECORDED_IP_MAX = 64

# Sessions of the console: at most SESSION_LIFETIME after login, and ended after
# SESSION_IDLE without a request. Only a hash of the session id is stored, so that a copy
# of accounts.db does not hold usable cookies.
SESSION_LIFETIME = timedelta(hours=8)
SESSION_IDLE = timedelta(hours=1)
# last_seen is rewritten at most this often: not one write per page.
_SEEN_EVERY = timedelta(minutes=1)
_TOKEN_MAX = 100

Clock = Callable[[], datetime]
LoginStatus = Literal["ok", "bad", "throttled"]


class AccountError(ValueError):
    """A request the accounts cannot satisfy; the message is French, fit to show as is."""


@dataclass(frozen=True)
class LoginResult:
    """Outcome of `AccountStore.check_login`: 'ok', 'bad' (unknown name, wrong password or
    disabled account: never told apart) or 'throttled', then retry after `retry_after` s.
    `delay`: seconds the answer should wait (the name is under attack), whatever the
    status."""

    status: LoginStatus
    retry_after: int = 0
    delay: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class Session:
    """A live console session: who, the CSRF token of its forms, and when it ends."""

    name: str
    csrf: str
    expires_at: datetime


def token_hash(token: str) -> str:
    """What is stored of a session id: its SHA-256 (the id is 256 random bits, no salt
    needed)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# --- password hashing -----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _password_bytes(password: str) -> bytes:
    # NFC, so that the same password typed on two keyboards (composed or decomposed accents)
    # gives the same bytes.
    return unicodedata.normalize("NFC", password).encode("utf-8")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # OpenSSL needs about 128 * r * (n + p + 2) bytes; allow that when stored costs are raised.
    maxmem = max(SCRYPT_MAXMEM, 128 * r * (n + p + 2) + 1024 * 1024)
    return hashlib.scrypt(
        _password_bytes(password), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem
    )


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$<salt b64>$<hash b64>` for `password`, with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def _parse_hash(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if not (1 < n <= _MAX_N and n & (n - 1) == 0 and 0 < r <= _MAX_RP and 0 < p <= _MAX_RP):
        return None
    if not salt or not 16 <= len(digest) <= 64:
        return None
    return n, r, p, salt, digest


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches `stored`, with the costs `stored` names (constant-time)."""
    parsed = _parse_hash(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(digest)), digest)


def needs_rehash(stored: str) -> bool:
    """Whether `stored` was made with other costs than the current ones."""
    parsed = _parse_hash(stored)
    return parsed is None or parsed[:3] != (SCRYPT_N, SCRYPT_R, SCRYPT_P)


# Checked when a name is unknown, so that such a login costs one scrypt like any other and
# its timing does not tell which names exist. No password gives an all-zero hash.
_DUMMY_HASH = (
    f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(SALT_BYTES))}${_b64(bytes(SCRYPT_DKLEN))}"
)


# --- validation -----------------------------------------------------------------------------


def normalize_name(name: str) -> str:
    return name.strip().lower()


def check_name(name: str) -> str:
    """The account name as stored (trimmed, lowercased); `AccountError` when it is invalid."""
    clean = normalize_name(name)
    if not NAME_MIN <= len(clean) <= NAME_MAX:
        raise AccountError(f"Le nom du compte doit compter de {NAME_MIN} à {NAME_MAX} caractères.")
    if not NAME_PATTERN.fullmatch(clean):
        raise AccountError(
            "Le nom du compte ne peut contenir que des lettres sans accent, des chiffres "
            "et les signes « . », « _ » et « - »."
        )
    return clean


def check_password(password: str, name: str) -> None:
    """`AccountError` when `password` is too weak for the account `name`."""
    clean = unicodedata.normalize("NFC", password)
    if len(clean) < PASSWORD_MIN:
        raise AccountError(f"Le mot de passe doit compter au moins {PASSWORD_MIN} caractères.")
    if len(clean) > PASSWORD_MAX:
        raise AccountError(f"Le mot de passe ne doit pas dépasser {PASSWORD_MAX} caractères.")
    if len(set(clean)) == 1:
        raise AccountError("Le mot de passe ne peut pas répéter un seul et même caractère.")
    if clean.strip().lower() == normalize_name(name):
        raise AccountError("Le mot de passe ne peut pas être le nom du compte.")


# --- schema ---------------------------------------------------------------------------------


def _migration_1(db: Database) -> None:
    statements = (
        f"""CREATE TABLE mediators (
            id {db.rowid_pk},
            name TEXT UNIQUE NOT NULL,
            created_at TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1))
        )""",
        # ok: 1 accepted, 0 refused. throttled: 1 when refused without checking the password;
        # only checked failures (ok = 0, throttled = 0) count towards throttling.
        f"""CREATE TABLE login_attempts (
            id {db.rowid_pk},
            name TEXT NOT NULL,
            ip TEXT NOT NULL,
            at TEXT NOT NULL,
            ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
            throttled INTEGER NOT NULL DEFAULT 0 CHECK (throttled IN (0, 1))
        )""",
        "CREATE INDEX idx_login_attempts_name ON login_attempts(name, at)",
        "CREATE INDEX idx_login_attempts_ip ON login_attempts(ip, at)",
        "CREATE INDEX idx_login_attempts_at ON login_attempts(at)",
    )
    for sql in statements:
        db.execute(sql)


def _migration_2(db: Database) -> None:
    statements = (
        # id_hash: SHA-256 of the cookie's value. Removing the mediator removes the rows.
        """CREATE TABLE sessions (
            id_hash TEXT PRIMARY KEY,
            mediator_id INTEGER NOT NULL REFERENCES mediators(id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
        "CREATE INDEX idx_sessions_mediator ON sessions(mediator_id)",
        "CREATE INDEX idx_sessions_expires ON sessions(expires_at)",
        "CREATE INDEX idx_login_attempts_name_ip ON login_attempts(name, ip, at)",
    )
    for sql in statements:
        db.execute(sql)


# Applied in order, on both engines; the base keeps the number already applied (`PRAGMA
# user_version` on SQLite, `schema_version` on PostgreSQL). A schema change is one more
# function appended here, never an edit of an applied one.
MIGRATIONS: tuple[Callable[[Database], None], ...] = (_migration_1, _migration_2)


# The stores' shared clock. Times here keep their own format (microseconds, below):
# attempts of one second must still sort in order for the throttling.
_utcnow = utcnow


def _utc(moment: datetime) -> datetime:
    # A naive datetime is taken as UTC so that an injected test clock cannot shift times.
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _iso(moment: datetime) -> str:
    # Microseconds, always written, so that the strings sort like the moments they name.
    return _utc(moment).isoformat(timespec="microseconds")


# --- store ----------------------------------------------------------------------------------


class AccountStore(SQLiteStore):
    """The accounts database: mediators, login attempts and console sessions. Safe to share
    between threads, and, on PostgreSQL, between the copies of the web app."""

    pg_schema = "accounts"

    def __init__(self, path: Path | str, *, clock: Clock = _utcnow) -> None:
        super().__init__(path, clock=clock)

    def migrations(self) -> Sequence[Callable[[Database], None]]:
        return MIGRATIONS

    @classmethod
    def open(cls, settings: Settings | None = None, *, clock: Clock = _utcnow) -> AccountStore:
        """The store of `settings.database_url` when set (PostgreSQL), else the file
        `settings.data_dir / "accounts.db"`, creating the folder when missing."""
        settings = settings or get_settings()
        return cls(location(settings, settings.data_dir / DB_NAME), clock=clock)

    @staticmethod
    def _hash_of(db: Database, name: str) -> tuple[int, str, bool] | None:
        row = db.execute(
            "SELECT id, password_hash, disabled FROM mediators WHERE name = ?", [name]
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), bool(row[2]))

    def _existing(self, db: Database, name: str) -> str:
        clean = normalize_name(name)
        if self._hash_of(db, clean) is None:
            raise AccountError(f"Aucun compte « {clean} ».")
        return clean

    # -- accounts

    def create(self, name: str, password: str) -> None:
        """Add the account `name`; `AccountError` (in French) when anything is wrong."""
        clean = check_name(name)
        check_password(password, clean)
        if self.exists(clean):
            raise AccountError(f"Le compte « {clean} » existe déjà.")
        # Hashed outside the transaction: 50 ms of scrypt need not hold the write lock.
        password_hash = hash_password(password)
        with self._write() as db:
            if self._hash_of(db, clean) is not None:
                raise AccountError(f"Le compte « {clean} » existe déjà.")
            db.execute(
                "INSERT INTO mediators (name, created_at, password_hash) VALUES (?, ?, ?)",
                [clean, _iso(self._clock()), password_hash],
            )

    def set_password(self, name: str, password: str) -> None:
        clean = normalize_name(name)
        with self._read() as db:
            self._existing(db, clean)
        check_password(password, clean)
        password_hash = hash_password(password)
        with self._write() as db:
            self._existing(db, clean)
            db.execute(
                "UPDATE mediators SET password_hash = ? WHERE name = ?", [password_hash, clean]
            )
            self._revoke(db, clean)

    def set_disabled(self, name: str, disabled: bool = True) -> None:
        """Refuse (or again accept) every login of `name`, keeping the account."""
        with self._write() as db:
            clean = self._existing(db, name)
            db.execute("UPDATE mediators SET disabled = ? WHERE name = ?", [int(disabled), clean])
            if disabled:
                self._revoke(db, clean)

    def is_disabled(self, name: str) -> bool:
        with self._read() as db:
            found = self._hash_of(db, normalize_name(name))
        if found is None:
            raise AccountError(f"Aucun compte « {normalize_name(name)} ».")
        return found[2]

    def remove(self, name: str) -> None:
        with self._write() as db:
            clean = self._existing(db, name)
            self._revoke(db, clean)
            db.execute("DELETE FROM mediators WHERE name = ?", [clean])

    def names(self) -> list[str]:
        """Every account name, disabled ones included, in alphabetical order."""
        with self._read() as db:
            return [row[0] for row in db.execute("SELECT name FROM mediators ORDER BY name")]

    def exists(self, name: str) -> bool:
        with self._read() as db:
            return self._hash_of(db, normalize_name(name)) is not None

    # -- logins

    @staticmethod
    def _backoff(
        db: Database, where: str, params: list[object], free: int, base: timedelta, now: datetime
    ) -> float:
        """Seconds still to wait after the checked failures `where` selects (see above)."""
        count, last = db.execute(
            f"SELECT COUNT(*), MAX(at) FROM login_attempts "
            f"WHERE ok = 0 AND throttled = 0 AND {where}",
            params,
        ).fetchone()
        if count < free:
            return 0.0
        wait = min(MAX_BACKOFF, base * 2 ** min(count - free, 20))
        return (datetime.fromisoformat(last) + wait - now).total_seconds()

    def _throttle(self, db: Database, name: str, ip: str, now: datetime) -> tuple[float, float]:
        """(seconds before this address may try `name` again, delay of the answer)."""
        since = _iso(now - ATTEMPTS_KEPT)
        by_ip = self._backoff(db, "ip = ? AND at > ?", [ip, since], IP_FREE_FAILURES,
                              IP_BASE_DELAY, now)  # fmt: skip
        by_pair = self._backoff(
            db,
            """name = ? AND ip = ? AND at > ?
               AND id > (SELECT COALESCE(MAX(id), 0) FROM login_attempts
                         WHERE name = ? AND ip = ? AND ok = 1)""",
            [name, ip, since, name, ip],
            PAIR_FREE_FAILURES,
            PAIR_BASE_DELAY,
            now,
        )
        by_name = db.execute(
            "SELECT COUNT(*) FROM login_attempts "
            "WHERE name = ? AND ok = 0 AND throttled = 0 AND at > ?",
            [name, _iso(now - NAME_WINDOW)],
        ).fetchone()[0]
        delay = 0.0
        if by_name >= NAME_SLOW_AFTER:
            steps = 1 + (by_name - NAME_SLOW_AFTER) // NAME_SLOW_STEP
            delay = min(NAME_MAX_DELAY, steps * NAME_DELAY_STEP)
        return max(by_ip, by_pair), delay

    def check_login(self, name: str, password: str, ip: str) -> LoginResult:
        """Check `password` for `name` from the address `ip`, recording the attempt; see
        `LoginResult`. Slow (one scrypt): call it off the event loop."""
        clean = normalize_name(name)[:_RECORDED_NAME_MAX]
        ip = ip[:_RECORDED_IP_MAX]
        now = _utc(self._clock())
        with self._write() as db:
            db.execute("DELETE FROM login_attempts WHERE at < ?", [_iso(now - ATTEMPTS_KEPT)])
            wait, delay = self._throttle(db, clean, ip, now)
            if wait > 0:
                db.execute(
                    "INSERT INTO login_attempts (name, ip, at, ok, throttled) "
                    "VALUES (?, ?, ?, 0, 1)",
                    [clean, ip, _iso(now)],
                )
                return LoginResult("throttled", max(1, math.ceil(wait)), delay)
            found = self._hash_of(db, clean)
            # Recorded as a failure before the (slow) check, so that attempts running at
            # the same time count against each other; turned into a success below.
            attempt = db.insert(
                "login_attempts", {"name": clean, "ip": ip, "at": _iso(now), "ok": 0}
            )
        stored = found[1] if found else _DUMMY_HASH
        matches = verify_password(password, stored)
        if found is None or found[2] or not matches:
            return LoginResult("bad", delay=delay)
        rehashed = hash_password(password) if needs_rehash(stored) else None
        with self._write() as db:
            db.execute("UPDATE login_attempts SET ok = 1 WHERE id = ?", [attempt])
            if rehashed is not None:
                db.execute(
                    "UPDATE mediators SET password_hash = ? WHERE id = ? AND password_hash = ?",
                    [rehashed, found[0], stored],
                )
        return LoginResult("ok", delay=delay)

    # -- sessions

    @staticmethod
    def _revoke(db: Database, name: str) -> int:
        return db.execute(
            "DELETE FROM sessions WHERE mediator_id = (SELECT id FROM mediators WHERE name = ?)",
            [name],
        ).rowcount

    def open_session(self, name: str) -> tuple[str, Session]:
        """A new session for the (enabled) account `name`: the id to put in the cookie, and
        the session. Expired sessions of everyone are purged on the way."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = _utc(self._clock())
        expires = now + SESSION_LIFETIME
        with self._write() as db:
            self._purge_sessions(db, now)
            row = db.execute(
                "SELECT id FROM mediators WHERE name = ? AND disabled = 0", [normalize_name(name)]
            ).fetchone()
            if row is None:
                raise AccountError(f"Aucun compte actif « {normalize_name(name)} ».")
            db.execute(
                "INSERT INTO sessions (id_hash, mediator_id, csrf, created_at, last_seen, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                [token_hash(token), row[0], csrf, _iso(now), _iso(now), _iso(expires)],
            )
        return token, Session(normalize_name(name), csrf, expires)

    def session(self, token: str) -> Session | None:
        """The live session whose id is `token`, or None (unknown, revoked, expired, idle
        too long, or its account disabled). Keeps the session alive."""
        if not token or len(token) > _TOKEN_MAX:
            return None
        key = token_hash(token)
        now = _utc(self._clock())
        with self._read() as db:
            row = db.execute(
                """SELECT m.name, s.csrf, s.last_seen, s.expires_at, m.disabled
                   FROM sessions s JOIN mediators m ON m.id = s.mediator_id
                   WHERE s.id_hash = ?""",
                [key],
            ).fetchone()
        if row is None:
            return None
        name, csrf, last_seen_raw, expires_raw, disabled = row
        last_seen = datetime.fromisoformat(last_seen_raw)
        expires = datetime.fromisoformat(expires_raw)
        if disabled or now >= expires or now >= last_seen + SESSION_IDLE:
            with self._write() as db:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", [key])
            return None
        if now - last_seen >= _SEEN_EVERY:
            with self._write() as db:
                db.execute("UPDATE sessions SET last_seen = ? WHERE id_hash = ?", [_iso(now), key])
        return Session(str(name), str(csrf), expires)

    def close_session(self, token: str) -> None:
        """End the session `token` (logout); nothing happens when it is unknown."""
        if token and len(token) <= _TOKEN_MAX:
            with self._write() as db:
                db.execute("DELETE FROM sessions WHERE id_hash = ?", [token_hash(token)])

    def revoke_sessions(self, name: str) -> int:
        """End every session of `name`; returns how many there were."""
        with self._write() as db:
            return self._revoke(db, normalize_name(name))

    def _purge_sessions(self, db: Database, now: datetime) -> int:
        return db.execute(
            "DELETE FROM sessions WHERE expires_at <= ? OR last_seen <= ?",
            [_iso(now), _iso(now - SESSION_IDLE)],
        ).rowcount

    def purge_sessions(self) -> int:
        """Delete expired and idle sessions; returns how many."""
        with self._write() as db:
            return self._purge_sessions(db, _utc(self._clock()))

    def session_count(self, name: str) -> int:
        with self._read() as db:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM sessions s JOIN mediators m ON m.id = s.mediator_id "
                    "WHERE m.name = ?",
                    [normalize_name(name)],
                ).fetchone()[0]
            )


# --- command line ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would repeat extra arguments, and an extra argument here is most likely a
        # password: say what is wrong without echoing it.
        if message.startswith("unrecognized arguments"):
            message = (
                "arguments en trop. Le mot de passe ne se donne jamais sur la ligne de "
                "commande : il est demandé au clavier (ou lu avec --password-stdin)."
            )
        super().error(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m bot.accounts",
        description=(
            "Comptes des médiateurs pour la console (base DATA_DIR/accounts.db, ou la "
            "base PostgreSQL de DATABASE_URL)."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="commande")
    stdin_help = "lire le mot de passe sur une ligne de l'entrée standard (pour les scripts)"

    add = commands.add_parser("add", help="créer un compte (mot de passe demandé deux fois)")
    add.add_argument("name", metavar="NOM", help="nom du compte : a-z, 0-9, « . », « _ », « - »")
    add.add_argument("--password-stdin", action="store_true", help=stdin_help)

    passwd = commands.add_parser("passwd", help="changer le mot de passe d'un compte")
    passwd.add_argument("name", metavar="NOM", help="nom du compte")
    passwd.add_argument("--password-stdin", action="store_true", help=stdin_help)

    remove = commands.add_parser("remove", help="supprimer un compte")
    remove.add_argument("name", metavar="NOM", help="nom du compte")

    commands.add_parser("list", help="lister les comptes")
    return parser


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise AccountError("Aucun mot de passe reçu sur l'entrée standard.")
        return line.rstrip("\r\n")
    try:
        first = getpass.getpass("Mot de passe : ")
        second = getpass.getpass("Encore une fois : ")
    except EOFError:
        raise AccountError("Aucun mot de passe saisi.") from None
    if not hmac.compare_digest(first.encode("utf-8"), second.encode("utf-8")):
        raise AccountError("Les deux mots de passe ne correspondent pas.")
    return first


def _add(store: AccountStore, name: str, from_stdin: bool) -> int:
    # The name is checked before the password is asked for, not after it is typed twice.
    clean = check_name(name)
    if store.exists(clean):
        raise AccountError(f"Le compte « {clean} » existe déjà.")
    store.create(clean, _read_password(from_stdin))
    print(f"Compte « {clean} » créé.")
    return 0


def _passwd(store: AccountStore, name: str, from_stdin: bool) -> int:
    clean = normalize_name(name)
    if not store.exists(clean):
        raise AccountError(f"Aucun compte « {clean} ».")
    store.set_password(clean, _read_password(from_stdin))
    print(f"Mot de passe du compte « {clean} » changé.")
    return 0


def _list(store: AccountStore) -> int:
    names = store.names()
    if not names:
        print("Aucun compte.")
        return 0
    for name in names:
        print(f"{name} (désactivé)" if store.is_disabled(name) else name)
    print(f"{len(names)} compte(s).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with AccountStore.open(get_settings()) as store:
        try:
            if args.command == "add":
                return _add(store, args.name, args.password_stdin)
            if args.command == "passwd":
                return _passwd(store, args.name, args.password_stdin)
            if args.command == "remove":
                clean = normalize_name(args.name)
                store.remove(clean)
                print(f"Compte « {clean} » supprimé.")
                return 0
            return _list(store)
        except AccountError as exc:
            print(str(exc), file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nAbandon.", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())

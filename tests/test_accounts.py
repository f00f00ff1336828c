"""Mediator accounts: scrypt-hashed passwords checked in constant shape, French refusals,
logins throttled per address (never a lock a third party can put on a name), server-side
sessions that logout, a new password and removal end, and `python -m bot.accounts` that
never takes a password as an argument. Every test of the store and of the command line runs
on SQLite and on PostgreSQL (the `database` fixture)."""

from __future__ import annotations

import base64
import getpass
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import accounts, pg
from bot.accounts import (
    IP_BASE_DELAY,
    IP_FREE_FAILURES,
    MAX_BACKOFF,
    NAME_MAX_DELAY,
    NAME_SLOW_AFTER,
    PAIR_BASE_DELAY,
    PAIR_FREE_FAILURES,
    SESSION_IDLE,
    SESSION_LIFETIME,
    AccountError,
    AccountStore,
    LoginResult,
    hash_password,
    main,
    token_hash,
    verify_password,
)
from bot.settings import ROOT, Settings, get_settings

START = datetime(2024, 3, 4, 9, 30, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"
IP = "192.0.2.10"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(database, clock: FakeClock) -> Iterator[AccountStore]:
    with AccountStore(database("accounts"), clock=clock) as opened:
        yield opened


@pytest.fixture
def camille(store: AccountStore) -> AccountStore:
    store.create("camille", PASSWORD)
    return store


def raw_rows(store: AccountStore, sql: str, params: tuple = ()) -> list[tuple]:
    """What the database holds, read with the store's own connection (either engine)."""
    with store._read() as db:
        return [tuple(row) for row in db.execute(sql, params).fetchall()]


def stored_bytes(store: AccountStore, folder: Path, request: pytest.FixtureRequest) -> bytes:
    """Every byte the database engine wrote: the SQLite file and its WAL in `folder`, or the
    whole PostgreSQL server folder (tables, WAL, log)."""
    if store.dialect == "sqlite":
        files = [f for f in folder.iterdir() if f.is_file()]
    else:
        server = request.getfixturevalue("pg_server")
        files = [f for f in server.folder.rglob("*") if f.is_file()]
    return b"".join(f.read_bytes() for f in files)


def refusal(store: AccountStore, name: str, password: str) -> str:
    with pytest.raises(AccountError) as caught:
        store.create(name, password)
    return str(caught.value)


# --- the store ------------------------------------------------------------------------------


# SQLite only: where the file goes and its journal mode.
def test_open_uses_data_dir_and_sets_up_the_database(tmp_path: Path):
    settings = Settings({**Settings.from_env().values, "DATA_DIR": str(tmp_path / "new")})
    with AccountStore.open(settings) as store:
        assert store.path == tmp_path / "new" / "accounts.db"
        assert store.schema_version == len(accounts.MIGRATIONS)
        assert store.journal_mode == "wal"
    with AccountStore.open(settings) as again:  # reopening applies nothing twice
        assert again.names() == []


def test_open_with_a_database_url_uses_postgresql_and_writes_no_file(
    tmp_path: Path, fresh_pg_url: str
):
    values = {"DATA_DIR": str(tmp_path / "new"), "DATABASE_URL": fresh_pg_url}
    settings = Settings({**Settings.from_env().values, **values})
    with AccountStore.open(settings) as store:
        assert store.dialect == "postgresql" and store.pg_schema == "accounts"
        assert store.schema_version == len(accounts.MIGRATIONS)
        store.create("camille", PASSWORD)
        with store._read() as db:
            tables = {
                row["table_name"]
                for row in db.query(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                    ["accounts"],
                )
            }
    assert {"mediators", "login_attempts", "sessions"} <= tables
    assert not (tmp_path / "new").exists()
    with AccountStore.open(settings) as again:
        assert again.names() == ["camille"]


def test_create_then_log_in(camille: AccountStore):
    assert camille.exists("camille") and camille.exists(" Camille ")
    assert camille.names() == ["camille"]
    assert camille.check_login("camille", PASSWORD, IP) == LoginResult("ok", 0)
    assert camille.check_login("CAMILLE", PASSWORD, IP).ok


def test_names_are_stored_lowercase_and_listed_in_order(store: AccountStore):
    store.create("Zoe.M", "un mot de passe")
    store.create("alex_2", "un autre mot de passe")
    assert store.names() == ["alex_2", "zoe.m"]


def test_wrong_password_and_unknown_name_are_both_just_bad(camille: AccountStore):
    assert camille.check_login("camille", PASSWORD + "!", IP) == LoginResult("bad")
    assert camille.check_login("dominique", PASSWORD, IP) == LoginResult("bad")
    assert camille.check_login("camille", "", IP) == LoginResult("bad")


def test_an_unknown_name_still_costs_one_scrypt(
    camille: AccountStore, monkeypatch: pytest.MonkeyPatch
):
    calls: list[str] = []
    real = accounts.verify_password

    def spy(password: str, stored: str) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(accounts, "verify_password", spy)
    assert camille.check_login("personne", PASSWORD, IP).status == "bad"
    assert calls == [accounts._DUMMY_HASH]
    assert accounts._parse_hash(accounts._DUMMY_HASH) is not None


def test_a_disabled_account_cannot_log_in(camille: AccountStore):
    camille.set_disabled("camille")
    assert camille.is_disabled("camille")
    assert camille.check_login("camille", PASSWORD, IP).status == "bad"
    camille.set_disabled("camille", False)
    assert camille.check_login("camille", PASSWORD, IP).status == "ok"


def test_a_name_cannot_be_created_twice(camille: AccountStore):
    message = refusal(camille, "Camille", "un autre mot de passe")
    assert message == "Le compte « camille » existe déjà."
    (stored,) = raw_rows(camille, "SELECT password_hash FROM mediators")[0]
    assert verify_password(PASSWORD, stored)


@pytest.mark.parametrize(
    ("name", "password", "words"),
    [
        ("c", PASSWORD, "de 2 à 40 caractères"),
        ("c" * 41, PASSWORD, "de 2 à 40 caractères"),
        ("camille dupont", PASSWORD, "ne peut contenir que des lettres"),
        ("hélène", PASSWORD, "lettres sans accent"),
        ("camille/..", PASSWORD, "ne peut contenir que"),
        ("camille", "court", "au moins 10 caractères"),
        ("camille", "a" * 12, "un seul et même caractère"),
        ("camille1234", "Camille1234", "ne peut pas être le nom du compte"),
        ("camille", "x" + "y" * 200, "ne doit pas dépasser 200 caractères"),
    ],
)
def test_invalid_names_and_passwords_are_refused_in_french(
    store: AccountStore, name: str, password: str, words: str
):
    assert words in refusal(store, name, password)
    assert store.names() == []


def test_name_limits_and_allowed_signs(store: AccountStore):
    store.create("ab", PASSWORD)
    store.create("a" * 40, PASSWORD)
    store.create("j.dupont-2_b", PASSWORD)
    assert len(store.names()) == 3


def test_set_password_and_remove(camille: AccountStore):
    camille.set_password("camille", "nouveau mot de passe")
    assert camille.check_login("camille", PASSWORD, IP).status == "bad"
    assert camille.check_login("camille", "nouveau mot de passe", IP).status == "ok"
    with pytest.raises(AccountError, match="au moins 10"):
        camille.set_password("camille", "court")
    camille.remove("camille")
    assert not camille.exists("camille") and camille.names() == []
    assert camille.check_login("camille", "nouveau mot de passe", IP).status == "bad"
    for change in (camille.remove, camille.set_disabled, camille.is_disabled):
        with pytest.raises(AccountError, match="Aucun compte « camille »"):
            change("camille")
    with pytest.raises(AccountError, match="Aucun compte"):
        camille.set_password("camille", PASSWORD)


# --- hashes ---------------------------------------------------------------------------------


def test_hash_format_and_salt():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first != second
    for stored in (first, second):
        scheme, n, r, p, salt, digest = stored.split("$")
        assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
        assert len(base64.b64decode(salt)) == 16 and len(base64.b64decode(digest)) == 32
        assert verify_password(PASSWORD, stored)
        assert not verify_password(PASSWORD.upper(), stored)
    assert first.split("$")[4] != second.split("$")[4]


def test_damaged_hashes_never_match():
    good = hash_password(PASSWORD)
    for damaged in ("", "plain", good.replace("scrypt", "bcrypt"), good.rsplit("$", 1)[0],
                    good.replace("$16384$", "$1000$"), good.replace("$16384$", "$x$")):  # fmt: skip
        assert not verify_password(PASSWORD, damaged)


def test_costs_are_read_from_the_stored_hash_and_raised_at_login(
    camille: AccountStore, monkeypatch: pytest.MonkeyPatch
):
    old = raw_rows(camille, "SELECT password_hash FROM mediators")[0][0]
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**15)
    assert verify_password(PASSWORD, old)  # still checked with its own N
    assert camille.check_login("camille", PASSWORD, IP).ok
    new = raw_rows(camille, "SELECT password_hash FROM mediators")[0][0]
    assert new.startswith("scrypt$32768$8$1$") and verify_password(PASSWORD, new)


def test_accented_passwords_match_however_they_are_composed():
    stored = hash_password("café crème glacé")
    assert verify_password("cafe\u0301 cre\u0300me glace\u0301", stored)


def test_the_password_is_stored_nowhere_in_clear(
    camille: AccountStore, tmp_path: Path, request: pytest.FixtureRequest
):
    camille.check_login("camille", PASSWORD, IP)
    camille.check_login("camille", "mauvais mot de passe", IP)
    (stored,) = raw_rows(camille, "SELECT password_hash FROM mediators")[0]
    assert PASSWORD not in stored
    camille.close()
    data = stored_bytes(camille, tmp_path, request)
    assert stored.encode() in data  # the bytes read are really where the store writes
    assert PASSWORD.encode() not in data and b"mauvais mot de passe" not in data


# --- throttling -----------------------------------------------------------------------------


def fail(store: AccountStore, times: int, name: str = "camille", ip: str = IP) -> None:
    for _ in range(times):
        assert store.check_login(name, "mauvais mot de passe", ip).status == "bad"


def test_every_attempt_is_recorded(camille: AccountStore):
    camille.check_login("camille", PASSWORD, IP)
    camille.check_login("Camille", "mauvais mot de passe", "198.51.100.7")
    rows = raw_rows(camille, "SELECT name, ip, at, ok, throttled FROM login_attempts ORDER BY id")
    assert rows == [
        ("camille", IP, "2024-03-04T09:30:00.000000+00:00", 1, 0),
        ("camille", "198.51.100.7", "2024-03-04T09:30:00.000000+00:00", 0, 0),
    ]


OTHER_IP = "198.51.100.7"
ATTACKER = "203.0.113.9"


def test_a_third_party_cannot_lock_a_mediator_out(camille: AccountStore, clock: FakeClock):
    # Far more failures on « camille » than any lock used to need, from one address.
    for _ in range(40):
        camille.check_login("camille", "mauvais mot de passe", ATTACKER)
        clock.advance(seconds=1)
    refused = camille.check_login("camille", PASSWORD, ATTACKER)
    assert refused.status == "throttled" and refused.retry_after > 0
    # Camille, from her own address, is not concerned.
    assert camille.check_login("camille", PASSWORD, OTHER_IP).ok


def test_many_addresses_only_slow_a_name_down(
    store: AccountStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
):
    # 241 logins: a cheap hash keeps them fast (the costs are read from the stored hash,
    # and throttling does not depend on them).
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**10)
    store.create("camille", PASSWORD)
    # A distributed attack: 60 addresses, 4 failures each (under every per-address limit).
    for host in range(60):
        fail(store, 4, ip=f"203.0.113.{host}")
    clock.advance(seconds=1)
    result = store.check_login("camille", PASSWORD, OTHER_IP)
    assert result.ok  # not locked out
    assert 0 < result.delay <= NAME_MAX_DELAY  # but every answer on that name waits
    clock.advance(hours=1, seconds=1)
    assert store.check_login("camille", PASSWORD, OTHER_IP) == LoginResult("ok")


def test_failures_on_a_name_from_one_address_back_off_exponentially(
    camille: AccountStore, clock: FakeClock
):
    fail(camille, PAIR_FREE_FAILURES - 1)
    assert camille.check_login("camille", PASSWORD, IP).ok  # under the limit: no wait
    fail(camille, PAIR_FREE_FAILURES)
    first = camille.check_login("camille", PASSWORD, IP)
    assert first == LoginResult("throttled", retry_after=int(PAIR_BASE_DELAY.total_seconds()))
    assert raw_rows(camille, "SELECT ok, throttled FROM login_attempts ORDER BY id")[-1] == (0, 1)
    # Other names from the same address are not concerned (the address is under its limit).
    camille.create("dominique", PASSWORD)
    assert camille.check_login("dominique", PASSWORD, IP).ok
    # Refused attempts are not checked and do not make the wait longer.
    clock.advance(seconds=PAIR_BASE_DELAY.total_seconds() - 1)
    assert camille.check_login("camille", PASSWORD, IP) == LoginResult("throttled", 1)
    clock.advance(seconds=1)
    fail(camille, 1)  # one more checked failure: the wait doubles
    doubled = camille.check_login("camille", PASSWORD, IP)
    assert doubled.retry_after == 2 * PAIR_BASE_DELAY.total_seconds()
    clock.advance(seconds=doubled.retry_after)
    assert camille.check_login("camille", PASSWORD, IP).ok


def test_the_back_off_is_capped(camille: AccountStore, clock: FakeClock):
    for _ in range(30):
        wait = camille.check_login("camille", "mauvais mot de passe", IP).retry_after
        clock.advance(seconds=wait)
    assert camille.check_login("camille", "x", IP).retry_after <= MAX_BACKOFF.total_seconds()


def test_a_successful_login_ends_the_run_of_failures_for_its_name(
    camille: AccountStore, clock: FakeClock
):
    fail(camille, PAIR_FREE_FAILURES - 1)
    assert camille.check_login("camille", PASSWORD, IP).ok
    fail(camille, PAIR_FREE_FAILURES - 1)
    assert camille.check_login("camille", PASSWORD, IP).ok


def test_unknown_names_are_throttled_like_real_ones(camille: AccountStore):
    fail(camille, PAIR_FREE_FAILURES, name="personne")
    assert camille.check_login("personne", "x", IP).status == "throttled"


def test_an_address_that_fails_on_many_names_is_slowed_down(
    camille: AccountStore, clock: FakeClock
):
    for i in range(IP_FREE_FAILURES):
        fail(camille, 1, name=f"nom{i}")
    refused = camille.check_login("camille", PASSWORD, IP)
    assert refused == LoginResult("throttled", retry_after=int(IP_BASE_DELAY.total_seconds()))
    # Another address is not concerned, and its success does not free this one.
    assert camille.check_login("camille", PASSWORD, OTHER_IP).ok
    assert camille.check_login("camille", PASSWORD, IP).status == "throttled"
    clock.advance(seconds=IP_BASE_DELAY.total_seconds())
    fail(camille, 1, name="encore")
    assert camille.check_login("camille", PASSWORD, IP).retry_after == 2 * int(
        IP_BASE_DELAY.total_seconds()
    )
    clock.advance(seconds=2 * IP_BASE_DELAY.total_seconds())
    assert camille.check_login("camille", PASSWORD, IP).ok


def test_the_name_delay_starts_past_its_threshold(camille: AccountStore):
    for host in range(NAME_SLOW_AFTER - 1):
        fail(camille, 1, ip=f"203.0.113.{host}")
    assert camille.check_login("camille", PASSWORD, OTHER_IP).delay == 0
    fail(camille, 1, ip="203.0.113.250")
    assert camille.check_login("camille", PASSWORD, OTHER_IP).delay > 0


def test_attempts_older_than_a_day_are_forgotten(camille: AccountStore, clock: FakeClock):
    fail(camille, 3)
    clock.advance(hours=23)
    fail(camille, 1)
    clock.advance(hours=2)
    camille.check_login("camille", PASSWORD, IP)
    assert raw_rows(camille, "SELECT COUNT(*) FROM login_attempts") == [(2,)]


# --- sessions -------------------------------------------------------------------------------


def test_a_session_is_stored_as_a_hash_and_found_by_its_id(
    camille: AccountStore, tmp_path: Path, request: pytest.FixtureRequest
):
    token, opened = camille.open_session("Camille")
    assert opened.name == "camille" and len(token) >= 40 and opened.csrf != token
    found = camille.session(token)
    assert found is not None and found.name == "camille" and found.csrf == opened.csrf
    rows = raw_rows(camille, "SELECT id_hash, csrf FROM sessions")
    assert rows == [(token_hash(token), opened.csrf)]
    data = stored_bytes(camille, tmp_path, request)
    assert token_hash(token).encode() in data and token.encode() not in data
    assert camille.session(token + "x") is None and camille.session("") is None
    assert camille.session("x" * 10_000) is None


def test_logout_ends_only_that_session(camille: AccountStore):
    first, _ = camille.open_session("camille")
    second, _ = camille.open_session("camille")
    camille.close_session(first)
    assert camille.session(first) is None and camille.session(second) is not None


@pytest.mark.parametrize("how", ["password", "disabled", "removed", "revoked"])
def test_account_changes_end_every_session(camille: AccountStore, how: str):
    camille.create("dominique", PASSWORD)
    tokens = [camille.open_session("camille")[0] for _ in range(2)]
    other, _ = camille.open_session("dominique")
    if how == "password":
        camille.set_password("camille", "un tout nouveau mot")
    elif how == "disabled":
        camille.set_disabled("camille")
    elif how == "removed":
        camille.remove("camille")
    else:
        assert camille.revoke_sessions("camille") == 2
    assert [camille.session(t) for t in tokens] == [None, None]
    assert camille.session(other) is not None
    assert raw_rows(camille, "SELECT COUNT(*) FROM sessions") == [(1,)]


def test_a_disabled_account_gets_no_session(camille: AccountStore):
    camille.set_disabled("camille")
    with pytest.raises(AccountError):
        camille.open_session("camille")


def test_sessions_end_when_idle_and_after_their_lifetime(camille: AccountStore, clock: FakeClock):
    token, _ = camille.open_session("camille")
    # Kept alive by use, up to the lifetime.
    used = timedelta()
    while used + SESSION_IDLE / 2 < SESSION_LIFETIME:
        clock.advance(seconds=(SESSION_IDLE / 2).total_seconds())
        used += SESSION_IDLE / 2
        assert camille.session(token) is not None, used
    clock.advance(seconds=(SESSION_LIFETIME - used).total_seconds())
    assert camille.session(token) is None
    idle, _ = camille.open_session("camille")
    clock.advance(seconds=SESSION_IDLE.total_seconds())
    assert camille.session(idle) is None


def test_expired_sessions_are_purged(camille: AccountStore, clock: FakeClock):
    for _ in range(3):
        camille.open_session("camille")
    clock.advance(seconds=SESSION_IDLE.total_seconds() + 1)
    live, _ = camille.open_session("camille")  # purges the idle ones on the way
    assert raw_rows(camille, "SELECT COUNT(*) FROM sessions") == [(1,)]
    clock.advance(seconds=SESSION_IDLE.total_seconds() + 1)
    assert camille.purge_sessions() == 1 and camille.session(live) is None


# --- several copies of the web app -----------------------------------------------------------

# Run by another process, as another copy of the web app would: its own AccountStore, its
# own connection, the same DATABASE_URL.
_OTHER_COPY = """
import sys
from bot.accounts import AccountStore
from bot.settings import get_settings

token, ip = sys.argv[1], sys.argv[2]
with AccountStore.open(get_settings()) as store:
    seen = store.session(token)
    print("seen" if seen is not None and seen.name == "camille" else "unseen")
    store.close_session(token)
    print(store.check_login("camille", "correct horse battery", ip).status)
"""


def test_sessions_and_throttling_are_shared_by_every_copy_of_the_web_app(data_dir: Path):
    with opened() as here, opened() as elsewhere:
        here.create("camille", PASSWORD)
        token, _ = here.open_session("camille")
        kept, _ = here.open_session("camille")
        # Another instance of the store sees the session, and ends it for everyone.
        assert elsewhere.session(token) is not None
        elsewhere.close_session(token)
        assert here.session(token) is None and here.session(kept) is not None
        fail(here, PAIR_FREE_FAILURES)
    # Another process: it sees the session opened here, ends it, and finds the failures
    # recorded here in its throttling.
    done = subprocess.run(
        [sys.executable, "-c", _OTHER_COPY, kept, IP],
        text=True, capture_output=True, env=dict(os.environ), cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["seen", "throttled"]
    with opened() as here:
        assert here.session(kept) is None
        assert here.check_login("camille", PASSWORD, OTHER_IP).ok


# --- command line ---------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database) -> Path:
    """The environment of the command line: DATA_DIR, and DATABASE_URL on PostgreSQL."""
    location = database("accounts")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DATABASE_URL", str(location) if pg.is_url(location) else "sqlite")
    return tmp_path


def opened() -> AccountStore:
    """The store the command line uses, from the same environment."""
    return AccountStore.open(get_settings())


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def typed(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer getpass prompts in order; returns the prompts shown."""
    prompts: list[str] = []
    queue = list(answers)

    def fake(prompt: str = "Password: ", stream: object = None) -> str:
        prompts.append(prompt)
        return queue.pop(0)

    monkeypatch.setattr(getpass, "getpass", fake)
    return prompts


def login(data_dir: Path, name: str, password: str) -> str:
    with opened() as store:
        return store.check_login(name, password, IP).status


def test_cli_add_with_password_stdin(data_dir: Path, monkeypatch, capsys):
    stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add", "Camille", "--password-stdin"]) == 0
    assert capsys.readouterr().out == "Compte « camille » créé.\n"
    assert login(data_dir, "camille", PASSWORD) == "ok"


def test_cli_add_with_getpass_asks_twice(data_dir: Path, monkeypatch, capsys):
    prompts = typed(monkeypatch, PASSWORD, PASSWORD)
    assert main(["add", "camille"]) == 0
    assert prompts == ["Mot de passe : ", "Encore une fois : "]
    assert "Compte « camille » créé." in capsys.readouterr().out
    assert login(data_dir, "camille", PASSWORD) == "ok"


def test_cli_add_refuses_two_different_passwords(data_dir: Path, monkeypatch, capsys):
    typed(monkeypatch, PASSWORD, PASSWORD + "x")
    assert main(["add", "camille"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "ne correspondent pas" in err
    with opened() as store:
        assert store.names() == []


def test_cli_add_reports_problems_in_french(data_dir: Path, monkeypatch, capsys):
    stdin(monkeypatch, "court\n")
    assert main(["add", "camille", "--password-stdin"]) == 1
    assert "au moins 10 caractères" in capsys.readouterr().err
    stdin(monkeypatch, "")
    assert main(["add", "camille", "--password-stdin"]) == 1
    assert "Aucun mot de passe" in capsys.readouterr().err
    # A bad or taken name is refused before any password is asked for.
    prompts = typed(monkeypatch)
    assert main(["add", "c"]) == 1
    assert "de 2 à 40 caractères" in capsys.readouterr().err
    stdin(monkeypatch, PASSWORD + "\n")
    assert main(["add", "camille", "--password-stdin"]) == 0
    assert main(["add", "camille"]) == 1
    assert "existe déjà" in capsys.readouterr().err
    assert prompts == []


def test_cli_list_passwd_remove(data_dir: Path, monkeypatch, capsys):
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "Aucun compte.\n"
    for name in ("dominique", "camille"):
        stdin(monkeypatch, PASSWORD + "\n")
        assert main(["add", name, "--password-stdin"]) == 0
    with opened() as store:
        store.set_disabled("dominique")
    capsys.readouterr()
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "camille\ndominique (désactivé)\n2 compte(s).\n"

    with opened() as store:
        token, _ = store.open_session("camille")
    typed(monkeypatch, "nouveau mot de passe", "nouveau mot de passe")
    assert main(["passwd", "camille"]) == 0
    with opened() as store:
        assert store.session(token) is None  # the CLI's new password ended the session
    assert capsys.readouterr().out == "Mot de passe du compte « camille » changé.\n"
    assert login(data_dir, "camille", "nouveau mot de passe") == "ok"
    stdin(monkeypatch, "encore un autre\r\n")
    assert main(["passwd", "camille", "--password-stdin"]) == 0
    assert login(data_dir, "camille", "encore un autre") == "ok"
    typed(monkeypatch, "troisième essai", "autre chose")
    assert main(["passwd", "camille"]) == 1
    assert "ne correspondent pas" in capsys.readouterr().err
    assert login(data_dir, "camille", "encore un autre") == "ok"

    assert main(["remove", "camille"]) == 0
    assert capsys.readouterr().out == "Compte « camille » supprimé.\n"
    assert main(["remove", "camille"]) == 1
    assert capsys.readouterr().err == "Aucun compte « camille ».\n"
    assert main(["passwd", "camille", "--password-stdin"]) == 1
    assert "Aucun compte" in capsys.readouterr().err
    main(["list"])
    assert capsys.readouterr().out == "dominique (désactivé)\n1 compte(s).\n"


@pytest.mark.parametrize("command", ["add", "passwd"])
def test_cli_never_takes_the_password_as_an_argument(data_dir: Path, capsys, command: str):
    secret = "mon-secret-2024"
    with pytest.raises(SystemExit) as exited:
        main([command, "camille", secret])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "ligne de commande" in err and secret not in err
    with pytest.raises(SystemExit):
        main([command, "camille", "--password", secret])
    assert secret not in capsys.readouterr().err
    with opened() as store:
        assert store.names() == []


def test_python_dash_m_bot_accounts(data_dir: Path):
    env = dict(os.environ)  # DATA_DIR and DATABASE_URL as the fixture set them
    done = subprocess.run(
        [sys.executable, "-m", "bot.accounts", "add", "camille", "--password-stdin"],
        input=PASSWORD + "\n", text=True, capture_output=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Compte « camille » créé.\n"
    assert login(data_dir, "camille", PASSWORD) == "ok"

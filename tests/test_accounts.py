"""Mediator accounts: scrypt-hashed passwords checked in constant shape, French refusals,
throttled logins, and `python -m bot.accounts` that never takes a password as an argument."""

from __future__ import annotations

import base64
import getpass
import io
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot import accounts
from bot.accounts import (
    MAX_FAILURES_PER_IP,
    MAX_FAILURES_PER_NAME,
    THROTTLE_WINDOW,
    AccountError,
    AccountStore,
    LoginResult,
    hash_password,
    main,
    verify_password,
)
from bot.settings import ROOT, Settings

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
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "accounts.db"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[AccountStore]:
    with AccountStore(db_path, clock=clock) as opened:
        yield opened


@pytest.fixture
def camille(store: AccountStore) -> AccountStore:
    store.create("camille", PASSWORD)
    return store


def raw_rows(path: Path | str, sql: str, params: tuple = ()) -> list[tuple]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(sql, params).fetchall()


def refusal(store: AccountStore, name: str, password: str) -> str:
    with pytest.raises(AccountError) as caught:
        store.create(name, password)
    return str(caught.value)


# --- the store ------------------------------------------------------------------------------


def test_open_uses_data_dir_and_sets_up_the_database(tmp_path: Path):
    settings = Settings({**Settings.from_env().values, "DATA_DIR": str(tmp_path / "new")})
    with AccountStore.open(settings) as store:
        assert store.path == tmp_path / "new" / "accounts.db"
        assert store.schema_version == len(accounts.MIGRATIONS)
        assert store.journal_mode == "wal"
    with AccountStore.open(settings) as again:  # reopening applies nothing twice
        assert again.names() == []


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
    (stored,) = raw_rows(camille.path, "SELECT password_hash FROM mediators")[0]
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
    old = raw_rows(camille.path, "SELECT password_hash FROM mediators")[0][0]
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**15)
    assert verify_password(PASSWORD, old)  # still checked with its own N
    assert camille.check_login("camille", PASSWORD, IP).ok
    new = raw_rows(camille.path, "SELECT password_hash FROM mediators")[0][0]
    assert new.startswith("scrypt$32768$8$1$") and verify_password(PASSWORD, new)


def test_accented_passwords_match_however_they_are_composed():
    stored = hash_password("café crème glacé")
    assert verify_password("cafe\u0301 cre\u0300me glace\u0301", stored)


def test_the_password_is_stored_nowhere_in_clear(camille: AccountStore, tmp_path: Path):
    camille.check_login("camille", PASSWORD, IP)
    camille.check_login("camille", "mauvais mot de passe", IP)
    (stored,) = raw_rows(camille.path, "SELECT password_hash FROM mediators")[0]
    assert PASSWORD not in stored
    camille.close()
    for file in tmp_path.iterdir():
        data = file.read_bytes()
        assert PASSWORD.encode() not in data and b"mauvais mot de passe" not in data


# --- throttling -----------------------------------------------------------------------------


def fail(store: AccountStore, times: int, name: str = "camille", ip: str = IP) -> None:
    for _ in range(times):
        assert store.check_login(name, "mauvais mot de passe", ip).status == "bad"


def test_every_attempt_is_recorded(camille: AccountStore):
    camille.check_login("camille", PASSWORD, IP)
    camille.check_login("Camille", "mauvais mot de passe", "198.51.100.7")
    rows = raw_rows(camille.path, "SELECT name, ip, at, ok, throttled FROM login_attempts")
    assert rows == [
        ("camille", IP, "2024-03-04T09:30:00.000000+00:00", 1, 0),
        ("camille", "198.51.100.7", "2024-03-04T09:30:00.000000+00:00", 0, 0),
    ]


def test_five_failures_lock_the_name_until_the_window_passes(
    camille: AccountStore, clock: FakeClock
):
    fail(camille, MAX_FAILURES_PER_NAME - 1)
    clock.advance(minutes=5)
    fail(camille, 1)
    clock.advance(minutes=1)
    # Even the right password, from another address, is refused without being checked.
    locked = camille.check_login("camille", PASSWORD, "198.51.100.7")
    assert locked == LoginResult("throttled", retry_after=9 * 60)
    assert raw_rows(camille.path, "SELECT ok, throttled FROM login_attempts")[-1] == (0, 1)
    # Other names are not concerned.
    camille.create("dominique", PASSWORD)
    assert camille.check_login("dominique", PASSWORD, IP).ok
    # Refused attempts do not extend the lock; the oldest failures age out.
    clock.advance(seconds=9 * 60 - 1)
    assert camille.check_login("camille", PASSWORD, IP) == LoginResult("throttled", 1)
    clock.advance(seconds=1)
    assert camille.check_login("camille", PASSWORD, IP).ok


def test_a_successful_login_ends_the_run_of_failures_for_its_name(
    camille: AccountStore, clock: FakeClock
):
    fail(camille, MAX_FAILURES_PER_NAME - 1)
    assert camille.check_login("camille", PASSWORD, IP).ok
    fail(camille, MAX_FAILURES_PER_NAME - 1)
    assert camille.check_login("camille", PASSWORD, IP).ok


def test_unknown_names_are_throttled_like_real_ones(camille: AccountStore):
    fail(camille, MAX_FAILURES_PER_NAME, name="personne")
    assert camille.check_login("personne", "x", IP).status == "throttled"


def test_twenty_failures_from_one_address_lock_that_address(
    camille: AccountStore, clock: FakeClock
):
    for i in range(MAX_FAILURES_PER_IP):
        fail(camille, 1, name=f"nom{i}")
    locked = camille.check_login("camille", PASSWORD, IP)
    assert locked.status == "throttled"
    assert locked.retry_after == THROTTLE_WINDOW.total_seconds()
    # Another address is not concerned, and its success does not unlock this one.
    assert camille.check_login("camille", PASSWORD, "198.51.100.7").ok
    assert camille.check_login("camille", PASSWORD, IP).status == "throttled"
    clock.advance(minutes=15)
    assert camille.check_login("camille", PASSWORD, IP).ok


def test_attempts_older_than_a_day_are_forgotten(camille: AccountStore, clock: FakeClock):
    fail(camille, 3)
    clock.advance(hours=23)
    fail(camille, 1)
    clock.advance(hours=2)
    camille.check_login("camille", PASSWORD, IP)
    assert raw_rows(camille.path, "SELECT COUNT(*) FROM login_attempts") == [(2,)]


# --- command line ---------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    return tmp_path


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
    with AccountStore(data_dir / "accounts.db") as store:
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
    with AccountStore(data_dir / "accounts.db") as store:
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
    with AccountStore(data_dir / "accounts.db") as store:
        store.set_disabled("dominique")
    capsys.readouterr()
    assert main(["list"]) == 0
    assert capsys.readouterr().out == "camille\ndominique (désactivé)\n2 compte(s).\n"

    typed(monkeypatch, "nouveau mot de passe", "nouveau mot de passe")
    assert main(["passwd", "camille"]) == 0
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
    with AccountStore(data_dir / "accounts.db") as store:
        assert store.names() == []


def test_python_dash_m_bot_accounts(tmp_path: Path):
    env = {**os.environ, "DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bot.accounts", "add", "camille", "--password-stdin"],
        input=PASSWORD + "\n", text=True, capture_output=True, env=env, cwd=ROOT, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Compte « camille » créé.\n"
    assert login(tmp_path, "camille", PASSWORD) == "ok"

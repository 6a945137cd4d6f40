"""People's accounts: argon2id hashes as argon2 itself reads them, the slow-down and the lock
after failed sign-ins (kept across a restart), and `communectl user ...` as an admin runs it."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from argon2.low_level import Type

from controller.errors import Conflict, InvalidInput, NotFound
from controller.platform.store import Store
from controller.platform.users import (
    FREE_ATTEMPTS,
    LOCK_AFTER,
    LOCK_FOR,
    MAX_DELAY,
    TABLE,
    User,
    UserBook,
    delay_after,
)

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
PASSWORD = "mùa lúa chín 2026"
# Cheap parameters for the tests that sign in many times; the format test uses the defaults.
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture
def book(tmp_path: Path) -> UserBook:
    return UserBook(Store(tmp_path / "data"), hasher=FAST)


def test_the_stored_hash_is_argon2id_and_argon2_verifies_it(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    UserBook(store).create(name="lan", role="operator", password=PASSWORD, now=NOW)
    stored = store.get(TABLE, "lan")
    assert stored is not None
    assert PASSWORD not in str(stored)
    password_hash = str(stored["password_hash"])
    assert password_hash.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    checker = PasswordHasher()
    assert checker.verify(password_hash, PASSWORD)
    assert not checker.check_needs_rehash(password_hash)
    with pytest.raises(VerifyMismatchError):
        PasswordHasher(type=Type.ID).verify(password_hash, PASSWORD + " ")


def test_sign_in_outcomes(book: UserBook) -> None:
    book.create(name="lan", role="operator", password=PASSWORD, now=NOW)
    ok = book.sign_in("lan", PASSWORD, now=NOW)
    assert (ok.outcome, ok.user and ok.user.role) == ("ok", "operator")
    assert book.sign_in("lan", PASSWORD.upper(), now=NOW).outcome == "wrong"
    assert book.sign_in("mai", PASSWORD, now=NOW).outcome == "unknown"
    book.disable("lan")
    assert book.sign_in("lan", PASSWORD, now=NOW + timedelta(hours=1)).outcome == "disabled"


def test_failures_slow_down_then_lock_and_the_lock_survives_a_restart(
        tmp_path: Path) -> None:
    book = UserBook(Store(tmp_path / "data"), hasher=FAST)
    book.create(name="lan", role="technician", password=PASSWORD, now=NOW)
    at = NOW
    for failure in range(1, LOCK_AFTER):
        result = book.sign_in("lan", "wrong password", now=at)
        assert result.outcome == "wrong", failure
        wait = delay_after(failure)
        if failure >= FREE_ATTEMPTS:
            # Too soon: not even weighed, the right password included.
            early = book.sign_in("lan", PASSWORD, now=at + wait / 2)
            assert (early.outcome, early.retry_at) == ("wait", at + wait)
        at += wait
    locking = book.sign_in("lan", "wrong password", now=at)
    assert (locking.outcome, locking.retry_at) == ("locked", at + LOCK_FOR)

    restarted = UserBook(Store(tmp_path / "data"), hasher=FAST)
    assert restarted.sign_in("lan", PASSWORD, now=at + LOCK_FOR / 2).outcome == "locked"
    after = restarted.sign_in("lan", PASSWORD, now=at + LOCK_FOR)
    assert after.outcome == "ok"
    assert after.user is not None and after.user.failures == 0


def test_the_delay_grows_and_is_capped() -> None:
    delays = [delay_after(n) for n in range(12)]
    assert delays[:FREE_ATTEMPTS] == [timedelta(0)] * FREE_ATTEMPTS
    assert delays[FREE_ATTEMPTS:FREE_ATTEMPTS + 3] == [timedelta(seconds=s) for s in (1, 2, 4)]
    assert max(delays) == MAX_DELAY
    assert delays == sorted(delays)


def test_a_new_password_enables_and_unlocks(book: UserBook) -> None:
    book.create(name="lan", role="viewer", password=PASSWORD, now=NOW)
    for _ in range(LOCK_AFTER):
        book.sign_in("lan", "wrong password", now=NOW + timedelta(minutes=_))
    book.disable("lan")
    book.set_password("lan", "một mật khẩu mới", now=NOW + timedelta(hours=1))
    assert book.sign_in("lan", PASSWORD, now=NOW + timedelta(hours=1)).outcome == "wrong"
    later = NOW + timedelta(hours=2)
    assert book.sign_in("lan", "một mật khẩu mới", now=later).outcome == "ok"


def test_refusals_name_the_field_and_change_nothing(book: UserBook) -> None:
    book.create(name="lan", role="viewer", password=PASSWORD, now=NOW)
    cases = [
        (lambda: book.create(name="lan", role="viewer", password=PASSWORD, now=NOW),
         Conflict, ("name",)),
        (lambda: book.create(name="Lan Anh", role="viewer", password=PASSWORD, now=NOW),
         InvalidInput, ("name",)),
        (lambda: book.create(name="mai", role="mayor", password=PASSWORD, now=NOW),
         InvalidInput, ("role",)),
        (lambda: book.create(name="mai", role="viewer", password="short", now=NOW),
         InvalidInput, ("password",)),
        (lambda: book.set_password("mai", PASSWORD, now=NOW), NotFound, ()),
    ]
    for attempt, error, parts in cases:
        with pytest.raises(error) as raised:
            attempt()
        assert raised.value.parts == parts
    assert [u.name for u in book.list()] == ["lan"]


def test_a_record_reads_back_as_stored() -> None:
    doc = {"id": "lan", "role": "operator", "password_hash": "$argon2id$v=19$x",
           "created_at": "2026-12-02T08:00:00+07:00",
           "password_changed_at": "2026-12-02T09:00:00+07:00", "disabled": False,
           "failures": 2, "last_failure_at": "2026-12-02T10:00:00+07:00", "locked_until": None}
    assert User.from_doc(doc).to_doc() == doc
    with pytest.raises(TypeError, match="disabled"):
        User.from_doc({**doc, "disabled": "no"})


COMMUNECTL = [sys.executable, "-m", "controller.cli"]


def test_the_cli_creates_lists_changes_and_disables(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"""
[site]
id = "minh-duc"
name = "Xã Minh Đức"
latitude = 20.9
longitude = 106.3
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{tmp_path / 'data'}"
""")

    def user(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([*COMMUNECTL, "user", *args, "--config", str(config)],
                              input=stdin, capture_output=True, text=True, timeout=60)

    created = user("create", "--name", "lan", "--role", "operator", "--password-stdin",
                   stdin=PASSWORD + "\n")
    assert (created.returncode, created.stdout.strip()) == (0, "user lan (operator) created")
    listing = user("list")
    assert listing.stdout.splitlines()[1].split()[:3] == ["lan", "operator", "active"]
    book = UserBook(Store(tmp_path / "data"))
    assert book.sign_in("lan", PASSWORD, now=datetime.now(UTC)).outcome == "ok"

    assert user("passwd", "lan", "--password-stdin", stdin="đổi mật khẩu rồi\n").returncode == 0
    assert book.sign_in("lan", "đổi mật khẩu rồi", now=datetime.now(UTC)).outcome == "ok"
    assert user("disable", "lan").returncode == 0
    assert user("list").stdout.splitlines()[1].split()[2] == "disabled"

    for args, stdin, says in [
        (("create", "--name", "mai", "--role", "viewer", "--password-stdin"), "short\n",
         "password: a password has 10"),
        (("create", "--name", "mai", "--role", "viewer"), "", "use --password-stdin"),
        (("create", "--name", "lan", "--role", "viewer", "--password-stdin"), PASSWORD,
         "name: a user named 'lan' already exists"),
    ]:
        refused = user(*args, stdin=stdin)
        assert refused.returncode in (1, 2), refused
        assert says in refused.stderr and "Traceback" not in refused.stderr
    missing = user("passwd", "nobody", "--password-stdin", stdin=PASSWORD)
    assert (missing.returncode, missing.stderr.strip()) == (
        1, "communectl: no user named 'nobody'")
    assert [u.name for u in book.list()] == ["lan"]

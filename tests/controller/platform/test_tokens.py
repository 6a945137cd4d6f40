"""API tokens: roles, hashes only, expiry, and tokens made or revoked by another process honoured
at once by a registry that is already running."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import controller.platform.store as store_module
from controller.platform.store import Store
from controller.platform.tokens import ROLES, TokenInfo, TokenRegistry, role_at_least

REPO = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

# What ``communectl token create`` / ``token revoke`` do, in a process of their own.
CLI = """
import sys
from datetime import UTC, datetime
from pathlib import Path
from controller.platform.store import Store
from controller.platform.tokens import TokenRegistry

registry = TokenRegistry(Store(Path(sys.argv[1])))
if sys.argv[2] == "create":
    secret, _ = registry.create(name=sys.argv[3], role="technician", expires_days=None,
                                now=datetime(2026, 11, 22, 8, 0, tzinfo=UTC))
    print(secret)
else:
    print(registry.revoke(sys.argv[3]))
"""


def cli(data: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-c", CLI, str(data), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")


@pytest.fixture
def registry(store: Store) -> TokenRegistry:
    return TokenRegistry(store)


@pytest.mark.parametrize(("role", "needed", "allowed"), [
    ("viewer", "viewer", True),
    ("viewer", "operator", False),
    ("operator", "viewer", True),
    ("operator", "technician", False),
    ("technician", "operator", True),
    ("technician", "admin", False),
    ("admin", "technician", True),
    ("admin", "admin", True),
    ("root", "viewer", False),
])
def test_each_role_includes_the_ones_before(role: str, needed: str, allowed: bool) -> None:
    assert role_at_least(role, needed) is allowed


def test_asking_for_an_unknown_role_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        role_at_least("admin", "superuser")


def test_the_secret_is_returned_once_and_only_its_hash_is_stored(
        registry: TokenRegistry, store: Store) -> None:
    secret, info = registry.create(name="lan", role="operator", expires_days=None, now=NOW)
    assert secret.startswith("cmt_")
    assert len(secret) == 4 + 43  # 32 random bytes in URL-safe base64
    assert info == TokenInfo(name="lan", role="operator", created_at=NOW, expires_at=None,
                             last4=secret[-4:])
    on_disk = (store.path / Store.FILENAME).read_text()
    assert secret not in on_disk
    assert secret[4:] not in on_disk
    assert registry.verify(secret, now=NOW) == info


@pytest.mark.parametrize("presented", ["", "cmt_", "cmt_wrong", "Bearer x", "ổ khóa"])
def test_anything_but_a_stored_secret_is_refused(registry: TokenRegistry, presented: str) -> None:
    registry.create(name="lan", role="admin", expires_days=None, now=NOW)
    assert registry.verify(presented, now=NOW) is None


def test_an_expired_token_is_refused(registry: TokenRegistry) -> None:
    secret, info = registry.create(name="temp", role="technician", expires_days=7, now=NOW)
    assert info.expires_at == NOW + timedelta(days=7)
    assert registry.verify(secret, now=NOW + timedelta(days=7, seconds=-1)) == info
    assert registry.verify(secret, now=NOW + timedelta(days=7)) is None


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "lan", "role": "operator"}, "already exists"),
    ({"name": "minh", "role": "superuser"}, "unknown role"),
    ({"name": "", "role": "viewer"}, "token name"),
    ({"name": "two words", "role": "viewer"}, "token name"),
    ({"name": "minh", "role": "viewer", "expires_days": 0}, "expires_days"),
])
def test_bad_requests_are_value_errors(registry: TokenRegistry, kwargs: dict[str, Any],
                                       message: str) -> None:
    registry.create(name="lan", role="viewer", expires_days=None, now=NOW)
    with pytest.raises(ValueError, match=message):
        registry.create(**{"expires_days": None, "now": NOW, **kwargs})
    assert [i.name for i in registry.list()] == ["lan"]


def test_list_and_revoke(registry: TokenRegistry) -> None:
    secrets = {name: registry.create(name=name, role="viewer", expires_days=None, now=NOW)[0]
               for name in ("tam", "an", "binh")}
    assert [i.name for i in registry.list()] == ["an", "binh", "tam"]
    assert registry.revoke("binh")
    assert not registry.revoke("binh")
    assert registry.verify(secrets["binh"], now=NOW) is None
    assert registry.verify(secrets["an"], now=NOW) is not None
    assert [i.name for i in registry.list()] == ["an", "tam"]


def test_a_damaged_token_record_is_skipped_not_fatal(registry: TokenRegistry,
                                                     store: Store) -> None:
    secret, _ = registry.create(name="ok", role="viewer", expires_days=None, now=NOW)
    store.put("tokens", {"id": "broken", "role": "admin"})
    assert registry.verify(secret, now=NOW) is not None
    assert [i.name for i in registry.list()] == ["ok"]


def test_verify_parses_nothing_while_tokens_are_unchanged(
        registry: TokenRegistry, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    secret, _ = registry.create(name="lan", role="viewer", expires_days=None, now=NOW)
    parses: list[Path] = []
    real_parse = store_module._parse

    def counting_parse(raw: bytes, path: Path) -> dict[str, Any] | None:
        parses.append(path)
        return real_parse(raw, path)

    monkeypatch.setattr(store_module, "_parse", counting_parse)
    for _ in range(200):
        assert registry.verify(secret, now=NOW) is not None
    assert parses == []

    # The control: the spy does see the parse that must happen once the tokens change (here
    # through a Store of its own, as `communectl token create` writes from another process),
    # so the empty list above is the registry's doing, not a spy that sees nothing.
    other, _ = TokenRegistry(Store(store.path)).create(name="cli", role="viewer",
                                                       expires_days=None, now=NOW)
    assert registry.verify(other, now=NOW) is not None
    assert parses != []
    assert all(store.path in path.parents for path in parses)


@pytest.mark.integration
def test_a_token_created_by_another_process_works_at_once(registry: TokenRegistry,
                                                         store: Store) -> None:
    own, _ = registry.create(name="controller", role="admin", expires_days=None, now=NOW)
    assert registry.verify(own, now=NOW) is not None  # the index is built and warm
    secret = cli(store.path, "create", "kythuat")
    info = registry.verify(secret, now=NOW)
    assert info is not None
    assert (info.name, info.role) == ("kythuat", "technician")


@pytest.mark.integration
def test_a_token_revoked_by_another_process_is_refused_at_once(registry: TokenRegistry,
                                                              store: Store) -> None:
    secret, _ = registry.create(name="kythuat", role="technician", expires_days=None, now=NOW)
    assert registry.verify(secret, now=NOW) is not None
    assert cli(store.path, "revoke", "kythuat") == "True"
    assert registry.verify(secret, now=NOW) is None


def test_roles_are_the_four_of_the_spec() -> None:
    assert ROLES == ("viewer", "operator", "technician", "admin")

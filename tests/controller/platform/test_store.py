"""The small-state store: atomic across power cuts (real SIGKILLs), shared by several processes,
and cheap to read when nothing changed."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tinydb import TinyDB

import controller.platform.store as store_module
from controller.errors import StorageError
from controller.platform.store import Store

REPO = Path(__file__).resolve().parents[3]

# Each round puts one document and updates a counter whose padding changes length, so the file
# grows and shrinks: a writer that rewrote in place would leave a tail of old bytes when killed
# between writing and truncating.
WRITER = """
import random
import sys
from pathlib import Path
from controller.platform.store import Store

store = Store(Path(sys.argv[1]))
prefix, count = sys.argv[2], int(sys.argv[3])
i = 0
while count < 0 or i < count:
    doc_id = f"{prefix}-{i}"
    store.put("writes", {"id": doc_id, "payload": "đèn đường"})
    pad = "x" * random.randrange(20_000)
    store.update("meta", "counter", lambda d: {**d, "n": d["n"] + 1, "pad": pad})
    print(doc_id, flush=True)  # acknowledged: put and update have returned
    i += 1
"""


def python(code: str, *args: object) -> subprocess.Popen[str]:
    """Another Python process, as a CLI command over SSH would be."""
    return subprocess.Popen([sys.executable, "-c", code, *map(str, args)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_python(code: str, *args: object) -> str:
    process = python(code, *args)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "data")


def test_put_replaces_the_whole_document_and_get_returns_copies(store: Store) -> None:
    store.put("programs", {"id": "p1", "windows": [{"on": "sunset"}], "note": "old"})
    store.put("programs", {"id": "p1", "windows": [{"on": "sunset+5m"}]})
    got = store.get("programs", "p1")
    assert got == {"id": "p1", "windows": [{"on": "sunset+5m"}]}
    got["windows"].append({"on": "04:30"})
    store.all("programs")[0]["windows"].clear()
    assert store.get("programs", "p1") == {"id": "p1", "windows": [{"on": "sunset+5m"}]}


def test_insert_new_keeps_an_existing_document(store: Store) -> None:
    assert store.insert_new("calendars", {"id": "holidays", "dates": ["09-02"]})
    assert not store.insert_new("calendars", {"id": "holidays", "dates": []})
    assert store.all("calendars") == [{"id": "holidays", "dates": ["09-02"]}]


def test_delete_and_unknown_ids(store: Store) -> None:
    store.put("overrides", {"id": "o1"})
    assert store.delete("overrides", "o1")
    assert not store.delete("overrides", "o1")
    assert store.get("overrides", "o1") is None
    assert store.all("no-such-table") == []


def test_update_of_a_missing_document_writes_nothing(store: Store) -> None:
    store.put("meta", {"id": "schema", "version": 1})
    before = store.revision()
    assert store.update("meta", "nothing", lambda d: d) is None
    assert not store.delete("meta", "nothing")
    assert store.revision() == before


def test_update_may_not_change_the_id(store: Store) -> None:
    store.put("meta", {"id": "schema", "version": 1})
    with pytest.raises(ValueError, match="must not change its id"):
        store.update("meta", "schema", lambda d: {**d, "id": "other"})
    assert store.get("meta", "schema") == {"id": "schema", "version": 1}


@pytest.mark.parametrize("doc", [{}, {"id": 7}, {"id": ""}, {"name": "x"}])
def test_documents_need_a_string_id(store: Store, doc: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="'id'"):
        store.put("programs", doc)


def test_a_transaction_writes_once_and_nothing_if_it_raises(store: Store) -> None:
    with store.transaction() as tables:
        tables.put("overrides", {"id": "a"})
        tables.put("overrides", {"id": "b"})
    committed = store.revision()

    def delete_then_fail() -> None:
        with store.transaction() as tables:
            tables.delete("overrides", "a")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        delete_then_fail()
    assert store.revision() == committed
    assert [d["id"] for d in store.all("overrides")] == ["a", "b"]


def test_transactions_do_not_nest(store: Store) -> None:
    with pytest.raises(RuntimeError, match="do not nest"), store.transaction():
        store.put("overrides", {"id": "a"})
    assert store.all("overrides") == []


def test_a_missing_or_empty_file_is_an_empty_store(tmp_path: Path) -> None:
    (tmp_path / Store.FILENAME).write_bytes(b"")
    store = Store(tmp_path)
    assert store.all("tokens") == []
    store.put("tokens", {"id": "t"})
    assert store.get("tokens", "t") == {"id": "t"}
    assert Store(tmp_path / "fresh").revision() == ()


@pytest.mark.parametrize("content", [b'{"tokens": {"1": {"id": "t"', b"[1, 2]", b'{"t": 5}'])
def test_a_corrupt_file_raises_and_is_left_as_it_is(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / Store.FILENAME
    path.write_bytes(content)
    store = Store(tmp_path)
    with pytest.raises(StorageError, match=Store.FILENAME):
        store.all("tokens")
    with pytest.raises(StorageError, match=Store.FILENAME):
        store.put("tokens", {"id": "t"})
    assert path.read_bytes() == content


def test_the_file_is_a_plain_tinydb_database(store: Store) -> None:
    store.put("programs", {"id": "p1", "name": "Đường số 5"})
    db = TinyDB(store.path / Store.FILENAME)
    try:
        assert db.table("programs").all() == [{"id": "p1", "name": "Đường số 5"}]
    finally:
        db.close()


def test_a_read_when_nothing_changed_does_not_parse(store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    store.put("tokens", {"id": "t"})
    parses: list[Path] = []
    real_parse = store_module._parse

    def counting_parse(raw: bytes, path: Path) -> dict[str, Any] | None:
        parses.append(path)
        return real_parse(raw, path)

    monkeypatch.setattr(store_module, "_parse", counting_parse)
    for _ in range(100):
        assert store.get("tokens", "t") == {"id": "t"}
    reader = Store(store.path)
    for _ in range(100):
        reader.all("tokens")
    assert len(parses) == 1  # the second Store's first read


def test_writes_of_the_same_size_in_one_clock_tick_change_the_revision(store: Store) -> None:
    reader = Store(store.path)
    store.put("meta", {"id": "level", "value": 10})
    assert reader.get("meta", "level") == {"id": "level", "value": 10}
    # Put the file's mtime ahead, as after a wall-clock step back: the next write's natural
    # mtime is then older, with the same size, perhaps even the same inode number.
    path = store.path / Store.FILENAME
    ahead = path.stat().st_mtime_ns + 10**10
    os.utime(path, ns=(ahead, ahead))
    before = store.revision()
    store.put("meta", {"id": "level", "value": 20})
    assert store.revision() != before
    assert store.revision()[1] > ahead
    assert reader.get("meta", "level") == {"id": "level", "value": 20}


def test_the_file_keeps_permissions_an_admin_set(store: Store) -> None:
    store.put("tokens", {"id": "a"})
    path = store.path / Store.FILENAME
    path.chmod(0o600)
    store.put("tokens", {"id": "b"})
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.integration
def test_another_process_write_is_seen_at_once(store: Store) -> None:
    store.put("meta", {"id": "counter", "n": 0})
    assert store.get("writes", "cli-0") is None
    revision = store.revision()
    run_python(WRITER, store.path, "cli", 1)
    assert store.revision() != revision
    assert store.get("writes", "cli-0") is not None
    assert store.get("meta", "counter")["n"] == 1  # type: ignore[index]


@pytest.mark.integration
def test_concurrent_writers_from_several_processes_lose_nothing(store: Store) -> None:
    store.put("meta", {"id": "counter", "n": 0})
    writers = [python(WRITER, store.path, f"p{n}", 50) for n in range(4)]
    for writer in writers:
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err
    ids = {d["id"] for d in store.all("writes")}
    assert ids == {f"p{n}-{i}" for n in range(4) for i in range(50)}
    # Every update was a read-modify-write under the lock: no increment lost.
    assert store.get("meta", "counter")["n"] == 200  # type: ignore[index]


@pytest.mark.integration
def test_sigkill_at_random_moments_never_loses_an_acknowledged_write(store: Store) -> None:
    store.put("meta", {"id": "counter", "n": 0})
    path = store.path / Store.FILENAME
    acknowledged: set[str] = set()
    for attempt in range(30):
        rng = random.Random(attempt)
        writer = python(WRITER, store.path, f"k{attempt}", -1)
        assert writer.stdout is not None
        for _ in range(rng.randint(1, 15)):
            line = writer.stdout.readline()
            assert line, writer.stderr.read() if writer.stderr else "writer died"
            acknowledged.add(line.strip())
        time.sleep(rng.uniform(0, 0.004))
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate(timeout=10)
        acknowledged.update(rest.split())
        assert writer.returncode == -signal.SIGKILL

        json.loads(path.read_bytes())  # always whole: the old version or the new one
        stored = {d["id"] for d in Store(store.path).all("writes")}
        assert acknowledged <= stored, f"attempt {attempt} lost {acknowledged - stored}"
        counter = Store(store.path).get("meta", "counter")
        assert counter is not None
        assert counter["n"] >= len(acknowledged)


def test_the_next_writer_removes_files_left_by_a_killed_writer(store: Store) -> None:
    leftover = store.path / f".{Store.FILENAME}.12345.deadbeef.tmp"
    leftover.write_text('{"half": ')
    Store(store.path).put("meta", {"id": "x"})
    assert not leftover.exists()
    assert sorted(p.name for p in store.path.iterdir()) == [Store.LOCKNAME, Store.FILENAME]


def test_putting_an_unchanged_document_writes_nothing(store: Store) -> None:
    store.put("programs", {"id": "p1", "windows": [{"on": "sunset", "off": "sunrise"}]})
    before = store.revision()
    store.put("programs", {"id": "p1", "windows": [{"on": "sunset", "off": "sunrise"}]})
    assert not store.insert_new("programs", {"id": "p1"})
    assert store.revision() == before

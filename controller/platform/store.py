"""Small mutable state in one TinyDB file: programmes, calendars, overrides, tokens, broadcast
programmes, meta. Anything that grows with time belongs in ``controller.platform.history`` instead.

The controller and CLI commands (``communectl token create`` over SSH) use the same data folder
at the same time, and the running controller must honour what a command wrote at once
(docs/architecture.md, Conventions). So:

- every write is a read-modify-write of the whole document under an exclusive ``flock`` on
  ``db.lock``, and it replaces the file atomically (temp file, fsync, rename, fsync of the
  folder): TinyDB's own JSONStorage rewrites the file in place, and a power cut in the middle
  leaves a file that no longer parses (docs/libraries.md, TinyDB);
- the parsed document is cached against the file's ``(st_ino, st_mtime_ns, st_size)``, so a read
  when nothing changed costs one ``stat``, and another process's write is seen at the next read.

The file stays a plain TinyDB database (``{table: {doc_id: document}}``), written through
TinyDB tables; callers see documents keyed by their string field ``id``.
"""

from __future__ import annotations

import copy
import errno
import fcntl
import json
import logging
import os
import secrets
import stat
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import where
from tinydb.storages import Storage
from tinydb.table import Table

from controller.errors import StorageError

log = logging.getLogger(__name__)

Document = dict[str, Any]
Signature = tuple[int, int, int]  # st_ino, st_mtime_ns, st_size

_READ_ONLY_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)


class AtomicJSONStorage(Storage):
    """A TinyDB storage whose file is always either the old or the new version, never half of
    each, and which parses the file again only when it changed on disk.

    It does no locking: ``Store`` serialises writers across processes.
    """

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        # For the SD-wear figures (metrics, bench): whole-file rewrites, their bytes and time.
        self.writes = 0
        self.bytes_written = 0
        self.write_seconds = 0.0
        # (signature, document) published as one tuple, so a reader on the loop never pairs
        # one version's signature with the document a worker thread's write put beside it.
        # Signature None: no file.
        self._cache: tuple[Signature | None, Document | None] | None = None

    def signature(self) -> Signature | None:
        """What identifies this version of the file; None when there is no file."""
        st = _stat_or_none(self.path)
        return None if st is None else _signature(st)

    def is_fresh(self) -> bool:
        cache = self._cache
        return cache is not None and cache[0] == self.signature()

    def cached(self) -> Document | None:
        """The document parsed last, shared and not to be mutated; ``current()`` checks it first."""
        return None if self._cache is None else self._cache[1]

    def current(self) -> Document | None:
        """The document on disk (shared, not to be mutated), parsed again only if it changed."""
        if self.is_fresh():
            return self.cached()
        return self._load()

    def read(self) -> Document | None:
        """A private copy of the document; None for a missing or empty file."""
        document = self.current()
        return None if document is None else copy.deepcopy(document)

    def write(self, data: Document) -> None:
        started = time.perf_counter()
        encoded = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        previous = _stat_or_none(self.path)
        temp = self.path.with_name(
            f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        try:
            written = _write_synced(temp, encoded, previous)
            os.replace(temp, self.path)
            fsync_dir(self.path.parent)
        except OSError as exc:
            _unlink_quietly(temp)
            raise StorageError(f"{self.path}: cannot write: {exc}") from exc
        # rename keeps the inode, mtime and size, so the temp file's stat is the new signature;
        # the cache holds what a fresh read would return (JSON turns tuples into lists).
        self._cache = (_signature(written), json.loads(encoded))
        self.writes += 1
        self.bytes_written += len(encoded)
        self.write_seconds += time.perf_counter() - started

    def remove_leftovers(self) -> int:
        """Delete temp files of writers killed mid-write. Only safe under the writers' lock,
        since a live writer's temp file looks the same."""
        removed = 0
        for leftover in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            _unlink_quietly(leftover)
            removed += 1
        if removed:
            log.info("removed %d unfinished write(s) next to %s", removed, self.path)
        return removed

    def close(self) -> None:
        self._cache = None

    def _load(self) -> Document | None:
        try:
            with open(self.path, "rb") as file:
                # fstat of the open file, not stat of the path: the signature must describe the
                # bytes we parse, even if the file is replaced in between.
                signature: Signature | None = _signature(os.fstat(file.fileno()))
                raw = file.read()
        except FileNotFoundError:
            signature, raw = None, b""
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read: {exc}") from exc
        document = _parse(raw, self.path)
        self._cache = (signature, document)
        return document


class Tables:
    """Id-keyed access to the tables of one in-memory document, through TinyDB tables.

    Documents going in and out are copied, so no caller can change the document (or the
    store's cache) behind its back.
    """

    def __init__(self, document: Document) -> None:
        self._memory = _MemoryStorage(document)

    @property
    def document(self) -> Document:
        return self._memory.document

    @property
    def changed(self) -> bool:
        return self._memory.changed

    def all(self, table: str) -> list[Document]:
        return [_plain_copy(doc) for doc in self._table(table).all()]

    def get(self, table: str, doc_id: str) -> Document | None:
        found = self._table(table).get(where("id") == doc_id)
        return None if found is None else _plain_copy(found)

    def put(self, table: str, doc: Document) -> None:
        """Insert, or replace the whole document of the same id (no merge of old fields)."""
        new = _plain_copy(_checked(doc))
        rows = self._table(table)
        stored = rows.get(where("id") == new["id"])
        if stored is None:
            rows.insert(new)
        elif dict(stored) != new:  # an unchanged document costs no write (SD card wear)
            rows.update(_replace_with(new), where("id") == new["id"])

    def insert_new(self, table: str, doc: Document) -> bool:
        new = _plain_copy(_checked(doc))
        rows = self._table(table)
        if rows.contains(where("id") == new["id"]):
            return False
        rows.insert(new)
        return True

    def delete(self, table: str, doc_id: str) -> bool:
        rows = self._table(table)
        # Check first: TinyDB writes the document even when nothing matched, and a write we can
        # skip is an SD card write saved.
        if not rows.contains(where("id") == doc_id):
            return False
        rows.remove(where("id") == doc_id)
        return True

    def update(self, table: str, doc_id: str,
               fn: Callable[[Document], Document]) -> Document | None:
        current = self.get(table, doc_id)
        if current is None:
            return None
        new = _checked(fn(current))
        if new["id"] != doc_id:
            raise ValueError(f"update of {table}/{doc_id} must not change its id to {new['id']!r}")
        self._table(table).update(_replace_with(_plain_copy(new)), where("id") == doc_id)
        return _plain_copy(new)

    def _table(self, name: str) -> Table:
        # No query cache (another process may change the file at any time) and a new Table per
        # call: a Table also remembers the next doc_id, which another process may have used.
        return Table(self._memory, name, cache_size=0)


class Store:
    """The data folder's small state, shared by every process that opens the same folder.

    Thread-safe. Two Stores on one folder exclude each other as two processes would, so never
    use one inside the other's transaction: it would wait for itself.
    """

    FILENAME = "state.json"
    LOCKNAME = "db.lock"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot create the data folder: {exc}") from exc
        self._storage = AtomicJSONStorage(self.path / self.FILENAME)
        self._lock = _FolderLock(self.path / self.LOCKNAME)
        self._mutex = threading.RLock()  # writes run in worker threads, reads on the loop
        self._in_transaction = False
        self._leftovers_checked = False

    @property
    def storage(self) -> AtomicJSONStorage:
        return self._storage

    def revision(self) -> tuple[int, ...]:
        """Changes whenever any process wrote; costs one ``stat``. Empty when there is no file."""
        return self._storage.signature() or ()

    def all(self, table: str) -> list[Document]:
        return Tables(self._snapshot()).all(table)

    def get(self, table: str, doc_id: str) -> Document | None:
        return Tables(self._snapshot()).get(table, doc_id)

    def put(self, table: str, doc: Document) -> None:
        """Insert, or replace the document with the same ``id``."""
        with self.transaction() as tables:
            tables.put(table, doc)

    def insert_new(self, table: str, doc: Document) -> bool:
        """Insert unless the id exists (seeding); False if it did."""
        with self.transaction() as tables:
            return tables.insert_new(table, doc)

    def delete(self, table: str, doc_id: str) -> bool:
        with self.transaction() as tables:
            return tables.delete(table, doc_id)

    def update(self, table: str, doc_id: str,
               fn: Callable[[Document], Document]) -> Document | None:
        """Replace a document by ``fn(current copy)``, with no other write in between; None
        (and nothing written) if there is no such document."""
        with self.transaction() as tables:
            return tables.update(table, doc_id, fn)

    @contextmanager
    def transaction(self) -> Iterator[Tables]:
        """Read-modify-write of the whole document under the exclusive lock: what the block
        changes is written once at the end, or not at all if the block raises."""
        with self._mutex:
            if self._in_transaction:
                # An inner write would be overwritten by the outer one when it commits.
                raise RuntimeError("Store transactions do not nest")
            self._in_transaction = True
            try:
                with self._lock.held(fcntl.LOCK_EX):
                    tables = Tables(self._storage.read() or {})
                    yield tables
                    if tables.changed:
                        self._remove_leftovers_once()
                        self._storage.write(tables.document)
            finally:
                self._in_transaction = False

    def close(self) -> None:
        with self._mutex:
            self._storage.close()
            self._lock.close()

    def _snapshot(self) -> Document:
        # A version of the file is never changed in place (every write replaces it, and its
        # mtime is kept increasing), so an unchanged signature means the cache is what is on
        # disk: one stat, no lock, no parse.
        if self._storage.is_fresh():
            return self._storage.cached() or {}
        with self._mutex, self._lock.held(fcntl.LOCK_SH):
            return self._storage.current() or {}

    def _remove_leftovers_once(self) -> None:
        if not self._leftovers_checked:
            self._storage.remove_leftovers()
            self._leftovers_checked = True


class _FolderLock:
    """``flock`` on the folder's lock file, shared or exclusive.

    Re-entrant for a shared request inside an exclusive hold: a second ``flock`` on the same
    open file would silently turn the exclusive lock into a shared one.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._owner_pid = 0
        self._mode: int | None = None

    @contextmanager
    def held(self, mode: int) -> Iterator[None]:
        if self._mode is not None:
            if mode == fcntl.LOCK_EX and self._mode != fcntl.LOCK_EX:
                raise RuntimeError("cannot upgrade a shared store lock to an exclusive one")
            yield
            return
        fd = self._open()
        try:
            fcntl.flock(fd, mode)
        except OSError as exc:
            raise StorageError(f"{self._path}: cannot lock: {exc}") from exc
        self._mode = mode
        try:
            yield
        finally:
            self._mode = None
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd is not None and self._owner_pid == os.getpid():
            os.close(self._fd)
        self._fd = None

    def _open(self) -> int:
        # A flock belongs to the open file, which a forked child shares with its parent: a
        # child must open its own, or parent and child would not exclude each other.
        if self._fd is not None and self._owner_pid == os.getpid():
            return self._fd
        try:
            fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno not in _READ_ONLY_ERRNOS:
                raise StorageError(f"{self._path}: cannot open: {exc}") from exc
            # A read-only account (``communectl plan``) can still take the shared lock.
            try:
                fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc2:
                raise StorageError(f"{self._path}: cannot open: {exc2}") from exc2
        self._fd, self._owner_pid = fd, os.getpid()
        return fd


class _MemoryStorage(Storage):
    """One document in memory, for TinyDB tables to read and write during a transaction."""

    def __init__(self, document: Document) -> None:
        super().__init__()
        self.document = document
        self.changed = False

    def read(self) -> Document:
        return self.document

    def write(self, data: Document) -> None:
        self.document = data
        self.changed = True


def fsync_dir(path: Path) -> None:
    """Make a created, renamed or deleted entry of ``path`` survive a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_synced(path: Path, data: bytes, previous: os.stat_result | None) -> os.stat_result:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if previous is not None:
            os.fchmod(fd, stat.S_IMODE(previous.st_mode))  # keep permissions set by an admin
            _keep_mtime_increasing(fd, previous)
        os.fsync(fd)
        return os.fstat(fd)
    finally:
        os.close(fd)


def _keep_mtime_increasing(fd: int, previous: os.stat_result) -> None:
    """ext4 timestamps are coarse (a kernel tick) and the wall clock may step back after an NTP
    sync; and the new file may reuse the old one's inode number. A strictly increasing mtime
    keeps every version's signature distinct even when two writes have the same size."""
    written = os.fstat(fd)
    if written.st_mtime_ns <= previous.st_mtime_ns:
        bumped = previous.st_mtime_ns + 1
        os.utime(fd, ns=(written.st_atime_ns, bumped))


def _parse(raw: bytes, path: Path) -> Document | None:
    if not raw.strip():
        return None
    try:
        document = json.loads(raw)
    except ValueError as exc:
        # Never overwrite it: a write starting from an empty document would lose everything.
        raise StorageError(f"{path}: not valid JSON ({exc}); the file was left as it is, "
                           "restore it from a backup or move it away") from exc
    if not isinstance(document, dict) or not all(isinstance(t, dict) for t in document.values()):
        raise StorageError(f"{path}: not a TinyDB document of tables; the file was left as it is")
    return document


def _checked(doc: Document) -> Document:
    if not isinstance(doc, dict) or not isinstance(doc.get("id"), str) or not doc["id"]:
        raise ValueError(f"a stored document needs a non-empty string 'id': {doc!r}")
    return doc


def _replace_with(new: Document) -> Callable[[MutableMapping[str, Any]], None]:
    """For TinyDB's update(): replace the stored fields (update with a dict would merge)."""
    def replace(stored: MutableMapping[str, Any]) -> None:
        stored.clear()
        stored.update(new)
    return replace


def _plain_copy(doc: Document) -> Document:
    return copy.deepcopy(dict(doc))  # dict(): a plain dict, not TinyDB's Document subclass


def _signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"{path}: cannot stat: {exc}") from exc


def _unlink_quietly(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("cannot remove %s", path)

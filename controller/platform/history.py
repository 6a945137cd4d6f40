"""History that grows: events and alarms, the audit trail, later the broadcast log.

TinyDB rewrites its whole file on every insert, so its cost grows with its age (about 50 ms and
1.3 MB written per insert at 10,000 records, docs/libraries.md), and an SD card wears with every
byte. Here each record is one line appended to a JSON-lines file for its UTC day,
``<dir>/<kind>/YYYY-MM-DD.jsonl``: an append writes one short line however old the history is,
a query opens only the days it asks for, and retention deletes whole days.

Crash and concurrency safety: a line goes out in one ``write`` on an ``O_APPEND`` descriptor and
is fsynced (``fsync_later``: on a thread of its own, see ``append``). Lines are kept under
PIPE_BUF, so the controller and a CLI command appending at the same moment do not interleave.
A power cut can tear the last line: readers skip lines that do not parse, and the next append
starts on a fresh line. (That check takes no lock, so an append racing another one may add an
empty line; readers skip it too.)

Records are never rewritten. An amendment (an alarm acknowledged or cleared) is a line
``{"amends": id, "time": ..., **changes}`` appended to the segment of the record it amends, not
to today's: a query folds it in while reading the files it reads anyway, ``get`` reads one
file, and pruning a day removes its amendments with it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import select
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.errors import StorageError
from controller.platform.store import fsync_dir

log = logging.getLogger(__name__)

Record = dict[str, Any]

RESERVED = frozenset({"id", "time", "amends"})
MAX_LINE_BYTES = select.PIPE_BUF - 1  # room for the newline that repairs a torn last line
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SEGMENT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})\.jsonl$")
_ID = re.compile(r"^(\d{13})-[0-9a-f]{6}$")


class History:
    """One kind of history (``events``, ``audit``...) in ``path/kind``.

    The caller passes every instant (``at=``): the clock is injected (docs/architecture.md,
    Conventions).
    """

    def __init__(self, path: Path, kind: str) -> None:
        if not re.fullmatch(r"[a-z0-9_-]+", kind):
            raise ValueError(f"history kind must be a plain folder name, not {kind!r}")
        self.directory = Path(path) / kind
        self.bytes_written = 0  # by this object, for the SD-wear figures in metrics and bench
        self._counter_lock = threading.Lock()
        self._directory_ready = False
        # One thread for fsyncs the writer does not wait for (created at the first); one, so
        # they run in the order of their writes.
        self._syncer: ThreadPoolExecutor | None = None
        self._syncs: list[Future[None]] = []

    def sync_pending(self) -> None:
        """Wait for the fsyncs of ``fsync_later`` appends made so far; raises StorageError if
        one failed."""
        with self._counter_lock:
            syncs, self._syncs = self._syncs, []
        for sync in syncs:
            sync.result()

    def append(self, record: Record, *, at: datetime, fsync_later: bool = False) -> Record:
        """Store ``record`` with a new ``id`` (time-sortable, unique across processes) and
        ``time`` (ISO-8601 UTC, milliseconds, as in the id); returns what was stored.

        ``fsync_later``: return once the line is written, and fsync it on this history's own
        thread. Written is enough for a process killed from then on (SIGKILL, OOM, a crash):
        the kernel has the line and later readers see it. Only a power cut in the few
        milliseconds before the fsync ends can lose it. For a write on a path that must not
        wait for the SD card: the broadcast log's claim of an item (docs/architecture.md)."""
        _check_fields(record)
        ms = unix_ms(at)
        stored = {"id": f"{ms:013d}-{secrets.token_hex(3)}", "time": _iso(ms), **record}
        self._append_line(_day_of(ms), stored, fsync_later=fsync_later)
        return stored

    def amend(self, record_id: str, changes: Record, *, at: datetime) -> Record | None:
        """Add or change fields of a stored record; returns it amended, or None (and nothing
        written) if there is no such record."""
        _check_fields(changes)
        ms = _ms_of(record_id)
        record = None if ms is None else self.get(record_id)
        if ms is None or record is None:
            return None
        amendment = {"amends": record_id, "time": _iso(unix_ms(at)), **changes}
        self._append_line(_day_of(ms), amendment)
        return {**record, **changes}

    def get(self, record_id: str) -> Record | None:
        ms = _ms_of(record_id)
        if ms is None:
            return None
        return next((r for r in self._read_day(_day_of(ms)) if r["id"] == record_id), None)

    def query(self, *, since: datetime | None = None, until: datetime | None = None,
              where: Callable[[Record], bool] | None = None, limit: int | None = None,
              newest_first: bool = False) -> list[Record]:
        """Records with ``since <= time < until`` that ``where`` accepts (after amendments are
        folded in), in time order; reads only the days in range, and stops once ``limit``
        records are found."""
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be >= 0, not {limit}")
        for bound in (since, until):
            if bound is not None:
                _require_aware(bound)  # a naive bound would silently mean local time
        first = None if since is None else since.astimezone(UTC).date()
        last = None if until is None else (until - timedelta(microseconds=1)).astimezone(UTC).date()
        days = [d for d in self.days()
                if (first is None or d >= first) and (last is None or d <= last)]
        if newest_first:
            days.reverse()
        found: list[Record] = []
        for day in days:
            if limit is not None and len(found) >= limit:
                break
            matching = [r for r in self._read_day(day)
                        if _within(r, since, until) and (where is None or where(r))]
            matching.sort(key=lambda r: r["id"], reverse=newest_first)
            found.extend(matching)
        return found if limit is None else found[:limit]

    def days(self) -> list[date]:
        """The UTC days that have a segment, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot list: {exc}") from exc
        matches = (_SEGMENT_NAME.match(name) for name in names)
        return sorted(date.fromisoformat(m.group(1)) for m in matches if m)

    def prune(self, older_than: date) -> int:
        """Delete the days before ``older_than`` (records and their amendments); returns how
        many day files went."""
        doomed = [day for day in self.days() if day < older_than]
        try:
            for day in doomed:
                self._segment(day).unlink(missing_ok=True)
            if doomed:
                fsync_dir(self.directory)
        except OSError as exc:
            raise StorageError(f"{self.directory}: cannot prune: {exc}") from exc
        return len(doomed)

    def _segment(self, day: date) -> Path:
        return self.directory / f"{day.isoformat()}.jsonl"

    def _append_line(self, day: date, entry: Record, *, fsync_later: bool = False) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(f"a {self.directory.name} record must encode to at most "
                             f"{MAX_LINE_BYTES} bytes (got {len(line)}): shorten its fields")
        path = self._segment(day)
        fd = -1
        try:
            # Folders whose entries must reach the disk too: the first day file must not be
            # lost with its folder, nor a new day file with its name (a power cut).
            folders = self._ensure_directory()
            fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # the last line was torn by a crash: start a new one
            if os.write(fd, line) != len(line):
                raise OSError("short write (disk full?)")
            if size == 0:
                folders.append(self.directory)
            if fsync_later:
                self._sync_later(path, fd, folders)
                fd = -1  # the syncing thread closes it
            else:
                _sync(fd, folders)
        except OSError as exc:
            raise StorageError(f"{path}: cannot append: {exc}") from exc
        finally:
            if fd >= 0:
                os.close(fd)
        with self._counter_lock:
            self.bytes_written += len(line)

    def _sync_later(self, path: Path, fd: int, folders: list[Path]) -> None:
        def sync() -> None:
            try:
                _sync(fd, folders)
            except OSError as exc:
                log.error("%s: fsync after an append failed: %s", path, exc)
                raise StorageError(f"{path}: cannot fsync: {exc}") from exc
            finally:
                os.close(fd)

        with self._counter_lock:
            if self._syncer is None:
                self._syncer = ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=f"history-{self.directory.name}-fsync")
            self._syncs = [s for s in self._syncs if not s.done() or s.exception()]
            try:
                self._syncs.append(self._syncer.submit(sync))
                return
            except RuntimeError:  # the interpreter is shutting down: no new threads
                pass
        sync()

    def _ensure_directory(self) -> list[Path]:
        """Create the folder (once); the folders whose entries are new, to fsync."""
        if self._directory_ready:
            return []
        missing = []
        folder = self.directory
        while not folder.is_dir():
            missing.append(folder)
            folder = folder.parent
        self.directory.mkdir(parents=True, exist_ok=True)
        self._directory_ready = True
        return [created.parent for created in missing]

    def _read_day(self, day: date) -> list[Record]:
        """The day's records in file order, amendments folded in."""
        path = self._segment(day)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"{path}: cannot read: {exc}") from exc
        records: dict[str, Record] = {}
        for number, line in enumerate(raw.split(b"\n"), start=1):
            entry = _parse_line(line)
            if entry is None:
                if line.strip():
                    log.debug("%s:%d: skipped a torn line", path, number)
                continue
            target = entry.get("amends")
            if target is None and _ms_of(entry.get("id")) is not None:
                records[entry["id"]] = entry
            elif target in records:
                records[target].update(
                    {k: v for k, v in entry.items() if k not in ("amends", "time")})
        return list(records.values())


def _sync(fd: int, folders: list[Path]) -> None:
    os.fsync(fd)
    for folder in folders:
        fsync_dir(folder)


def unix_ms(at: datetime) -> int:
    _require_aware(at)
    return (at - _EPOCH) // timedelta(milliseconds=1)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError(f"history times must be timezone-aware, not {at!r}")


def _iso(ms: int) -> str:
    return (_EPOCH + timedelta(milliseconds=ms)).isoformat(timespec="milliseconds")


def _day_of(ms: int) -> date:
    return (_EPOCH + timedelta(milliseconds=ms)).date()


def _ms_of(record_id: object) -> int | None:
    match = _ID.match(record_id) if isinstance(record_id, str) else None
    return int(match.group(1)) if match else None


def _within(record: Record, since: datetime | None, until: datetime | None) -> bool:
    at = _EPOCH + timedelta(milliseconds=_ms_of(record["id"]) or 0)
    return (since is None or at >= since) and (until is None or at < until)


def _parse_line(line: bytes) -> Record | None:
    if not line.strip():
        return None
    try:
        entry = json.loads(line)
    except ValueError:  # a torn line, or bytes cut inside a UTF-8 sequence
        return None
    return entry if isinstance(entry, dict) else None


def _check_fields(fields: Record) -> None:
    clash = RESERVED & fields.keys()
    if clash:
        raise ValueError(f"history fields {sorted(clash)} are set by History itself")

"""Importing a DGPA feed file into a repository, optionally reading it in a second process.

An import is two jobs of about equal cost: reading the XML into vacancies (and those into the rows
the database stores), and writing the rows. Both hold the GIL for most of their time, so threads
would not overlap them; with ``parallel=True`` a worker process reads the feed and sends batches of
prepared rows through a pipe while this process writes them. The pipe holds at most a batch or two,
so memory stays flat. Everything is still one transaction here: if the worker fails, nothing is
imported.

The worker is forked on Linux when this process has a single thread (a command-line import: it
starts in milliseconds); otherwise it is spawned, since forking a threaded process can copy a lock some other
thread holds (a spawned worker imports the package first, about half a second).
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
import pickle
import queue
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from . import errors
from ._sqlrows import PreparedVacancy, prepare
from .errors import FeedImportWorkerError, FeedMalformedError
from .feed import DgpaFeedReader, FeedProblem, FeedSource
from .model import Vacancy, VacancyActor
from .repository import ImportReport, VacancyRepository
from .rocdate import RocDate

if TYPE_CHECKING:
    from .sqlstore import SqlVacancyRepository

__all__ = ["PARALLEL_FROM_BYTES", "FeedImport", "ProgressCallback", "import_feed"]

#: Below this file size (about 10,000 rows) starting a worker costs more than it saves.
PARALLEL_FROM_BYTES: Final = 32 << 20
_BATCH: Final = 1000


@dataclass(frozen=True, slots=True)
class FeedImport:
    """What an import did: the repository's counts, the rows read, the announce date and the
    rows that were not loaded."""

    report: ImportReport
    rows: int
    announce_date: RocDate | None
    problems: tuple[FeedProblem, ...]


#: Told (rows read, bytes read) as an import goes on; the bytes are of the feed file itself.
ProgressCallback = Callable[[int, int], None]


def import_feed(
    repository: VacancyRepository,
    source: FeedSource,
    actor: VacancyActor,
    *,
    at: dt.datetime,
    parallel: bool | None = False,
    progress: ProgressCallback | None = None,
) -> FeedImport:
    """Read a feed and import its vacancies in one transaction; bad rows are reported, not loaded.

    :param parallel: read in a worker process (SQL repositories, a path or bytes as source);
        ``None`` decides by size (:data:`PARALLEL_FROM_BYTES`). Off by default: a library should
        not start processes unless asked. Where the worker is spawned (threaded hosts, and
        every system but Linux), Python imports the main module again in it, so a script
        calling this needs the usual ``if __name__ == "__main__":`` guard.
    :param progress: called with the rows and bytes read so far, every few dozen rows (each
        time the reader takes another chunk of the file) and once at the end.
    """
    sql = _sql_repository(repository)
    if sql is not None and _wants_worker(source, parallel):
        return _import_in_parallel(sql, source, actor, at, progress)
    reader = DgpaFeedReader(source)
    problems: list[FeedProblem] = []

    def vacancies() -> Iterator[Vacancy]:
        reported = 0
        for item in reader:
            if progress is not None and reader.bytes_read != reported:
                reported = reader.bytes_read
                progress(reader.rows, reported)
            if isinstance(item, FeedProblem):
                problems.append(item)
            else:
                yield item

    report = repository.import_many(vacancies(), actor, at=at)
    if progress is not None:
        progress(reader.rows, reader.bytes_read)
    return FeedImport(report, reader.rows, reader.announce_date, tuple(problems))


def _sql_repository(repository: VacancyRepository) -> SqlVacancyRepository | None:
    """``repository`` if it is a SQL one. Not imported here: the module needs SQLAlchemy, and if
    nothing has imported it, no repository can be one of its class."""
    sqlstore = sys.modules.get(f"{__package__}.sqlstore")
    if sqlstore is None:
        return None
    found: SqlVacancyRepository | None = (
        repository if isinstance(repository, sqlstore.SqlVacancyRepository) else None
    )
    return found


def _wants_worker(source: FeedSource, parallel: bool | None) -> bool:
    if parallel is False or not isinstance(source, str | os.PathLike | bytes | bytearray):
        return False
    if parallel:
        return True
    if isinstance(source, bytes | bytearray):
        return len(source) >= PARALLEL_FROM_BYTES
    try:
        return Path(source).stat().st_size >= PARALLEL_FROM_BYTES
    except OSError:
        return False  # the reader reports the missing file with its own error


def _import_in_parallel(
    repository: SqlVacancyRepository,
    source: FeedSource,
    actor: VacancyActor,
    at: dt.datetime,
    progress: ProgressCallback | None,
) -> FeedImport:
    method = _start_method()
    context: Any = multiprocessing.get_context("fork" if method == "fork" else "spawn")
    receiver, sender = context.Pipe(duplex=False)
    if isinstance(source, os.PathLike):
        source = os.fspath(source)
    worker = context.Process(
        target=_read_in_worker,
        args=(source, repository.engine.dialect.name == "sqlite", sender),
        name="twcert-vacancy-feed-reader",
        daemon=True,
    )
    worker.start()
    sender.close()  # ours: the worker's end closing is how a dead worker shows up as EOF here
    problems: list[FeedProblem] = []
    summary: dict[str, Any] = {}

    def rows() -> Iterator[PreparedVacancy]:
        while True:
            try:
                message = pickle.loads(receiver.recv_bytes())
            except EOFError:
                worker.join(5)
                raise FeedImportWorkerError(
                    f"the feed reader process ended without finishing (exit code {worker.exitcode})"
                ) from None
            kind = message[0]
            if kind == "rows":
                problems.extend(message[2])
                yield from message[1]
                if progress is not None:
                    progress(message[3], message[4])  # after the batch is written
            elif kind == "done":
                summary.update(rows=message[1], announce_date=message[2], bytes_read=message[3])
                return
            else:
                raise _error_from(message)

    try:
        report = repository.import_prepared(rows(), actor, at=at)
    except BaseException:
        worker.terminate()  # we failed first (a storage error, a refused row): stop reading the feed
        raise
    finally:
        receiver.close()
        worker.join(30)
        if worker.is_alive():
            worker.kill()
            worker.join()
    if progress is not None:
        progress(summary["rows"], summary["bytes_read"])
    return FeedImport(report, summary["rows"], summary["announce_date"], tuple(problems))


def _start_method() -> str:
    # Linux only: macOS system libraries are not fork-safe (CPython spawns there by default).
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        return "fork"
    return "spawn"


def _read_in_worker(source: str | bytes | bytearray, sqlite: bool, sender: Connection) -> None:
    """The worker: read the feed, send ``("rows", prepared, problems, rows, bytes)`` batches (the
    last two: how far the reader has got), then ``("done", rows, announce_date, bytes)``."""
    outbox = _Outbox(sender)
    try:
        reader = DgpaFeedReader(source)
        batch: list[PreparedVacancy] = []
        problems: list[FeedProblem] = []
        for item in reader:
            if isinstance(item, FeedProblem):
                problems.append(item)
                continue
            batch.append(prepare(item, sqlite))
            if len(batch) >= _BATCH:
                outbox.put(("rows", batch, problems, reader.rows, reader.bytes_read))
                batch, problems = [], []
        outbox.put(("rows", batch, problems, reader.rows, reader.bytes_read))
        outbox.put(("done", reader.rows, reader.announce_date, reader.bytes_read))
    except _ParentGone:
        pass  # the parent stopped reading (it failed): nothing to tell it
    except errors.VacancyError as exc:
        # Sent by name: the parent rebuilds the same catalogued error (their pickling would not).
        outbox.put(("error", type(exc).__name__, exc.detail, exc.params), final=True)
    except Exception as exc:
        outbox.put(("error", "FeedImportWorkerError", f"{type(exc).__name__}: {exc}"[:300], {}), final=True)
    finally:
        outbox.close()


class _ParentGone(Exception):
    pass


class _Outbox:
    """Sends from a thread, a few batches behind the reader.

    Without it the reader stops at every batch until the parent has taken it, and the parent waits
    for the next: the two processes would take turns instead of working at once. Writing to the
    pipe releases the GIL, so the sending thread does not slow the reading one.
    """

    def __init__(self, sender: Connection, depth: int = 4) -> None:
        self._sender = sender
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._gone = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="twcert-feed-sender", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        while (blob := self._queue.get()) is not None:
            try:
                self._sender.send_bytes(blob)
            except OSError:
                self._gone.set()
                while self._queue.get() is not None:  # let the reader's put() calls return
                    pass
                return

    def put(self, message: tuple[Any, ...], final: bool = False) -> None:
        blob = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        while not self._gone.is_set():
            try:
                self._queue.put(blob, timeout=0.1)
            except queue.Full:
                continue
            return
        if not final:
            raise _ParentGone

    def close(self) -> None:
        if not self._gone.is_set():
            self._queue.put(None)
            self._thread.join()
        self._sender.close()


def _error_from(message: tuple[Any, ...]) -> errors.VacancyError:
    _kind, name, detail, params = message
    cls = getattr(errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, errors.VacancyError)):
        return FeedMalformedError(str(detail))
    return cls(detail, **params)

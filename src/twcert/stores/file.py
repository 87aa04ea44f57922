"""A PIN-failure ledger in a JSON file, for the card tools on a user's desktop.

Each change takes an exclusive lock (``flock``; ``msvcrt`` on Windows) on a side lock file,
re-reads the file, and replaces it
atomically (write to a temporary file, ``fsync``, ``os.replace``), so two card tools running at
once never lose a count and a crash never leaves a half-written ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TypeVar

__all__ = ["FilePinCounterStore", "default_state_dir", "exclusive_lock"]

T = TypeVar("T")


@contextlib.contextmanager
def exclusive_lock(handle: IO[bytes]) -> Iterator[None]:
    """An exclusive lock on an open file, across processes: ``flock`` on POSIX, ``msvcrt``
    byte-range locking on Windows (where most HiCOS users are)."""
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import msvcrt

        handle.seek(0)
        while True:
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
                break
            except OSError:  # LK_LOCK gives up after ~10 s; keep waiting like flock does
                continue
        try:
            yield
        finally:
            handle.seek(0)
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/twcert`` (default ``~/.local/state/twcert``)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "twcert"


class FilePinCounterStore:
    """PIN-failure counters by card serial, persisted in ``path`` (JSON)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_state_dir() / "pin-ledger.json"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self._lock_path, "a+b") as lock, exclusive_lock(lock):
            yield

    def _read(self) -> dict[str, int]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (ValueError, UnicodeDecodeError):
            # A corrupt ledger must not unlock cards: refuse loudly instead of starting at zero.
            raise RuntimeError(f"PIN ledger {self.path} is corrupt; inspect or remove it") from None
        return {str(k): int(v) for k, v in data.items()}

    def _write(self, counts: dict[str, int]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".pin-ledger.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(counts, fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def _update(self, change: Callable[[dict[str, int]], T]) -> T:
        with self._locked():
            counts = self._read()
            result = change(counts)
            self._write(counts)
            return result

    def get(self, key: str) -> int:
        with self._locked():
            return self._read().get(key, 0)

    def increment(self, key: str) -> int:
        def change(counts: dict[str, int]) -> int:
            counts[key] = counts.get(key, 0) + 1
            return counts[key]

        return self._update(change)

    def set(self, key: str, count: int) -> None:
        def change(counts: dict[str, int]) -> None:
            counts[key] = count

        self._update(change)

    def raise_to(self, key: str, count: int) -> int:
        def change(counts: dict[str, int]) -> int:
            counts[key] = max(counts.get(key, 0), count)
            return counts[key]

        return self._update(change)

    def reset(self, key: str) -> None:
        def change(counts: dict[str, int]) -> None:
            counts.pop(key, None)

        self._update(change)

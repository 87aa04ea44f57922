"""Verified CRL indexes by distribution-point URL: preload, fetch, refresh, share.

* :meth:`CRLCache.preload` takes CRL bytes the host app already has (a file, a mirror).
* :meth:`CRLCache.fetch` downloads from a CDP URL — one download per URL at a time however many
  logins ask (single flight), with ``If-None-Match``/``If-Modified-Since`` on refresh — and
  verifies the CRL against the issuing CA before anything is indexed.
* :meth:`CRLCache.start_background_refresh` keeps a set of CRLs fresh in a daemon thread, so no
  login waits for a 20 MB download: refreshed ``refresh_margin`` before ``nextUpdate``.
* With ``directory=``, every verified index is also written there (atomically) and other
  worker processes :meth:`~CRLCache.load_directory` it through a shared read-only mmap. The
  directory must belong to the running user and be closed to group and others
  (:class:`~twcert.errors.UnsafeDirectoryError` otherwise). With a deployment ``key`` a
  persisted index is trusted by its HMAC; without one, :meth:`~CRLCache.load_directory`
  verifies each stored CRL against its issuing CA again (see ``docs/threat-model.md``).

An index is only ever used for certificates of the CA that signed it (matched by key
identifier), and only while fresh; a stale CRL answers nothing ("status unknown"). A CRL whose
number is lower than one already seen for its URL and CA is refused (a rollback).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..certificate import TaiwanCertificate
from ..errors import RevocationDataError, UnsafeDirectoryError
from .crl_index import CRLIndex
from .http import Fetcher, FetchError, UrllibFetcher

__all__ = ["BackgroundRefresher", "CRLCache"]

logger = logging.getLogger(__name__)

_DEFAULT_MAX_BYTES: Final = 128 * 1024 * 1024


@dataclass(slots=True)
class _Entry:
    index: CRLIndex
    etag: str | None = None
    last_modified: str | None = None


class CRLCache:
    """Thread-safe store of verified :class:`CRLIndex` objects keyed by CDP URL.

    :param fetcher: HTTP client (default: :class:`~twcert.revocation.http.UrllibFetcher`).
    :param timeout: overall deadline of one download, in seconds (connection, redirects and
        body together); also the longest a login waits for another thread's download of the
        same URL.
    :param max_bytes: largest CRL accepted.
    :param skew: clock tolerance for thisUpdate/nextUpdate.
    :param refresh_margin: how long before nextUpdate a background refresh is due.
    :param directory: optional place to persist indexes for other processes (created 0700).
        It must be owned by the running user and not writable by group or others.
    :param key: a deployment secret (the documented way for shared directories): persisted
        indexes then carry an HMAC over the table, the CRL's number and digest and the URL and
        validators stored with it, so a process that can write the directory but lacks the key
        cannot plant or alter an index the others would trust. Without a key,
        :meth:`load_directory` re-verifies every stored CRL against its issuer.
    :raises UnsafeDirectoryError: ``directory`` is not owned by the running user, is writable
        by group or others, or is a symlink.
    """

    def __init__(
        self,
        *,
        fetcher: Fetcher | None = None,
        timeout: float = 30.0,
        max_bytes: int = _DEFAULT_MAX_BYTES,
        skew: dt.timedelta = dt.timedelta(minutes=5),
        refresh_margin: dt.timedelta = dt.timedelta(hours=1),
        directory: str | os.PathLike[str] | None = None,
        key: bytes | None = None,
    ) -> None:
        self.fetcher: Fetcher = fetcher or UrllibFetcher()
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.skew = skew
        self.refresh_margin = refresh_margin
        self.directory = Path(directory) if directory is not None else None
        self._key = key
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        # Highest CRL number seen per (URL, issuer key identifier): never goes down.
        self._highest: dict[tuple[str, bytes], int] = {}
        if self.directory is not None:
            _safe_directory(self.directory)

    # -- local answers (no network) ----------------------------------------------------------

    def get(self, url: str, issuer_key_id: bytes, at: dt.datetime) -> CRLIndex | None:
        """A fresh index for ``url`` signed by the CA with ``issuer_key_id``, or None."""
        entry = self._entries.get(url)
        if entry is None:
            return None
        index = entry.index
        if index.issuer_key_identifier != issuer_key_id or not index.is_fresh(at, skew=self.skew):
            return None
        return index

    def __contains__(self, url: object) -> bool:
        return url in self._entries

    def urls(self) -> list[str]:
        return list(self._entries)

    def stored(self, url: str) -> CRLIndex | None:
        """The index held for ``url``, fresh or stale, for reports (``twcert crl status``);
        revocation answers come from :meth:`get`, which refuses a stale one."""
        entry = self._entries.get(url)
        return entry.index if entry is not None else None

    # -- filling the cache -------------------------------------------------------------------

    def put(
        self, url: str, index: CRLIndex, *, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """Store a verified index (replacing an older CRL of the same URL, never a newer one).

        :raises RevocationDataError: the CRL's number is lower than one already seen for this
            URL and issuer (an old CRL served or put back: a rollback).
        """
        with self._lock:
            if not self._admit(url, index):
                return
            self._entries[url] = _Entry(index, etag, last_modified)
        if self.directory is not None:
            self._persist(url, index, etag, last_modified)

    def _admit(self, url: str, index: CRLIndex) -> bool:
        """Under ``_lock``: refuse a rollback, and whether ``index`` replaces the current one."""
        number = index.crl_number
        slot = (url, index.issuer_key_identifier)
        if number is not None:
            highest = self._highest.get(slot)
            if highest is not None and number < highest:
                raise RevocationDataError(
                    f"CRL number {number} for {url} is lower than {highest} already seen (rollback refused)"
                )
            self._highest[slot] = number
        current = self._entries.get(url)
        return current is None or not _newer(current.index, index)

    def highest_crl_number(self, url: str, issuer_key_id: bytes) -> int | None:
        """The highest CRL number seen for ``url`` from the CA with ``issuer_key_id``."""
        return self._highest.get((url, issuer_key_id))

    def preload(self, der: bytes, issuer: TaiwanCertificate, *, url: str | None = None) -> CRLIndex:
        """Verify and index CRL bytes the app already has; stored under ``url`` (or every URL
        in the CRL's IssuingDistributionPoint) so certificates naming it find it."""
        index = CRLIndex.from_der(der, issuer=issuer, max_bytes=self.max_bytes)
        targets = [url] if url else list(index.partition_urls)
        if not targets:
            raise ValueError("give the CDP URL this CRL is published at (it has no distribution point)")
        for target in targets:
            self.put(target, index)
        return index

    def fetch(self, url: str, issuer: TaiwanCertificate, at: dt.datetime, *, force: bool = False) -> CRLIndex:
        """Download (or conditionally refresh) ``url`` and verify it against ``issuer``.

        Concurrent callers for one URL wait for a single download, but never longer than
        ``timeout``. Unless ``force``, a fresh cached index for the same issuer is returned at
        once, without any request and without waiting for a download in progress (a stalled
        background refresh never delays a login that the cached CRL can answer).

        :raises FetchError: the download failed, or another download of ``url`` was still
            running after ``timeout`` seconds.
        :raises RevocationDataError: the CRL is malformed, wrongly signed, from another issuer,
            or older (by CRL number) than one already seen.
        """
        if not force:
            cached = self.get(url, issuer.subject_key_identifier, at)
            if cached is not None:
                return cached
        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        if not url_lock.acquire(timeout=max(self.timeout, 0.0)):
            cached = self.get(url, issuer.subject_key_identifier, at)
            if cached is not None and not force:
                return cached
            raise FetchError(f"another download of {url} is still running after {self.timeout:g} s")
        try:
            if not force:
                cached = self.get(url, issuer.subject_key_identifier, at)
                if cached is not None:
                    return cached
            entry = self._entries.get(url)
            headers: dict[str, str] = {}
            if entry is not None and entry.index.issuer_key_identifier == issuer.subject_key_identifier:
                if entry.etag:
                    headers["If-None-Match"] = entry.etag
                if entry.last_modified:
                    headers["If-Modified-Since"] = entry.last_modified
            response = self.fetcher.get(url, timeout=self.timeout, max_bytes=self.max_bytes, headers=headers)
            if response.status == 304 and entry is not None:
                logger.debug("CRL %s not modified", url)
                return entry.index
            if not response.body:
                raise FetchError(f"empty CRL response from {url}")
            index = CRLIndex.from_der(response.body, issuer=issuer, max_bytes=self.max_bytes)
            if not index.covers(url):
                # A partition CRL must be the one the certificate pointed at (a relative-name
                # distribution point covers no URL at all).
                scope = index.partition_urls[0] if index.partition_urls else "another scope"
                raise RevocationDataError(f"CRL at {url} is a partition for {scope}")
            self.put(
                url,
                index,
                etag=_header(response.headers, "ETag"),
                last_modified=_header(response.headers, "Last-Modified"),
            )
            logger.info("CRL %s: %d entries, next update %s", url, len(index), index.next_update)
            return index
        finally:
            url_lock.release()

    def due_for_refresh(self, url: str, at: dt.datetime) -> bool:
        entry = self._entries.get(url)
        if entry is None:
            return True
        next_update = entry.index.next_update
        return next_update is None or at >= next_update - self.refresh_margin

    # -- sharing across processes ------------------------------------------------------------

    def _path_for(self, url: str) -> Path:
        assert self.directory is not None
        return self.directory / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".crlidx")

    def _persist(self, url: str, index: CRLIndex, etag: str | None, last_modified: str | None) -> None:
        """Write ``index`` (with its URL and HTTP validators inside the authenticated file) for
        other processes; a failure is logged, never fails the caller (the index in memory serves)."""
        assert self.directory is not None
        try:
            _safe_directory(self.directory)
            index.save(
                self._path_for(url),
                key=self._key,
                annotations={"url": url, "etag": etag, "last_modified": last_modified},
            )
            if index.crl_number is not None:
                self._record_highest(url, index.issuer_key_identifier, index.crl_number)
        except (OSError, UnsafeDirectoryError) as exc:
            logger.error("CRL index for %s not persisted: %s", url, exc)

    # The highest CRL number seen per URL is also kept in the directory (``<stem>.seen``, under
    # the key's HMAC), so a worker starting later refuses an older index put back without it.

    def _seen_path(self, url: str) -> Path:
        return self._path_for(url).with_suffix(".seen")

    def _seen_mac(self, body: bytes) -> str:
        return (
            hmac.new(self._key, body, hashlib.sha256) if self._key is not None else hashlib.sha256(body)
        ).hexdigest()

    def _read_highest(self, url: str) -> dict[bytes, int]:
        """The numbers recorded for ``url`` by issuer key id; {} if none or not authentic."""
        try:
            fd = os.open(self._seen_path(url), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            with os.fdopen(fd, "rb") as handle:
                raw = handle.read(1 << 16)
            record = json.loads(raw)
            body = json.dumps(record["numbers"], sort_keys=True).encode()
            if record["url"] != url or not hmac.compare_digest(
                self._seen_mac(url.encode() + b"\0" + body), record["mac"]
            ):
                raise ValueError("not authentic")
            return {bytes.fromhex(k): int(v) for k, v in record["numbers"].items()}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("ignoring CRL number record for %s: %s", url, exc)
            return {}

    def _record_highest(self, url: str, issuer_key_id: bytes, number: int) -> None:
        numbers = {k.hex(): str(v) for k, v in self._read_highest(url).items()}
        if int(numbers.get(issuer_key_id.hex(), "-1")) >= number:
            return
        numbers[issuer_key_id.hex()] = str(number)
        body = json.dumps(numbers, sort_keys=True).encode()
        record = {"url": url, "numbers": numbers, "mac": self._seen_mac(url.encode() + b"\0" + body)}
        assert self.directory is not None
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".seen.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out)
            os.replace(tmp, self._seen_path(url))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def load_directory(self, issuers: Iterable[TaiwanCertificate] = ()) -> int:
        """Open every index persisted in ``directory`` (by any process); return how many.

        With the cache's ``key`` a file is trusted by its HMAC. Without it, each file's CRL is
        verified again against the CA among ``issuers`` whose key signed it, and the table must
        be derived from it; a file whose CA is not among ``issuers`` is skipped. A file that
        fails its checks, or holds a CRL older than one already seen, is skipped with a warning.

        :raises UnsafeDirectoryError: the directory is not the running user's alone.
        """
        if self.directory is None or not self.directory.exists():
            return 0
        _safe_directory(self.directory)
        by_key: dict[bytes, TaiwanCertificate] = {ca.subject_key_identifier: ca for ca in issuers}
        loaded = 0
        for path in sorted(self.directory.glob("*.crlidx")):
            try:
                index = self._open_persisted(path, by_key)
                if index is None:
                    continue
                url = index.annotations.get("url")
                if not url or path.name != self._path_for(url).name or not index.covers(url):
                    index.close()
                    raise RevocationDataError("its URL does not match the file")
                notes = index.annotations
                recorded = self._read_highest(url)
                with self._lock:
                    for issuer_key_id, number in recorded.items():
                        slot = (url, issuer_key_id)
                        self._highest[slot] = max(number, self._highest.get(slot, number))
                    if self._admit(url, index):
                        self._entries[url] = _Entry(index, notes.get("etag"), notes.get("last_modified"))
                        loaded += 1
            except (OSError, RevocationDataError) as exc:
                logger.warning("ignoring persisted CRL index %s: %s", path.name, exc)
        return loaded

    def _open_persisted(self, path: Path, by_key: dict[bytes, TaiwanCertificate]) -> CRLIndex | None:
        if self._key is not None:
            return CRLIndex.open(path, key=self._key)
        for issuer in by_key.values():
            # The metadata names the signing key; only that CA is tried (a wrong one is refused
            # cheaply, before any signature work).
            try:
                return CRLIndex.open(path, issuer=issuer)
            except RevocationDataError as exc:
                if "not signed by the CA given" in str(exc):
                    continue
                raise
        logger.warning("persisted CRL index %s: no issuer given to verify it (no key set)", path.name)
        return None

    # -- background refresh ------------------------------------------------------------------

    def start_background_refresh(
        self,
        targets: Iterable[tuple[str, TaiwanCertificate]],
        *,
        interval: float = 300.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> BackgroundRefresher:
        """Keep ``(url, issuing CA)`` pairs fresh from a daemon thread; returns its handle."""
        refresher = BackgroundRefresher(
            self, list(targets), interval, clock or (lambda: dt.datetime.now(dt.UTC))
        )
        refresher.start()
        return refresher


def _safe_directory(directory: Path) -> None:
    """Create ``directory`` (0700) if missing; refuse one another user could write into."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(directory)
    except OSError as exc:
        raise UnsafeDirectoryError(
            str(exc), directory=str(directory), reason=f"cannot be created or read ({exc.strerror})"
        ) from exc
    reason = None
    if stat.S_ISLNK(info.st_mode):
        reason = "it is a symbolic link"
    elif not stat.S_ISDIR(info.st_mode):
        reason = "it is not a directory"
    elif info.st_uid != os.geteuid():
        reason = f"owned by uid {info.st_uid}, not by the running user (uid {os.geteuid()})"
    elif info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        reason = f"writable by group or others (mode {stat.S_IMODE(info.st_mode):04o})"
    if reason is not None:
        raise UnsafeDirectoryError(f"{directory}: {reason}", directory=str(directory), reason=reason)


def _header(headers: object, name: str) -> str | None:
    getter = getattr(headers, "get", None)
    if getter is None:
        return None
    value = getter(name) or getter(name.lower())
    return str(value) if value else None


def _newer(current: CRLIndex, candidate: CRLIndex) -> bool:
    """True if ``current`` is strictly newer than ``candidate`` (so keep current)."""
    if current.crl_number is not None and candidate.crl_number is not None:
        return current.crl_number > candidate.crl_number
    return current.this_update > candidate.this_update


class BackgroundRefresher:
    """A daemon thread refreshing CRLs before they go stale. ``stop()`` ends it."""

    def __init__(
        self,
        cache: CRLCache,
        targets: list[tuple[str, TaiwanCertificate]],
        interval: float,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.cache = cache
        self.targets = targets
        self.interval = interval
        self.clock = clock
        self.errors: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="twcert-crl-refresh", daemon=True)
        self.rounds = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def refresh_once(self) -> None:
        """One pass over the targets (also what the thread does each interval)."""
        now = self.clock()
        for url, issuer in self.targets:
            if not self.cache.due_for_refresh(url, now):
                continue
            try:
                self.cache.fetch(url, issuer, now, force=True)
                self.errors.pop(url, None)
            except (FetchError, RevocationDataError) as exc:
                # Keep the old index (it answers until it goes stale) and retry next round.
                self.errors[url] = str(exc)
                logger.warning("CRL refresh of %s failed: %s", url, exc)
        self.rounds += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh_once()
            self._stop.wait(self.interval)

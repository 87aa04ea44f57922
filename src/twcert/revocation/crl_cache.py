"""Verified CRL indexes by distribution-point URL: preload, fetch, refresh, share.

* :meth:`CRLCache.preload` takes CRL bytes the host app already has (a file, a mirror).
* :meth:`CRLCache.fetch` downloads from a CDP URL — one download per URL at a time however many
  logins ask (single flight), with ``If-None-Match``/``If-Modified-Since`` on refresh — and
  verifies the CRL against the issuing CA before anything is indexed.
* :meth:`CRLCache.start_background_refresh` keeps a set of CRLs fresh in a daemon thread, so no
  login waits for a 20 MB download: refreshed ``refresh_margin`` before ``nextUpdate``.
* With ``directory=``, every verified index is also written there (atomically) and other
  worker processes :meth:`~CRLCache.load_directory` it through a shared read-only mmap.

An index is only ever used for certificates of the CA that signed it (matched by key
identifier), and only while fresh; a stale CRL answers nothing ("status unknown").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..certificate import TaiwanCertificate
from ..errors import RevocationDataError
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
    :param timeout: seconds per download.
    :param max_bytes: largest CRL accepted.
    :param skew: clock tolerance for thisUpdate/nextUpdate.
    :param refresh_margin: how long before nextUpdate a background refresh is due.
    :param directory: optional place to persist indexes for other processes (created 0700).
    :param key: a deployment secret: persisted indexes then carry an HMAC, so a process that can
        write the directory still cannot plant a CRL index the others would trust.
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

    # -- filling the cache -------------------------------------------------------------------

    def put(
        self, url: str, index: CRLIndex, *, etag: str | None = None, last_modified: str | None = None
    ) -> None:
        """Store a verified index (replacing an older CRL of the same URL, never a newer one)."""
        with self._lock:
            current = self._entries.get(url)
            if current is not None and _newer(current.index, index):
                return
            self._entries[url] = _Entry(index, etag, last_modified)
        if self.directory is not None:
            self._persist(url, index, etag, last_modified)

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

        Concurrent callers for one URL wait for a single download. Unless ``force``, a fresh
        cached index for the same issuer is returned without any request.

        :raises FetchError: the download failed.
        :raises RevocationDataError: the CRL is malformed, wrongly signed or from another issuer.
        """
        with self._lock:
            url_lock = self._url_locks.setdefault(url, threading.Lock())
        with url_lock:
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
        assert self.directory is not None
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self._path_for(url)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".crl.", suffix=".tmp")
        os.close(fd)
        try:
            index.save(tmp, key=self._key)
            os.replace(tmp, path)
            meta = {"url": url, "etag": etag, "last_modified": last_modified, "sha256": index.sha256}
            meta_tmp = path.with_suffix(".json.tmp")
            meta_tmp.write_text(json.dumps(meta), encoding="utf-8")
            os.replace(meta_tmp, path.with_suffix(".json"))
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def load_directory(self) -> int:
        """Open every index persisted in ``directory`` (by any process); return how many."""
        if self.directory is None or not self.directory.exists():
            return 0
        loaded = 0
        for meta_path in self.directory.glob("*.json"):
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                index = CRLIndex.open(meta_path.with_suffix(".crlidx"), key=self._key)
            except (OSError, ValueError, RevocationDataError) as exc:
                logger.warning("ignoring persisted CRL index %s: %s", meta_path.name, exc)
                continue
            if index.sha256 != meta.get("sha256"):
                continue
            with self._lock:
                current = self._entries.get(meta["url"])
                if current is None or not _newer(current.index, index):
                    self._entries[meta["url"]] = _Entry(index, meta.get("etag"), meta.get("last_modified"))
                    loaded += 1
        return loaded

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

"""Keep a deployment's CRLs and ARLs current in the shared index directory (``twcert crl``).

What the trust store needs, in two kinds:

* **ARLs** — the CRLs of the roots that cover the issuing CA certificates (GRCA's ``CA.crl``),
  read from each issuing CA's CRL distribution points. The login
  :class:`~twcert.validation.Validator` takes them as DER
  (:class:`~twcert.revocation.ca_revocation.CARevocation`), so besides the shared index they are
  written as DER files under ``<directory>/ca-crls/`` (:func:`load_ca_crls`), with the same
  directory checks and atomic writes as the indexes.
* **CRLs** — the complete CRLs of the issuing CAs (MOICA, GCA …): the URLs the operator
  configures, plus every URL already in the directory (learnt when a worker fetched the CRL a
  certificate pointed at, or configured in an earlier run).

:func:`sync` downloads each one (conditionally where the directory remembers an ETag),
verifies it against its issuing CA and stores the verified index with
:class:`~twcert.revocation.CRLCache`, so worker processes
:meth:`~twcert.revocation.CRLCache.load_directory` it and never download during a login.
:func:`status` reports each one as fresh, stale or missing, for monitoring.

The directory is read only through :class:`~twcert.revocation.CRLCache`: with the deployment
``key`` each index is trusted by its HMAC; without one, each is verified again against the CA
of the trust store that signed it (a CRL of a CA outside it is not read at all).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import os
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from cryptography import x509

from ..certificate import TaiwanCertificate
from ..errors import RevocationDataError, UnsafeDirectoryError
from ..trust import TrustStore
from .ca_revocation import CARevocation
from .crl_cache import CRLCache, _safe_directory
from .crl_index import CRLIndex
from .http import FetchError, HttpResponse

__all__ = [
    "CA_CRL_SUBDIRECTORY",
    "ARLSink",
    "CRLStatus",
    "CRLTarget",
    "DeadlineFetcher",
    "DirectoryFollower",
    "SyncResult",
    "load_ca_crls",
    "plan",
    "read_directory",
    "status",
    "sync",
]

logger = logging.getLogger(__name__)

#: Where ARLs are kept as DER for :class:`~twcert.validation.Validator` (``CARevocation``).
CA_CRL_SUBDIRECTORY: Final = "ca-crls"
_CHUNK: Final = 64 * 1024
_MAX_BYTES: Final = 256 * 2**20

Kind = Literal["arl", "crl"]
Origin = Literal["ca-certificate", "configured", "learnt"]


@dataclass(frozen=True, slots=True)
class CRLTarget:
    """One CRL the deployment needs.

    :ivar kind: ``arl`` covers CA certificates (from a CA certificate's distribution point);
        ``crl`` covers holder certificates.
    :ivar origin: why it is needed: named by a CA certificate, configured, or learnt (already in
        the directory).
    :ivar issuer: the CA that must have signed it, when known before the download; otherwise
        the trusted CA whose key the CRL's authority key identifier names.
    :ivar covers: the CA certificate(s) an ARL covers, for display.
    """

    url: str
    kind: Kind
    origin: Origin
    issuer: TaiwanCertificate | None = None
    covers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What :func:`sync` did for one target."""

    target: CRLTarget
    outcome: Literal["updated", "unchanged", "failed"]
    downloaded: int = 0
    entries: int | None = None
    crl_number: int | None = None
    next_update: dt.datetime | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CRLStatus:
    """One line of :func:`status`."""

    url: str
    kind: Kind
    origin: Origin
    state: Literal["fresh", "stale", "missing"]
    issuer: str | None = None
    crl_number: int | None = None
    this_update: dt.datetime | None = None
    next_update: dt.datetime | None = None
    age: dt.timedelta | None = None
    entries: int | None = None
    detail: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "url": self.url,
            "kind": self.kind,
            "origin": self.origin,
            "state": self.state,
            "issuer": self.issuer,
            "crl_number": str(self.crl_number) if self.crl_number is not None else None,
            "this_update": self.this_update.isoformat() if self.this_update else None,
            "next_update": self.next_update.isoformat() if self.next_update else None,
            "age_seconds": int(self.age.total_seconds()) if self.age is not None else None,
            "entries": self.entries,
            "detail": self.detail,
        }


# -- downloading -------------------------------------------------------------------------------


class DeadlineFetcher:
    """A :class:`~twcert.revocation.http.Fetcher` that streams the body in chunks, reports its
    progress, and gives up when the whole download takes longer than ``deadline`` seconds
    (a socket timeout alone never fires on a server that trickles a byte a second).

    :param on_start: called with the Content-Length (or None) when the body starts.
    :param on_bytes: called with each chunk's size.
    """

    def __init__(self, *, deadline: float = 300.0, user_agent: str = "twcert-crl-sync") -> None:
        self.deadline = deadline
        self.user_agent = user_agent
        self.on_start: Callable[[int | None], None] | None = None
        self.on_bytes: Callable[[int], None] | None = None
        #: Body bytes received by the last :meth:`get`.
        self.received = 0

    def get(
        self,
        url: str,
        *,
        timeout: float,
        max_bytes: int = _MAX_BYTES,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        scheme = urllib.parse.urlsplit(url).scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL scheme {scheme!r}")
        end = time.monotonic() + self.deadline
        self.received = 0
        request = urllib.request.Request(url, headers={"User-Agent": self.user_agent, **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=min(timeout, self.deadline)) as response:
                length_text = response.headers.get("Content-Length")
                length = int(length_text) if length_text and length_text.isdigit() else None
                if length is not None and length > max_bytes:
                    raise FetchError(f"response of {length} bytes exceeds {max_bytes}")
                if self.on_start is not None:
                    self.on_start(length)
                chunks: list[bytes] = []
                size = 0
                while True:
                    remaining = end - time.monotonic()
                    if remaining <= 0:
                        raise FetchError(f"download not finished within {self.deadline:g} s")
                    _set_timeout(response, min(timeout, remaining))
                    try:
                        chunk = response.read1(_CHUNK)
                    except TimeoutError:
                        if time.monotonic() < end:
                            raise
                        raise FetchError(f"download not finished within {self.deadline:g} s") from None
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > max_bytes:
                        raise FetchError(f"response exceeds {max_bytes} bytes")
                    chunks.append(chunk)
                    self.received = size
                    if self.on_bytes is not None:
                        self.on_bytes(len(chunk))
                return HttpResponse(response.status, b"".join(chunks), dict(response.headers.items()))
        except urllib.error.HTTPError as exc:
            if exc.code == 304:
                return HttpResponse(304, b"", dict(exc.headers.items()))
            raise FetchError(f"HTTP {exc.code} from {url}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise FetchError(f"{type(exc).__name__}: {exc}") from None

    def post(
        self, url: str, body: bytes, *, content_type: str, timeout: float, max_bytes: int
    ) -> HttpResponse:
        raise FetchError("the CRL sync only downloads")


def _set_timeout(response: object, seconds: float) -> None:
    """Shorten the socket timeout so a read blocks no later than the deadline."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    if sock is not None:
        sock.settimeout(max(seconds, 0.001))


# -- what is needed ----------------------------------------------------------------------------


def _issuers(trust: TrustStore) -> list[TaiwanCertificate]:
    return [ca.certificate for ca in trust]


def _open_directory(
    directory: Path,
    trust: TrustStore,
    key: bytes | None,
    *,
    fetcher: DeadlineFetcher | None = None,
    timeout: float = 30.0,
    max_bytes: int = _MAX_BYTES,
) -> CRLCache:
    """A :class:`CRLCache` over ``directory`` holding every index it can verify there: by the
    ``key``'s HMAC, or without a key against the CA in ``trust`` that signed it.

    :raises UnsafeDirectoryError: the directory is a symlink, another user's, or writable by others.
    """
    cache = CRLCache(fetcher=fetcher, timeout=timeout, max_bytes=max_bytes, directory=directory, key=key)
    cache.load_directory(issuers=_issuers(trust))
    return cache


def read_directory(
    directory: str | os.PathLike[str], trust: TrustStore, *, key: bytes | None = None
) -> dict[str, CRLIndex]:
    """The verified indexes persisted in ``directory`` by URL, stale ones included, as
    :meth:`CRLCache.load_directory` loads them: with ``key`` trusted by their HMAC, without one
    verified again against their CA in ``trust``; any other file is skipped (logged).

    :raises UnsafeDirectoryError: the directory exists but is not the running user's alone.
    """
    base = Path(directory)
    if not os.path.lexists(base):
        return {}  # nothing synced yet; a report must not create the directory
    cache = _open_directory(base, trust, key)
    return {url: index for url in cache.urls() if (index := cache.stored(url)) is not None}


def plan(
    trust: TrustStore,
    *,
    urls: Iterable[str] = (),
    known: Mapping[str, CRLIndex] | None = None,
    at: dt.datetime,
) -> list[CRLTarget]:
    """Every CRL ``trust`` needs at ``at``: the ARLs named by its issuing CA certificates that
    are valid then, the configured ``urls``, and the ``known`` (learnt) ones."""
    targets: dict[str, CRLTarget] = {}
    for ca in trust.intermediates:
        cert = ca.certificate
        if not cert.not_before <= at <= cert.not_after:
            continue  # an expired CA (MOICA G1) signs nothing a login accepts
        parents = trust.by_key_identifier(cert.authority_key_identifier)
        for url in cert.crl_urls:
            if not url.lower().startswith(("http://", "https://")):
                continue
            previous = targets.get(url)
            names = (*(previous.covers if previous else ()), ca.name)
            issuer = parents[0].certificate if parents else None
            targets[url] = CRLTarget(url, "arl", "ca-certificate", issuer, names)
    known = known or {}
    for url in urls:
        if url not in targets:
            targets[url] = CRLTarget(url, "crl", "configured", _issuer_of(known.get(url), trust))
    for url, index in known.items():
        if url not in targets:
            targets[url] = CRLTarget(url, "crl", "learnt", _issuer_of(index, trust))
    return list(targets.values())


def _issuer_of(index: CRLIndex | None, trust: TrustStore) -> TaiwanCertificate | None:
    if index is None:
        return None
    cas = trust.by_key_identifier(index.issuer_key_identifier)
    return cas[0].certificate if cas else None


# -- sync --------------------------------------------------------------------------------------


def _ca_crl_path(directory: Path, url: str) -> Path:
    return directory / CA_CRL_SUBDIRECTORY / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".crl")


def _read_private(path: Path, max_bytes: int = _MAX_BYTES) -> bytes:
    """A regular file's bytes, never through a symlink.

    :raises OSError: absent, a symlink, not a regular file, or larger than ``max_bytes``.
    """
    # O_NONBLOCK: a FIFO planted under the name must not hang the open (no effect on files).
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{path.name} is not a regular file")
        data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise OSError(f"{path.name} is larger than {max_bytes} bytes")
        return data


def load_ca_crls(directory: str | os.PathLike[str]) -> list[bytes]:
    """The ARLs (DER) the last :func:`sync` wrote, for ``Validator(..., ca_revocation=CARevocation(...))``,
    :meth:`CARevocation.add <twcert.revocation.ca_revocation.CARevocation.add>` or
    :meth:`~twcert.validation.Validator.add_ca_crl`. The Validator verifies each itself.

    The directory and ``ca-crls/`` must pass the same checks as the index directory (the
    running user's, closed to others, not a symlink); a file that is a symlink or not a regular
    file is skipped (logged), so its CA counts as having no ARL (fail closed).

    :raises UnsafeDirectoryError: ``directory`` or its ``ca-crls/`` is unsafe.
    """
    base = Path(directory)
    folder = base / CA_CRL_SUBDIRECTORY
    if not os.path.lexists(folder):
        return []
    _safe_directory(base)
    _safe_directory(folder)
    found: list[bytes] = []
    for path in sorted(folder.glob("*.crl")):
        try:
            found.append(_read_private(path))
        except OSError as exc:
            logger.warning("ignoring ARL file %s: %s", path.name, exc)
    return found


def _write_atomically(path: Path, data: bytes) -> None:
    """Write under a random name (``O_EXCL``: never through a planted symlink), then rename;
    the directory is created 0700 and refused if unsafe, as the index directory is."""
    _safe_directory(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".arl.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _issuer_for(der: bytes, trust: TrustStore) -> TaiwanCertificate:
    """The trusted CA whose key the CRL's authority key identifier names."""
    try:
        crl = x509.load_der_x509_crl(der)
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        raise RevocationDataError("CRL without an authority key identifier: configure its CA") from None
    except Exception as exc:  # untrusted bytes: any failure to read them means "not a CRL"
        raise RevocationDataError(f"not a DER CRL ({type(exc).__name__}: {exc})") from None
    cas = trust.by_key_identifier(aki)
    if not cas:
        raise RevocationDataError(
            f"CRL signed by a CA not in the trust store (key {aki.hex() if aki else '-'})"
        )
    return cas[0].certificate


def sync(
    directory: str | os.PathLike[str],
    trust: TrustStore,
    *,
    urls: Iterable[str] = (),
    key: bytes | None = None,
    timeout: float = 30.0,
    deadline: float = 300.0,
    max_bytes: int = _MAX_BYTES,
    clock: Callable[[], dt.datetime] | None = None,
    fetcher: DeadlineFetcher | None = None,
    on_target: Callable[[CRLTarget, DeadlineFetcher], contextlib.AbstractContextManager[object]]
    | None = None,
) -> list[SyncResult]:
    """Download, verify and store every CRL and ARL :func:`plan` names; one result each.

    A failure (network, HTTP status, deadline, bad signature, a CRL number lower than the
    stored one) leaves the stored CRL as it was (it keeps answering until its nextUpdate) and is
    reported in its result.

    :param key: the deployment key the workers' ``CRLCache(key=...)`` holds: indexes are written
        under its HMAC and the stored ones trusted by it. Without it, the stored indexes are
        verified again against their CAs in ``trust`` (and written so the workers do the same).

    :param on_target: wraps each download (the CLI draws a progress bar there); it may set the
        fetcher's ``on_start``/``on_bytes`` hooks.
    :raises UnsafeDirectoryError: ``directory`` (or its ``ca-crls/``) is a symlink, another
        user's, or writable by others.
    """
    now = (clock or (lambda: dt.datetime.now(dt.UTC)))()
    base = Path(directory)
    fetcher = fetcher or DeadlineFetcher(deadline=deadline)
    # The stored indexes come back with their ETags and CRL numbers, so the downloads are
    # conditional and a lower CRL number than the stored one is refused (a rollback).
    cache = _open_directory(base, trust, key, fetcher=fetcher, timeout=timeout, max_bytes=max_bytes)
    known = {url: index for url in cache.urls() if (index := cache.stored(url)) is not None}
    targets = plan(trust, urls=urls, known=known, at=now)
    results: list[SyncResult] = []
    for target in targets:
        wrapper = on_target(target, fetcher) if on_target else contextlib.nullcontext()
        with wrapper:
            try:
                outcome, index = _sync_one(cache, fetcher, target, trust, base, now)
            except (FetchError, RevocationDataError, OSError) as exc:
                logger.warning("CRL sync of %s failed: %s", target.url, exc)
                result = SyncResult(target, "failed", fetcher.received, error=str(exc))
            else:
                result = SyncResult(
                    target, outcome, fetcher.received, len(index), index.crl_number, index.next_update
                )
            finally:
                fetcher.on_start = fetcher.on_bytes = None
                fetcher.received = 0
        results.append(result)
    return results


def _sync_one(
    cache: CRLCache,
    fetcher: DeadlineFetcher,
    target: CRLTarget,
    trust: TrustStore,
    base: Path,
    now: dt.datetime,
) -> tuple[Literal["updated", "unchanged"], CRLIndex]:
    stored = cache.stored(target.url)
    if target.kind == "crl" and target.issuer is not None:
        # Conditional (ETag / Last-Modified from the directory): an unchanged 20 MB CRL costs a 304.
        index = cache.fetch(target.url, target.issuer, now, force=True)
        unchanged = stored is not None and index.sha256 == stored.sha256
        return ("unchanged" if unchanged else "updated"), index
    response = fetcher.get(target.url, timeout=cache.timeout, max_bytes=cache.max_bytes)
    if not response.body:
        raise FetchError(f"empty CRL response from {target.url}")
    issuer = target.issuer or _issuer_for(response.body, trust)
    index = CRLIndex.from_der(response.body, issuer=issuer, max_bytes=cache.max_bytes)
    if not index.covers(target.url):
        raise RevocationDataError(f"CRL at {target.url} is a partition for another scope")
    # Refuses a CRL number lower than the stored one (RevocationDataError), keeps a newer one.
    cache.put(
        target.url,
        index,
        etag=response.headers.get("ETag") or response.headers.get("etag"),
        last_modified=response.headers.get("Last-Modified") or response.headers.get("last-modified"),
    )
    held = cache.stored(target.url)
    unchanged = stored is not None and held is not None and held.sha256 == stored.sha256
    if target.kind == "arl":
        path = _ca_crl_path(base, target.url)
        # The Validator's copy is always the ARL the index holds (never an older download).
        if held is not None and held.sha256 == index.sha256 and _sha256_of(path) != index.sha256:
            _write_atomically(path, response.body)
            unchanged = False
    return ("unchanged" if unchanged else "updated"), held or index


def _sha256_of(path: Path) -> str | None:
    """The SHA-256 of the file at ``path``, None when it is absent or unusable (a symlink …)."""
    try:
        return hashlib.sha256(_read_private(path)).hexdigest()
    except OSError:
        return None


# -- status ------------------------------------------------------------------------------------


def status(
    directory: str | os.PathLike[str],
    trust: TrustStore,
    *,
    urls: Iterable[str] = (),
    key: bytes | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    skew: dt.timedelta = dt.timedelta(minutes=5),
) -> list[CRLStatus]:
    """Each CRL :func:`plan` names, as stored in ``directory``: fresh, stale or missing.

    An ARL counts as missing when its DER copy for the Validator is absent, as stale when its
    index is (nextUpdate passed, beyond ``skew``) or when the copy is not the ARL indexed.
    Indexes are opened as the workers open them: with ``key`` by its HMAC, without it verified
    again against their CAs in ``trust``; one that cannot be verified counts as missing.

    :raises UnsafeDirectoryError: ``directory`` exists but is not the running user's alone.
    """
    now = (clock or (lambda: dt.datetime.now(dt.UTC)))()
    base = Path(directory)
    known = read_directory(base, trust, key=key)
    lines: list[CRLStatus] = []
    for target in plan(trust, urls=urls, known=known, at=now):
        index = known.get(target.url)
        if index is None:
            lines.append(CRLStatus(target.url, target.kind, target.origin, "missing", detail="never fetched"))
            continue
        meta = index.metadata
        fresh = index.is_fresh(now, skew=skew)
        detail = "" if fresh else f"nextUpdate {meta.next_update} has passed"
        state: Literal["fresh", "stale", "missing"] = "fresh" if fresh else "stale"
        if target.kind == "arl":
            copy = _sha256_of(_ca_crl_path(base, target.url))
            if copy is None:
                state, detail = "missing", f"no DER copy in {CA_CRL_SUBDIRECTORY}/ for the Validator"
            elif copy != index.sha256 and state == "fresh":
                state = "stale"
                detail = f"the DER copy in {CA_CRL_SUBDIRECTORY}/ is not the stored ARL: run the sync"
        lines.append(
            CRLStatus(
                target.url,
                target.kind,
                target.origin,
                state,
                issuer=meta.issuer,
                crl_number=meta.crl_number,
                this_update=meta.this_update,
                next_update=meta.next_update,
                age=now - meta.this_update,
                entries=meta.count,
                detail=detail,
            )
        )
    return lines


# -- in the workers ----------------------------------------------------------------------------


class _TakesCACRLs(Protocol):
    def add_ca_crl(self, der: bytes) -> None: ...


ARLSink = _TakesCACRLs | CARevocation
"""Where :class:`DirectoryFollower` hands the ARLs: a Validator (``add_ca_crl``) or its
:class:`~twcert.revocation.ca_revocation.CARevocation` (``add``)."""


class DirectoryFollower:
    """In a worker process: take up what the sync wrote, so no login downloads anything.

    :meth:`reload` opens the newer CRL indexes in ``crls`` (:meth:`CRLCache.load_directory`) and
    gives ``validator`` the ARLs it has not had yet
    (:meth:`~twcert.validation.Validator.add_ca_crl`, or :meth:`CARevocation.add
    <twcert.revocation.ca_revocation.CARevocation.add>` when given the validator's
    ``ca_revocation``); :meth:`start` does it every ``interval`` seconds from a daemon thread.
    Pair it with ``RevocationChecker(crls=crls, fetch_on_demand=False)``.

    :param trust: the CAs that verify each stored CRL again when ``crls`` has no deployment key
        (default: the validator's trust store); with a key it is not needed.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        crls: CRLCache,
        validator: ARLSink | None = None,
        *,
        trust: TrustStore | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.crls = crls
        self.validator = validator
        if trust is None:
            trust = getattr(validator, "trust", None)
        self._issuers = _issuers(trust) if isinstance(trust, TrustStore) else []
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reload(self) -> int:
        """Take up the directory's contents now; returns the indexes loaded (the newest of each
        URL, read again) plus the ARLs new to the validator."""
        loaded = self.crls.load_directory(issuers=self._issuers)
        if self.validator is not None:
            for der in load_ca_crls(self.directory):
                digest = hashlib.sha256(der).hexdigest()
                if digest not in self._seen:
                    # Verified by the Validator when used, like any CA CRL given to it.
                    if isinstance(self.validator, CARevocation):
                        self.validator.add(der)
                    else:
                        self.validator.add_ca_crl(der)
                    self._seen.add(digest)
                    loaded += 1
        return loaded

    def start(self, interval: float = 300.0) -> None:
        """:meth:`reload` now, then every ``interval`` seconds until :meth:`stop`."""
        self.reload()

        def run() -> None:
            while not self._stop.wait(interval):
                try:
                    self.reload()
                except (OSError, UnsafeDirectoryError) as exc:  # try again next round, fail closed meanwhile
                    logger.warning("reading the CRL directory %s failed: %s", self.directory, exc)

        self._thread = threading.Thread(target=run, name="twcert-crl-follow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

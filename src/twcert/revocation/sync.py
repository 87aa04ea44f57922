"""Keep a deployment's CRLs and ARLs current in the shared index directory (``twcert crl``).

What the trust store needs, in two kinds:

* **ARLs** — the CRLs of the roots that cover the issuing CA certificates (GRCA's ``CA.crl``),
  read from each issuing CA's CRL distribution points. The login
  :class:`~twcert.validation.Validator` takes them as DER (``CARevocation``), so besides the shared
  index they are written as DER files under ``<directory>/ca-crls/`` (:func:`load_ca_crls`).
* **CRLs** — the complete CRLs of the issuing CAs (MOICA, GCA …): the URLs the operator
  configures, plus every URL already in the directory (learnt when a worker fetched the CRL a
  certificate pointed at, or configured in an earlier run).

:func:`sync` downloads each one (conditionally where the directory remembers an ETag),
verifies it against its issuing CA and stores the verified index with
:class:`~twcert.revocation.CRLCache`, so worker processes
:meth:`~twcert.revocation.CRLCache.load_directory` it and never download during a login.
:func:`status` reports each one as fresh, stale or missing, for monitoring.
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
from ..errors import RevocationDataError
from ..trust import TrustStore
from .crl_cache import CRLCache
from .crl_index import CRLIndex
from .http import FetchError, HttpResponse

__all__ = [
    "CA_CRL_SUBDIRECTORY",
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


def read_directory(directory: str | os.PathLike[str], *, key: bytes | None = None) -> dict[str, CRLIndex]:
    """The verified indexes persisted in ``directory`` by URL (unreadable ones skipped), as
    :meth:`CRLCache.load_directory` would load them, stale ones included."""
    found: dict[str, CRLIndex] = {}
    base = Path(directory)
    if not base.is_dir():
        return found
    for meta_path in sorted(base.glob("*.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            url = meta["url"]
            if not isinstance(url, str):
                continue
            index = CRLIndex.open(meta_path.with_suffix(".crlidx"), key=key)
        except (OSError, ValueError, KeyError, TypeError, RevocationDataError):
            continue
        if index.sha256 == meta.get("sha256"):
            found[url] = index
    return found


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


def load_ca_crls(directory: str | os.PathLike[str]) -> list[bytes]:
    """The ARLs (DER) the last :func:`sync` wrote, for ``Validator(..., ca_revocation=CARevocation(...))`` or
    :meth:`~twcert.validation.Validator.add_ca_crl`. The Validator verifies each itself."""
    folder = Path(directory) / CA_CRL_SUBDIRECTORY
    if not folder.is_dir():
        return []
    return [path.read_bytes() for path in sorted(folder.glob("*.crl"))]


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".arl.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
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

    A failure (network, HTTP status, deadline, bad signature) leaves the stored CRL as it was
    (it keeps answering until its nextUpdate) and is reported in its result.

    :param on_target: wraps each download (the CLI draws a progress bar there); it may set the
        fetcher's ``on_start``/``on_bytes`` hooks.
    """
    now = (clock or (lambda: dt.datetime.now(dt.UTC)))()
    base = Path(directory)
    fetcher = fetcher or DeadlineFetcher(deadline=deadline)
    cache = CRLCache(fetcher=fetcher, timeout=timeout, max_bytes=max_bytes, directory=base, key=key)
    cache.load_directory()
    known = read_directory(base, key=key)
    targets = plan(trust, urls=urls, known=known, at=now)
    results: list[SyncResult] = []
    for target in targets:
        wrapper = on_target(target, fetcher) if on_target else contextlib.nullcontext()
        stored = known.get(target.url)
        with wrapper:
            try:
                outcome, index = _sync_one(cache, fetcher, target, trust, base, now, stored)
            except (FetchError, RevocationDataError) as exc:
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
    stored: CRLIndex | None,
) -> tuple[Literal["updated", "unchanged"], CRLIndex]:
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
    path = _ca_crl_path(base, target.url)
    unchanged = target.kind == "arl" and path.is_file() and path.read_bytes() == response.body
    cache.put(
        target.url,
        index,
        etag=response.headers.get("ETag") or response.headers.get("etag"),
        last_modified=response.headers.get("Last-Modified") or response.headers.get("last-modified"),
    )
    if target.kind == "arl" and not unchanged:
        _write_atomically(path, response.body)
    return ("unchanged" if unchanged else "updated"), index


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
    index is (nextUpdate passed, beyond ``skew``).
    """
    now = (clock or (lambda: dt.datetime.now(dt.UTC)))()
    base = Path(directory)
    known = read_directory(base, key=key)
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
        if target.kind == "arl" and not _ca_crl_path(base, target.url).is_file():
            state, detail = "missing", f"no DER copy in {CA_CRL_SUBDIRECTORY}/ for the Validator"
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


class DirectoryFollower:
    """In a worker process: take up what the sync wrote, so no login downloads anything.

    :meth:`reload` opens the newer CRL indexes in ``crls`` (:meth:`CRLCache.load_directory`) and
    gives ``validator`` the ARLs it has not had yet (:meth:`~twcert.validation.Validator.add_ca_crl`);
    :meth:`start` does it every ``interval`` seconds from a daemon thread. Pair it with
    ``RevocationChecker(crls=crls, fetch_on_demand=False)``.
    """

    def __init__(
        self, directory: str | os.PathLike[str], crls: CRLCache, validator: _TakesCACRLs | None = None
    ) -> None:
        self.directory = Path(directory)
        self.crls = crls
        self.validator = validator
        self._seen: set[str] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reload(self) -> int:
        """Take up the directory's contents now; returns the indexes loaded (the newest of each
        URL, read again) plus the ARLs new to the validator."""
        loaded = self.crls.load_directory()
        if self.validator is not None:
            for der in load_ca_crls(self.directory):
                digest = hashlib.sha256(der).hexdigest()
                if digest not in self._seen:
                    self.validator.add_ca_crl(der)  # verified by the Validator when used
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
                except OSError as exc:  # the directory briefly unreadable: try again next round
                    logger.warning("reading the CRL directory %s failed: %s", self.directory, exc)

        self._thread = threading.Thread(target=run, name="twcert-crl-follow", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

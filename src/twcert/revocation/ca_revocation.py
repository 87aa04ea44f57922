"""Revocation data for the CA certificates of a path: preloaded CRLs (GRCA's ARLs), else fetched.

The validator validates an issuing CA's whole path once; every CA certificate below the trust
anchor on it needs a CRL from its own issuer (root → int1 → int2 needs int1's and int2's). This
module collects them for every candidate path, verified, with the moment the set must be
re-collected: the earliest nextUpdate, or ``thisUpdate + max_age`` for a CRL without one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from ..certificate import TaiwanCertificate
from ..errors import RevocationDataError
from ..trust import TrustedCA, TrustStore
from .crl_cache import CRLCache
from .crl_index import CRLIndex
from .http import FetchError

__all__ = ["CACRLs", "CARevocation", "crl_expiry"]

_VERIFIED_KEPT = 256


@dataclass(frozen=True, slots=True)
class CACRLs:
    """The CRLs found for a CA path and until when they are usable."""

    crls: tuple[bytes, ...]
    #: Earliest expiry among them (None: none found, or none expires).
    fresh_until: dt.datetime | None
    #: Why some CA certificate has no usable CRL (for the error detail).
    failures: tuple[str, ...]


def crl_expiry(index: CRLIndex, max_age: dt.timedelta) -> dt.datetime:
    """When ``index`` stops being fresh: its nextUpdate, or ``thisUpdate + max_age`` without one."""
    if index.next_update is not None:
        return index.next_update
    try:
        return index.this_update + max_age
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)


def _fresh(index: CRLIndex, now: dt.datetime, max_age: dt.timedelta) -> bool:
    return index.is_fresh(now) and (index.next_update is not None or now - max_age <= index.this_update)


class CARevocation:
    """CRLs covering CA certificates, given in advance and/or fetched from their CDPs.

    :param crls: CRLs (DER) of the CAs' issuers (GRCA ARLs) to use instead of fetching them.
    """

    def __init__(self, crls: Iterable[bytes] = ()) -> None:
        self._preloaded: dict[str, bytes] = {}
        self._fetched: dict[str, tuple[bytes, CRLIndex]] = {}
        self._verified: dict[tuple[str, str], CRLIndex | None] = {}
        self._lock = threading.Lock()
        #: Incremented by :meth:`add`; cached CA results of another version are stale.
        self.version = 0
        for der in crls:
            self.add(der)

    def add(self, der: bytes) -> None:
        """Provide one more CA CRL (e.g. a newer ARL)."""
        with self._lock:
            self._preloaded[hashlib.sha256(der).hexdigest()] = der
            self.version += 1

    def _verify(self, der: bytes, issuer: TaiwanCertificate) -> CRLIndex | None:
        key = (hashlib.sha256(der).hexdigest(), issuer.sha256)
        if key not in self._verified:
            if len(self._verified) >= _VERIFIED_KEPT:  # fetched CRLs come and go: stay bounded
                self._verified.clear()
            try:
                self._verified[key] = CRLIndex.from_der(der, issuer=issuer)
            except RevocationDataError:
                self._verified[key] = None
        return self._verified[key]

    def collect(
        self,
        trust: TrustStore,
        ca: TrustedCA,
        now: dt.datetime,
        *,
        max_age: dt.timedelta,
        fetch_from: CRLCache | None = None,
    ) -> CACRLs:
        """CRLs for every CA certificate on every candidate path from ``ca`` up to an anchor.

        :param fetch_from: download missing ones with this cache's fetcher and limits (None:
            preloaded only, no network).
        """
        found: list[tuple[bytes, dt.datetime]] = []
        failures: list[str] = []
        seen: set[str] = set()
        todo = [ca]
        with self._lock:
            while todo:
                current = todo.pop()
                cert = current.certificate
                if current.is_anchor or cert.sha256 in seen:
                    continue
                seen.add(cert.sha256)
                issuers = [
                    i
                    for i in trust.by_key_identifier(cert.authority_key_identifier)
                    if i.certificate.subject_der == cert.issuer_der
                ]
                todo.extend(issuers)
                usable = self._preloaded_for(issuers, now, max_age)
                if not usable and fetch_from is not None:
                    usable = self._fetch_for(cert, issuers, now, max_age, fetch_from, failures)
                if not usable:
                    failures.append(
                        f"no fresh CRL of the issuer of CA certificate {cert.sha256[:16]}…"
                        + ("" if fetch_from is not None else " (fetch_on_demand=False: not downloaded)")
                    )
                found.extend(usable)
        expiries = [expiry for _, expiry in found]
        return CACRLs(
            tuple(dict.fromkeys(der for der, _ in found)),
            min(expiries) if expiries else None,
            tuple(failures),
        )

    def _preloaded_for(
        self, issuers: list[TrustedCA], now: dt.datetime, max_age: dt.timedelta
    ) -> list[tuple[bytes, dt.datetime]]:
        usable = []
        for der in self._preloaded.values():
            for issuer in issuers:
                index = self._verify(der, issuer.certificate)
                if index is not None and _fresh(index, now, max_age):
                    usable.append((der, crl_expiry(index, max_age)))
                    break
        return usable

    def _fetch_for(
        self,
        cert: TaiwanCertificate,
        issuers: list[TrustedCA],
        now: dt.datetime,
        max_age: dt.timedelta,
        cache: CRLCache,
        failures: list[str],
    ) -> list[tuple[bytes, dt.datetime]]:
        for url in cert.crl_urls:
            held = self._fetched.get(url)
            if held is not None and _fresh(held[1], now, max_age):
                return [(held[0], crl_expiry(held[1], max_age))]
            try:
                der = cache.fetcher.get(url, timeout=cache.timeout, max_bytes=cache.max_bytes).body
            except FetchError as exc:
                failures.append(f"CA CRL {url}: {exc}")
                continue
            for issuer in issuers:
                index = self._verify(der, issuer.certificate)
                if index is not None and _fresh(index, now, max_age):
                    self._fetched[url] = (der, index)
                    return [(der, crl_expiry(index, max_age))]
            failures.append(f"CA CRL {url}: not a fresh CRL of the CA's issuer")
        return []

"""Answer "is this certificate revoked?" from the configured sources, fastest first.

Local answers come first (a fresh indexed CRL, a cached OCSP response): they cost a dict
lookup and a binary search. Then the network, in the order of :class:`RevocationSources`:
OCSP to the certificate's AIA (or a designated) responder, and CRLs from the certificate's
distribution points in order — the partition CRL first, then the complete CRL.
"""

from __future__ import annotations

import datetime as dt
import logging

from ..certificate import TaiwanCertificate
from ..errors import RevocationDataError
from .crl_cache import CRLCache
from .crl_index import CRLIndex
from .http import FetchError
from .ocsp import OCSPClient
from .policy import RevocationSources, RevocationState, RevocationStatus

__all__ = ["RevocationChecker"]

logger = logging.getLogger(__name__)


class RevocationChecker:
    """Combine a :class:`CRLCache` and an :class:`OCSPClient` per :class:`RevocationSources`.

    :param fetch_on_demand: when no local answer exists, download during the check. With
        ``False`` the check answers UNKNOWN at once and the app keeps CRLs fresh in the
        background (:meth:`CRLCache.start_background_refresh`) — no login ever waits.
    """

    def __init__(
        self,
        *,
        crls: CRLCache | None = None,
        ocsp: OCSPClient | None = None,
        sources: RevocationSources = RevocationSources.CRL_THEN_OCSP,
        fetch_on_demand: bool = True,
    ) -> None:
        self.crls = crls if crls is not None else CRLCache()
        self.ocsp = ocsp if ocsp is not None else OCSPClient()
        self.sources = sources
        self.fetch_on_demand = fetch_on_demand

    def _crl_answer(
        self, index: CRLIndex, url: str, cert: TaiwanCertificate, at: dt.datetime
    ) -> RevocationStatus:
        entry = index.lookup(cert.serial_number)
        revoked = entry is not None and entry.is_revoked
        return RevocationStatus(
            RevocationState.REVOKED if revoked else RevocationState.GOOD,
            "crl",
            url=url,
            checked_at=at,
            this_update=index.this_update,
            next_update=index.next_update,
            revoked_at=entry.revoked_at if revoked and entry is not None else None,
            reason=entry.reason if revoked and entry is not None else None,
        )

    def local(
        self, cert: TaiwanCertificate, issuer: TaiwanCertificate, at: dt.datetime
    ) -> RevocationStatus | None:
        """An answer from memory only (no network), or None."""
        order = self.sources.order
        for source in order:
            if source == "crl":
                for url in cert.crl_urls:
                    index = self.crls.get(url, issuer.subject_key_identifier, at)
                    if index is not None and index.covers(cert):
                        return self._crl_answer(index, url, cert, at)
            elif source == "ocsp":
                cached = self.ocsp.cached(cert, issuer, at)
                if cached is not None:
                    return cached
        return None

    def check(self, cert: TaiwanCertificate, issuer: TaiwanCertificate, at: dt.datetime) -> RevocationStatus:
        """GOOD or REVOKED from the first source that can answer; UNKNOWN (with every source's
        failure) if none can."""
        local = self.local(cert, issuer, at)
        if local is not None:
            return local
        if not self.fetch_on_demand:
            return RevocationStatus(
                RevocationState.UNKNOWN,
                checked_at=at,
                failures=("no fresh CRL or OCSP response cached (fetch_on_demand=False)",),
            )
        failures: list[str] = []
        for source in self.sources.order:
            if source == "ocsp":
                status = self.ocsp.check(cert, issuer, at)
                if status.state is not RevocationState.UNKNOWN:
                    return status
                failures.extend(status.failures)
            else:
                if not cert.crl_urls:
                    failures.append("certificate has no CRL distribution point")
                for url in cert.crl_urls:
                    try:
                        index = self.crls.fetch(url, issuer, at)
                    except (FetchError, RevocationDataError) as exc:
                        failures.append(f"CRL {url}: {exc}")
                        continue
                    if not index.is_fresh(at, skew=self.crls.skew):
                        failures.append(f"CRL {url}: stale (nextUpdate {index.next_update})")
                        continue
                    if not index.covers(cert):
                        failures.append(f"CRL {url}: its scope does not cover the certificate")
                        continue
                    return self._crl_answer(index, url, cert, at)
        logger.warning("no revocation answer for serial %x: %s", cert.serial_number, "; ".join(failures))
        return RevocationStatus(RevocationState.UNKNOWN, checked_at=at, failures=tuple(failures))

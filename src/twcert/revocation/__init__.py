"""Certificate revocation: verified CRL indexes, CRL fetching and caching, OCSP, the policy.

* :class:`CRLIndex` — a CRL verified against its issuer and indexed for O(log n) lookups in a
  compact structure (a million entries in tens of MiB), optionally shared between processes.
* :class:`CRLCache` — CRLs by distribution-point URL: preload, fetch, background refresh.
* :class:`OCSPClient` — OCSP requests with nonces; responses verified (signer, freshness).
* :class:`CARevocation` — CRLs for the CA certificates of a path (GRCA ARLs), preloaded or fetched.
* :class:`RevocationChecker` — asks those sources in the configured order.
* :class:`RevocationPolicy` — HARD_FAIL (default), SOFT_FAIL or OFF.
"""

from __future__ import annotations

from .ca_revocation import CARevocation as CARevocation
from .checker import RevocationChecker as RevocationChecker
from .crl_cache import BackgroundRefresher as BackgroundRefresher
from .crl_cache import CRLCache as CRLCache
from .crl_index import CRLIndex as CRLIndex
from .crl_index import CRLMetadata as CRLMetadata
from .crl_index import RevokedEntry as RevokedEntry
from .http import Fetcher as Fetcher
from .http import FetchError as FetchError
from .http import HttpResponse as HttpResponse
from .http import UrllibFetcher as UrllibFetcher
from .ocsp import OCSPClient as OCSPClient
from .ocsp import OCSPError as OCSPError
from .policy import RevocationPolicy as RevocationPolicy
from .policy import RevocationSources as RevocationSources
from .policy import RevocationState as RevocationState
from .policy import RevocationStatus as RevocationStatus

__all__ = [
    "BackgroundRefresher",
    "CARevocation",
    "CRLCache",
    "CRLIndex",
    "CRLMetadata",
    "FetchError",
    "Fetcher",
    "HttpResponse",
    "OCSPClient",
    "OCSPError",
    "RevocationChecker",
    "RevocationPolicy",
    "RevocationSources",
    "RevocationState",
    "RevocationStatus",
    "RevokedEntry",
    "UrllibFetcher",
]

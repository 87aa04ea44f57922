"""twcert — smart-card certificate login for Taiwan government web apps.

Citizen cards (自然人憑證, MOICA) and agency cards (機關憑證, GCA) under the Government Root CA
(GRCA): parse, validate (chain, expiry, usage, test CAs, CRL/OCSP), verify the signed login
challenge, and apply the login rules of the 事求人機關徵才系統 manual.
"""

from __future__ import annotations

import logging
import typing as _typing

from . import errors as errors
from . import idnumber as idnumber
from . import oids as oids
from . import revocation as revocation
from .agency import Agency as Agency
from .agency import AgencyResolver as AgencyResolver
from .agency import MemoryAgencyDirectory as MemoryAgencyDirectory
from .audit import AuditEvent as AuditEvent
from .audit import LoggingAuditSink as LoggingAuditSink
from .audit import MemoryAuditSink as MemoryAuditSink
from .binding import MemoryBindingStore as MemoryBindingStore
from .binding import unbind_account as unbind_account
from .certificate import CAFamily as CAFamily
from .certificate import CertificateUsage as CertificateUsage
from .certificate import HolderKind as HolderKind
from .certificate import IssuerInfo as IssuerInfo
from .certificate import TaiwanCertificate as TaiwanCertificate
from .certificate import load_certificate as load_certificate
from .certificate import load_certificates as load_certificates
from .errors import CertificateParseError as CertificateParseError
from .errors import TwcertError as TwcertError
from .login import LoginPolicy as LoginPolicy
from .login import LoginService as LoginService
from .login import LoginStores as LoginStores
from .login import Principal as Principal
from .login import SignedChallenge as SignedChallenge
from .personnel import MemoryPersonnelDirectory as MemoryPersonnelDirectory
from .personnel import Person as Person
from .pin import PinRecord as PinRecord
from .revocation import RevocationPolicy as RevocationPolicy
from .revocation import RevocationSources as RevocationSources
from .trust import TrustedCA as TrustedCA
from .trust import TrustStore as TrustStore
from .validation import ValidationPolicy as ValidationPolicy
from .validation import ValidationResult as ValidationResult
from .validation import Validator as Validator

__version__ = "0.1.0"

__all__ = [
    "Agency",
    "AgencyResolver",
    "AuditEvent",
    "CAFamily",
    "CertificateParseError",
    "CertificateUsage",
    "HolderKind",
    "IssuerInfo",
    "LoggingAuditSink",
    "LoginPolicy",
    "LoginService",
    "LoginStores",
    "MemoryAgencyDirectory",
    "MemoryAuditSink",
    "MemoryBindingStore",
    "MemoryPersonnelDirectory",
    "Person",
    "PinRecord",
    "Principal",
    "RevocationPolicy",
    "RevocationSources",
    "SignedChallenge",
    "TaiwanCertificate",
    "TrustStore",
    "TrustedCA",
    "TwcertError",
    "ValidationPolicy",
    "ValidationResult",
    "Validator",
    "__version__",
    "errors",
    "idnumber",
    "load_certificate",
    "load_certificates",
    "oids",
    "revocation",
    "unbind_account",
]

if _typing.TYPE_CHECKING:
    from .stores.sql import SqlStores as SqlStores


def __getattr__(name: str) -> _typing.Any:
    # SqlStores needs the optional SQLAlchemy ([sql] extra): imported on first use, so that
    # `from twcert import SqlStores` works where it is installed and `import twcert` everywhere.
    if name == "SqlStores":
        from .stores.sql import SqlStores

        return SqlStores
    raise AttributeError(f"module 'twcert' has no attribute {name!r}")


# Library logging rule: never configure handlers; let the host app decide.
logging.getLogger("twcert").addHandler(logging.NullHandler())

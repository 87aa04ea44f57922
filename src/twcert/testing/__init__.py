"""Test kit shipped with twcert: a fake GPKI mirroring the real profiles, CRL and OCSP builders.

Host apps use it to test their login pages without real cards::

    from twcert.testing import FakeGPKI
    pki = FakeGPKI()
    card = pki.issue_citizen_card("王小明", "A123456789")
    trust = pki.trust_store()
"""

from __future__ import annotations

from .pki import DEFAULT_NOW as DEFAULT_NOW
from .pki import CardCertificates as CardCertificates
from .pki import FakeCA as FakeCA
from .pki import FakeGPKI as FakeGPKI
from .pki import Issued as Issued
from .pki import KeyPool as KeyPool
from .pki import subject_directory_attributes as subject_directory_attributes
from .revocation import Revoked as Revoked
from .revocation import build_crl as build_crl
from .revocation import build_ocsp_response as build_ocsp_response
from .revocation import random_serials as random_serials

__all__ = [
    "DEFAULT_NOW",
    "CardCertificates",
    "FakeCA",
    "FakeGPKI",
    "Issued",
    "KeyPool",
    "Revoked",
    "build_crl",
    "build_ocsp_response",
    "random_serials",
    "subject_directory_attributes",
]

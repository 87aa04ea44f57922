"""Test kit shipped with twcert: a fake GPKI mirroring the real profiles, CRL and OCSP builders,
HiPKI answers, and an opt-in pytest plugin (``twcert.testing.pytest_plugin``).

Host apps use it to test their login pages without real cards::

    from twcert.testing import FreshPKI
    pki = FreshPKI()                       # valid on the real clock, CRLs fresh for 10 years
    card = pki.citizen_card("王小明", "A123456789", account="wang.xm")
    service = pki.login_service()          # or pki.validator()

See docs/testing.md.
"""

from __future__ import annotations

from .clients import django_card_login as django_card_login
from .clients import flask_card_login as flask_card_login
from .hipki import cancelled_response as cancelled_response
from .hipki import failure_response as failure_response
from .hipki import locked_response as locked_response
from .hipki import no_card_response as no_card_response
from .hipki import no_pin_response as no_pin_response
from .hipki import no_reader_response as no_reader_response
from .hipki import sign_response as sign_response
from .hipki import wrong_pin_response as wrong_pin_response
from .kit import DEFAULT_CRL_LIFETIME as DEFAULT_CRL_LIFETIME
from .kit import FakeCard as FakeCard
from .kit import FreshPKI as FreshPKI
from .kit import PKIFiles as PKIFiles
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
    "DEFAULT_CRL_LIFETIME",
    "DEFAULT_NOW",
    "CardCertificates",
    "FakeCA",
    "FakeCard",
    "FakeGPKI",
    "FreshPKI",
    "Issued",
    "KeyPool",
    "PKIFiles",
    "Revoked",
    "build_crl",
    "build_ocsp_response",
    "cancelled_response",
    "django_card_login",
    "failure_response",
    "flask_card_login",
    "locked_response",
    "no_card_response",
    "no_pin_response",
    "no_reader_response",
    "random_serials",
    "sign_response",
    "subject_directory_attributes",
    "wrong_pin_response",
]
